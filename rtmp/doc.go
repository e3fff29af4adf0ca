// Package rtmp implements RTMP over TCP, both ends, as defined by Adobe's
// "Real-Time Messaging Protocol (RTMP) Specification" 1.0 (2012), with the
// digest handshake that Flash Player, Flash Media Encoder and Flash Media
// Server use in practice.
//
// The layers:
//
//   - the handshake (§5.2), plain or digest, in rtmp/internal/handshake;
//   - the chunk stream (§5.3), with every header type, extended timestamps
//     and hard limits on what a peer can make us hold, in
//     rtmp/internal/chunk;
//   - protocol control messages (§5.4: Set Chunk Size, Abort,
//     Acknowledgement, Window Acknowledgement Size, Set Peer Bandwidth) and
//     User Control messages (§6.2), handled by [Conn] itself: it acknowledges
//     what the peer's window requires, answers pings and applies the peer's
//     chunk size;
//   - RTMP messages (§6, §7.1): audio, video, data, aggregate (split into
//     their sub-messages, §7.1.6) and AMF commands (§7.1.1, §7.2), which
//     [Conn.ReadMessage] decodes into a [Command].
//
// Application logic — what "connect", "publish" or "play" mean for a server
// — is not here: a server accepts a [Conn] from a [Listener] and drives it,
// with helpers such as [Conn.AcceptConnect] and [Conn.WriteStatus] for the
// answers RTMP servers conventionally give. [Dial] returns a [Client] that
// connects, publishes and plays like ffmpeg's RTMP client.
//
// Every blocking read and write is bounded by a deadline (see [Config]); a
// read that waits long sends pings, so that quiet peers that answer them
// (players) stay connected while dead ones time out. Every quantity a peer
// controls — message length, chunk size, chunk streams, incomplete
// messages, reassembly memory — has a limit whose violation is an error.
package rtmp
