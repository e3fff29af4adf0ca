// Package multicast implements the wire codecs and data structures of
// NetGroup peer-to-peer multicast, the application-level multicast Flash
// uses for NetStream over a NetGroup (RFC 7425 does not describe it; the
// layouts follow librtmfp, which interoperates with Flash, and were checked
// against the recorded c_netgroup traffic in testdata/rtmfp-traces).
//
// Two flows per stream and neighbour carry it, both without TC header:
//
//   - the "GR 11" media report flow: stream subscription / stream info
//     (0x21, StreamInfo, and its end form StreamEnd), fragments maps
//     (0x22, FragmentsMap), push requests (0x23, Push) and pull requests
//     (0x2B, Pull);
//   - the "GR 12" media flow: the fragments themselves (0x20 whole, 0x30
//     first, 0x10 next, 0x00 last; Fragment).
//
// The publisher numbers fragments with one 64-bit counter shared by audio,
// video and data; every member relays fragments under the publisher's IDs.
// Fragmenter cuts media.Messages into fragments the way librtmfp does;
// Reassembler rebuilds them in order with bounded memory. Neither does any
// I/O or starts goroutines; time-based decisions (window, fetch period) are
// the caller's, through Reassembler.GiveUp.
//
// Decoders never panic, never trust a length and do not allocate in
// proportion to declared sizes; decoded values alias the input.
package multicast
