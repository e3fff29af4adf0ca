// Package ipmulticast is the native IP multicast transport of group
// NetStreams: what FMS 4 calls publishing to an IP multicast address
// (NetStream.setIPMulticastPublishAddress) and what a groupspec's IP
// multicast addresses (GroupSpecifier.addIPMulticastAddress, option 0x0A
// after the groupspec marker) tell members to receive on, alone or together
// with P2P multicast ("fusion").
//
// The package only moves opaque datagrams and handles addresses, sockets
// and filtering. What the datagrams carry (RTMFP-framed media fragments, by
// hypothesis; the wire format is not documented, see rtmfp-facts §8) and how
// they merge with the P2P multicast of RFC 7425 belong to package
// multicast.
//
// # Addresses
//
// [ParsePublishAddress] and [ParseGroupAddress] accept Flash's notations:
// "224.0.0.254", "224.0.0.254:30000", "ff03::ffff", "[ff03::ffff]:30000",
// with the port in the address or given separately, and for
// ParseGroupAddress a source-specific multicast (SSM, RFC 4607) source. The
// exact rules are in their documentation. Group addresses are IPv4
// 224.0.0.0/4 (RFC 5771) or IPv6 ff00::/8 with a scope other than the
// reserved 0 and f (RFC 4291 §2.7). [ParseGroupspecAddress] and
// [AppendGroupspecAddress] handle the binary value of the groupspec option.
//
// # Sending and receiving
//
// [Sender] and [Receiver] are built on golang.org/x/net/ipv4 and
// golang.org/x/net/ipv6 PacketConn, following that package's multicasting
// recipe: a receiver listens on the wildcard address at the group's port,
// joins the group on each chosen interface (JoinSourceSpecificGroup for
// SSM), asks for the destination address and arrival interface of each
// datagram (FlagDst|FlagInterface) and drops datagrams for other groups
// sharing the port, from other interfaces, or from senders other than the
// expected publisher, counting each kind. A sender sets its interface, TTL
// (hop limit) and loopback explicitly; the default TTL is 1 (link-local).
// Both use batched system calls (sendmmsg/recvmmsg) where the platform has
// them: on Linux; elsewhere one datagram per call.
//
// # Tests
//
// The tests send real multicast, so they run only inside a private network
// namespace whose one interface is lo (package internal/netns). TestMain
// re-executes the test binary there, so plain `go test ./ipmulticast/` and
// `go test -run=^$ -bench=. ./ipmulticast/` are isolated; they need root or
// unprivileged user namespaces, and fail (never skip) without them.
package ipmulticast
