// Package netgroup is a NetGroup member: the peer-to-peer side of RTMFP
// groups as Flash Player implements them on top of RFC 7016 with the Flash
// profile of RFC 7425 (which leaves NetGroup itself undocumented; the
// behaviour follows librtmfp, which interoperates with Flash, and was
// checked against the recorded c_netgroup trace).
//
// A Member joins one group on one rtmfp.Endpoint, for a Go client
// (ClientRendezvous: the server's GC flow and peer introductions) or for the
// server itself (ServerRendezvous: a local member of the introducer that
// others reach at the server's address by its peer ID).
//
// # Group handshake
//
// On each P2P session (RFC 7016 §3.5; peer-ID endpoint discriminator, RFC
// 7425 §4.4.2), the side that opened the session opens a flow with metadata
// "GR 1C" and no association and writes the group init (group ID in hex,
// the group key HMAC-SHA256(groupTxt, far nonce), the recipient's raw peer
// ID), then 02 and the group begin 0E. The other side checks group, peer ID
// and key (HMAC-SHA256(groupTxt, near nonce)) and answers the same way on
// its own GR 1C flow; a wrong init is refused with a flow exception.
// Then each side reports the peers it knows to the other (0A): on the
// first begin it receives, every ReportInterval to one random neighbour, and
// in answer to a report it did not ask for.
//
// # Topology
//
// Members sit on a ring ordered by group address (SHA-256 of the raw peer
// ID). The heard list holds the members known from the server and from
// reports (with their addresses, forgotten PeerTimeout after they were last
// heard of); the best list (group.BestList: ring neighbours, lowest
// latencies, one random member, fingers) is what the member connects to,
// directly at the addresses learned from reports or through the
// rendezvous. Neighbours beyond the best list are asked to disconnect (0C),
// each at most once per AskCloseInterval; a 0C is accepted, by refusing the
// asker's GR 1C flow, when this member has more neighbours than its best
// list and the asker is not in it.
//
// # Multicast seam
//
// The multicast engine sees neighbours through Handler and opens, per
// neighbour, "GR 11" flows associated with the neighbour's GR 1C flow
// (Neighbor.OpenReportFlow) and "GR 12" flows associated with a GR 11 flow of
// the neighbour (Neighbor.OpenMediaFlow); the neighbour's GR 11 and GR 12
// flows arrive at Handler.ReportFlow and Handler.MediaFlow.
//
// # Sessions
//
// An endpoint's P2P sessions carry the flows of every group two peers
// share, so one dispatcher per endpoint reads them and routes flows to the
// member of their group. The endpoint's owner gives it the sessions it
// accepts (HandleSession, or Serve for a client endpoint); sessions a
// member opens are registered by the member. A session no group uses is
// closed.
package netgroup
