// Package simnet is an in-memory IP network carrying UDP datagrams, for
// testing without real sockets the RTMFP transport (RFC 7016, which runs
// over UDP), the introducer's redirection and NAT traversal (RFC 7016
// startup with redirector and forwarder; RFC 7425 for the Flash profile)
// and P2P multicast with many peers. NAT behaviour follows the terms of
// RFC 4787.
//
// # Topology
//
// A [Network] holds hosts ([Host]) with IPv4 and/or IPv6 addresses, and
// NATs ([NAT]). The public internet and the LAN behind each NAT are
// realms: two nodes of a realm reach each other directly, by address. A
// datagram from host A to host B of the same realm crosses three links,
// each a [LinkConfig] and perfect when zero:
//
//	A's uplink → core path A→B → B's downlink
//
// Set access links with Host.SetUplink / SetDownlink / SetAccessLink, core
// paths with Network.SetPath (or the realm default: Config.Link,
// Network.SetDefaultLink, NATConfig.LANLink). A link has one-way delay,
// jitter, loss, duplication, reordering, a bandwidth limit with a
// drop-tail queue, and an MTU; its configuration may change at any time.
//
// # NAT
//
// A datagram leaving a NAT's LAN is translated per the NAT's type
// ([FullCone], [AddressRestricted], [PortRestricted], [Symmetric]; RFC
// 4787 §4.1 mapping, §5 filtering) and goes on from the NAT's node in the outer realm; one
// arriving at the NAT's public address is filtered and translated back.
// Mappings expire after NATConfig.MappingTimeout without outbound traffic.
// Hairpinning (RFC 4787 §6) is off unless NATConfig.Hairpin is set. Hosts in one LAN talk
// through their private addresses. NATs may be nested.
//
// # Sockets
//
// [Conn] implements net.PacketConn and the allocation-free netip methods
// of *net.UDPConn (ReadFromUDPAddrPort, WriteToUDPAddrPort). Writes never
// block; reads block on channels until a datagram, the deadline or Close.
// Each socket has a bounded receive queue (Config.RecvQueue); a datagram
// arriving when it is full is dropped and counted.
//
// # Filters, randomness, time
//
// Network.AddFilter installs a [Filter] that sees every datagram as sent
// ([StageSend]) or as about to be received ([StageDeliver]) and may count,
// log, change or drop it. [Stats] and [ConnStats] count datagrams sent,
// delivered and dropped by [DropReason].
//
// All random choices come from PCG streams seeded by Config.Seed, one per
// link direction, so a run is reproducible as long as each link sees its
// datagrams in the same order.
//
// Delays use the time package (one time.AfterFunc timer for the whole
// network), and reads wait on channels, so the network works in real time
// and inside a testing/synctest bubble, where delays then take no real
// time and are exact. Create the Network inside the bubble. Close stops
// the timer and closes all sockets, leaving no goroutine behind.
//
// # Helpers
//
// [Pair], [Star] and [BehindNATs] build the usual test setups and close the
// network when the test ends.
package simnet
