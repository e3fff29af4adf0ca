// Package flash implements the Flash Communication cryptography profile of
// RFC 7425 §4 for the rtmfp engine (RFC 7016 §2.2), byte-compatible with
// Flash Player, librtmfp, MonaServer and rtmfp-cpp.
//
// Packets (RFC 7425 §4.1, §4.6): AES-128-CBC with a zero IV for every
// packet, 0xFF padding, and a 16-bit Internet checksum or, when negotiated,
// a truncated HMAC-SHA256 of the ciphertext and session sequence numbers.
// Startup packets use the key "Adobe Systems 02".
//
// Identities (RFC 7425 §4.3, §4.4): an endpoint has a long-lived group-2
// Diffie-Hellman key; its certificate is the single option
// 81 02 1D 02 <public key> and its peer ID is the SHA-256 of that
// certificate. As a server it answers IHellos with the 77-byte certificate
// Cumulus and MonaServer send (ephemeral DH in groups 2, 5 and 14), and it
// answers an IHello naming its own peer ID with the static certificate, as a
// Flash peer does. Endpoint discriminators carry a hostname (0x00),
// ancillary data such as the connection URL (0x0A) or a peer ID (0x0F).
//
// Key agreement (RFC 7425 §4.2, §4.6): the responder computes the shared
// secret K from the initiator's static certificate key and either a fresh
// ephemeral key (server) or its own static key (peer). The packet keys are
//
//	initiator→responder = HMAC-SHA256(K, HMAC-SHA256(SKRC, SKIC))[0:16]
//	responder→initiator = HMAC-SHA256(K, HMAC-SHA256(SKIC, SKRC))[0:16]
//
// with the session nonces HMAC-SHA256(K, component) and, when HMAC is
// negotiated, the HMAC keys HMAC-SHA256(K, full 32-byte key output). Config
// documents how HMAC and sequence numbers are negotiated.
//
// DH uses math/big with short private exponents by default (RFC 3526 §8);
// peer public keys must satisfy 1 < y < p−1.
package flash
