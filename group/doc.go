// Package group implements the NetGroup layer of the Flash profile of RTMFP
// (RFC 7425 leaves NetGroup undocumented; the layouts here follow the public
// implementations that interoperate with Flash, chiefly librtmfp, and were
// checked against recorded traffic in testdata/rtmfp-traces).
//
// It holds pure data and codecs, no networking:
//
//   - GroupSpecifier strings ("G:" + hex option list) and their parts: the
//     hashed text, the group ID (SHA-256 once or twice), IP multicast
//     addresses, and a builder that writes specs the way AS3
//     GroupSpecifier.toString() does.
//   - Peer identities on the group ring: raw peer IDs (21 0F ‖ peer ID, the
//     RFC 7425 §4.4.2 endpoint discriminator option), group addresses
//     (SHA-256 of the raw peer ID), ring order and distance, the estimated
//     member count and the neighbour "best list".
//   - The messages of the GC flow between a member and the server, and of
//     the GR 1C flow between two members: join, member introduction, group
//     init with its HMAC group key, begin, ask-close and the group report.
//
// NetGroup messages carry no TC header (RFC 7425 §5.1.1 applies to "TC"
// flows only): the first byte is the message type.
//
// Decoders never panic, never trust a length and allocate only what the
// input actually contains. Decoded values alias the input buffer.
package group
