// Package multicast implements NetGroup peer-to-peer multicast, the
// application-level multicast Flash uses for NetStream over a NetGroup
// (RFC 7425 does not describe it; the layouts and behaviour follow
// librtmfp, which interoperates with Flash, and were checked against the
// recorded c_netgroup traffic in testdata/rtmfp-traces): the wire codecs,
// the fragmenter and reassembler, and the engine that runs a stream on
// one group member (Node).
//
// # Wire
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
// Reassembler rebuilds them in order with bounded memory. Decoders never
// panic, never trust a length and do not allocate in proportion to
// declared sizes; decoded values alias the input.
//
// # Engine
//
// A Node is one stream on one member: the publisher (NodeConfig.Publisher,
// fed by Publish) or a player that reassembles and relays. It does no I/O,
// starts no goroutine and reads no clock: the caller passes the time to
// every call, delivers the neighbours' messages (HandleMessage for GR 11,
// HandleFragment for GR 12, IngestFragment for fragments from a server or
// IP multicast), calls Tick at NextDeadline, and implements Transport,
// through which the node sends (non-blocking; drops are repaired). The
// parameters are Flash's (Config; rtmfp-facts §7.7), clamped into ranges
// (Config.Clamp); the statistics are NetStreamMulticastInfo's (Stats;
// §7.8) plus the engine's counters.
//
// Behaviour, after librtmfp GroupMedia/PeerMedia unless noted:
//
//   - Fragments stay in the buffer for Window + RelayMargin; a player
//     ignores fragments known for longer than Window and gives up on
//     missing ones once they have been known that long (FragmentsLost).
//   - Every UpdatePeriod a fragments map goes to one subscribed neighbour
//     in turn, or to all with SendToAll; not twice the same to the same
//     neighbour.
//   - Push: a neighbour's Push mask asks for every new fragment whose
//     ID % 8 is in the mask; each fragment goes to at most
//     PushNeighborLimit requesters of its bit (oldest request first), never
//     back to where it came from. A player asks one more neighbour for one
//     more bit every PushPeriod, keeps the faster of two pushers of a bit,
//     and (an addition to librtmfp) replaces at once pushers that bring
//     nothing or bring fragments late, and does not ask again for a while
//     neighbours that did not serve.
//   - Pull: a fragment known for FetchPeriod and still missing is pulled
//     from a neighbour whose map shows it, in turn; pulls are checked every
//     PullPeriod; the first pull asks for the two newest fragments. An
//     unanswered pull goes to another neighbour after three round trips of
//     that neighbour (librtmfp: after FetchPeriod; FetchPeriod remains the
//     ceiling, Limits.MinPullTimeout the floor).
//   - "Known" means the node's horizon: the highest fragment ID the group
//     credibly has, taken from trusted sources (its own publication, a
//     server, IP multicast) or from the neighbours' claims (maps and
//     fragments) as the claim an eighth of them reach, so a few liars
//     cannot drag it forward. Claims and fragments far beyond it are
//     refused (MapsForged, FragmentsBeyondHorizon). A horizon that turns out
//     far above what the neighbours claim or send (liars spoke first) is
//     dropped and rebuilt (Resyncs). A player that only hears liars before
//     any honest neighbour cannot tell; it recovers once honest claims or
//     data outweigh them, unless the liars also forge fragments ahead of
//     the publisher and honest neighbours relay them before recovering.
//   - Report messages that matter once (stream info, end of stream) are
//     repeated, since the transport may drop them; a lost push mask is
//     detected (unasked pushes) and sent again.
//
// Every per-node and per-neighbour structure is bounded (Limits,
// MaxFragmentsMapBytes); package mcsim simulates whole groups.
package multicast
