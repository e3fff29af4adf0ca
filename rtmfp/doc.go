// Package rtmfp implements the Secure Real-Time Media Flow Protocol (RFC
// 7016): endpoints on one datagram socket each, the handshake in both roles
// (§3.5.1), sessions and their flows (§3.6), acknowledgements, congestion
// control and the introduction hooks (§3.5.1.1, §3.5.1.5) that an
// introducer needs. The cryptography is a profile.Profile (RFC 7425's Flash
// profile in package flash).
//
// # How an endpoint runs its sessions
//
// A session has no goroutine and no runtime timer of its own, so an idle
// one costs a few kilobytes of memory and nothing else:
//
//   - One receive goroutine reads datagrams in batches (recvmmsg) and
//     demultiplexes them by session ID. It runs the sessions it delivered
//     datagrams to itself, after the batch, and runs a few of the batch's
//     key agreements too (more go to the keying workers).
//   - A few workers (Config.Workers) run the sessions that got work from
//     elsewhere: an application writing to a flow, a deadline.
//   - One timer wheel holds every session's next deadline (retransmission,
//     acknowledgement delay, keepalive, idle timeout), with a single runtime
//     timer for the earliest.
//   - Whoever runs a session collects what it sends, for any number of
//     sessions, into one batch sent with sendmmsg (UDP GSO merging the
//     datagrams to one address where the kernel has it), made as raw system
//     calls on the non-blocking socket.
//
// A session is owned by one goroutine at a time (Session.schedule).
//
// # Pacing
//
// On a busy endpoint the cost is not in the arithmetic but in waking
// goroutines: each wake-up of a thread that waits is a context switch, and
// on a virtual machine those cost more than the datagrams they serve. While
// datagrams keep arriving, the receive goroutine therefore waits a short
// window (Config.ReceivePace, 2 ms) after each batch, so that the next
// recvmmsg takes all that came meanwhile, and during that time it is the
// endpoint's worker and timer too: sessions that get work wait for it
// rather than wake a worker, and the timer wheel is run after each batch
// rather than by its runtime timer. A datagram, an application write or a
// deadline then waits at most one window. When a window brings nothing the
// workers and the runtime timer take over again, so a quiet endpoint wakes
// only when something arrives.
package rtmfp
