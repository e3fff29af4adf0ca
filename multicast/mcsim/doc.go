// Package mcsim simulates a NetGroup P2P multicast: one publisher and N
// players, each a multicast.Node, on a mesh of links with per-link delay
// and loss and optional upload limits, in virtual time driven by a
// discrete-event loop. Runs are deterministic for a given Config (one
// seed drives the topology, the delays, the losses, the media and every
// node's random choices). It measures what the multicast engine's
// acceptance criteria talk about: delivery within the window, fragment
// latency, and the publisher's upload.
package mcsim
