// Package mcsim simulates a NetGroup P2P multicast: one publisher and N
// players, each a multicast.Node, on a mesh of links with per-link delay
// and loss and optional upload limits, in virtual time driven by a
// discrete-event loop. Runs are deterministic for a given Config (one seed
// drives the topology, the delays, the losses, the media and every node's
// random choices).
//
// The topology approximates a NetGroup: each peer linked to its two ring
// neighbours and random others up to 2·log2(N)+13 links (fewer for small
// groups), the publisher to a handful of peers. The media is a synthetic
// 1 Mbit/s stream (25 fps video with a key frame every 2 s, AAC audio,
// metadata and sequence headers). Loss applies per message: either the
// message is gone (Retransmit false: an unreliable flow, or a transport
// dropping under back-pressure, so only the engine's pulls repair it) or
// it is sent again after an RTO on an ordered flow (Retransmit true, like
// RTMFP's reliable flows). Forgers and silent peers exercise the engine's
// defences.
//
// Peers can also be models of librtmfp members (Config.Librtmfp; see
// libPlayer): librtmfp's player logic as its source has it and TestClient
// runs showed it (interop/netgroup-load.sh), against which the publisher's
// start and end of stream are tested. Engine peers can be tuned unlike
// the publisher (Config.PeerConfig), key frames made large
// (Stream.KeyBytes).
//
// Result gives what the engine's acceptance criteria talk about: delivery
// within the window per peer (from its first delivery, and from the first
// key frame published after it joined), fragment latency from publication
// to delivery, and the publisher's upload relative to the stream.
package mcsim
