package rtmfp

// Handshake admission: what a startup datagram may make this endpoint send.
//
// A startup datagram (session ID 0, RFC 7016 §2.2.2) carries no proof of
// its source address, and an RHello (§2.3.4) is larger than the smallest
// IHello that asks for it: a responder that answered everything would
// reflect a spoofed flood at its victims, amplified (8.2 times in bytes for
// a minimal 20-byte IHello). The address is proven only when an IIKeying
// comes back from it with the cookie the RHello carried (§3.5.1.2, the
// cookie binds the address it was minted for). Admission therefore has
// three parts:
//
//   - Per address (Config.StartupRate and StartupBurst): answers to one IP
//     address that has not proven itself (RHello, Redirect, Cookie Change)
//     take a token from its bucket. A valid IIKeying refunds the token its
//     RHello took, and the RIKeying (§3.5.1.3) takes none: a crowd behind
//     one address (a carrier NAT, an office) connects as fast as the server
//     can key, while a spoofed victim receives at most the burst and then
//     StartupRate answers per second.
//   - Over all sources (amplificationFactor, amplificationCredit): every
//     startup datagram that asks for an answer (an IHello, an IIKeying
//     whose cookie was minted for another address) earns three times its
//     size in credit, and answers to unproven addresses spend it
//     (ratelimit.Budget); a proven IIKeying gives back what its RHello
//     cost. Over a flood of any shape the server thus sends at most three
//     times what it received, plus the credit it holds (QUIC's bound for
//     unvalidated addresses, RFC 9000 §8.1). A quiet server has full
//     credit and answers freely, even clients whose IHello is much smaller
//     than the RHello (librtmfp sends only the application path: 36 bytes
//     for 180). Under pressure the answers that amplify most are shed
//     first: an IHello that pays for its RHello is always answered, and
//     one that almost does is answered before a minimal one, so honest
//     clients keep connecting from other addresses during a flood. A flood
//     that copies an honest client's IHello is answered in proportion,
//     honest IHellos of that shape included.
//   - Per datagram: only the first IHello or IIKeying chunk of a datagram
//     is answered, so packing chunks into one datagram buys nothing.
//
// A Forwarded IHello (§3.5.1.5) comes over a session with an introducer,
// which limits what it forwards to each of its clients; the RHello it asks
// for takes a per-address token but no budget credit.

// answerKind selects the admission checks of a startup packet.
type answerKind uint8

const (
	// answerOwn: this endpoint's own IHello or IIKeying as initiator.
	answerOwn answerKind = iota
	// answerForwarded: an RHello to the reply address of a Forwarded
	// IHello; per-address limit.
	answerForwarded
	// answerUnproven: an answer to a startup datagram from an address not
	// yet proven; per-address limit and the amplification budget.
	answerUnproven
)

const (
	// amplificationFactor is the bytes an answer to unproven addresses may
	// total per byte of startup datagrams received (RFC 9000 §8.1's 3).
	amplificationFactor = 3
	// amplificationCredit caps the credit: the most the server may send
	// beyond amplificationFactor times what it received, about a hundred
	// RHellos.
	amplificationCredit = 16 << 10
)
