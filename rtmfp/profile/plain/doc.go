// Package plain is a cryptography profile (RFC 7016 §2.2) without
// cryptography, for tests and fuzzing of the rtmfp engine.
//
// It has the shape of the Flash profile of RFC 7425 — endpoint
// discriminators with a hostname (0x00), ancillary data (0x0A) or a peer ID
// (0x0F); a static certificate whose SHA-256 is the peer ID; a server
// certificate for discriminators that do not name the peer ID; session key
// components exchanged in IIKeying and RIKeying — but nothing is encrypted.
// A packet is
//
//	check (4 bytes) ‖ body ‖ 0xFF padding up to 16 bytes in all
//
// where check is CRC-32C of everything after it, seeded with the 32-bit key
// of the direction. Corruption and packets sealed for another session (or
// for startup) are thus detected. Everything is deterministic: identities
// come from a name and components from a per-profile counter.
package plain
