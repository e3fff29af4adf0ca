package rtmfp

import "time"

// receivePacer paces the receive goroutine while datagrams keep arriving,
// so that one wake-up serves many of them.
//
// Waking a goroutine that waits for a socket costs far more than the
// receive system call it then makes: the netpoller's epoll_wait returns,
// the runtime's scheduler threads are woken (and its monitor thread with
// them), and on a virtual machine every one of those context switches is
// expensive. Under a load of small datagrams each wake-up would otherwise
// read one or two (a handshake's IHello, an acknowledgement) and then find
// the socket empty again. While traffic is steady the pacer instead waits
// a short window after each batch, letting the kernel queue what arrives
// in the meantime (the socket's receive buffer is 4 MiB), and the next
// recvmmsg takes all of it: fewer wake-ups, larger receive batches, and
// larger send batches from the sessions those datagrams ran. A datagram
// waits at most the window, and only while others keep arriving: a quiet
// socket is waited on as before, so an idle endpoint adds no wake-ups.
type receivePacer struct {
	window time.Duration // 0: no pacing
	last   time.Time     // when the previous batch was read
}

// next is told of each batch of n datagrams the receive goroutine read and
// handled, whether the receive had to wait for the first of them (the
// socket was empty when asked), and the time; it returns how long to wait
// before the next receive.
//
// The pace holds while a batch was already waiting when asked (the window
// brought something) or two batches came within one window, and ends when
// a receive finds the socket empty after a window: traffic has fallen
// below a datagram per window. A full batch (maxBatch) is followed at
// once.
func (p *receivePacer) next(n int, waited bool, now time.Time) time.Duration {
	if p.window <= 0 || n <= 0 {
		return 0
	}
	gap := now.Sub(p.last)
	p.last = now
	if n >= maxBatch || (waited && gap >= p.window) {
		return 0
	}
	return p.window
}
