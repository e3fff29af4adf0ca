package introducer

import (
	"net/netip"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// maxAddresses caps the addresses put in one Redirect (and the Forwarded
// IHellos sent for one IHello).
const maxAddresses = 8

// Hook returns the function to put in rtmfp.Config.OnIntroduction of an
// endpoint. ep must point at that endpoint once it exists (the hook runs
// only after the endpoint has started).
func (in *Introducer) Hook(ep **rtmfp.Endpoint) func(rtmfp.Introduction) {
	return func(req rtmfp.Introduction) { in.Introduce(*ep, req) }
}

// Introduce answers an IHello for another peer that reached ep.
func (in *Introducer) Introduce(ep *rtmfp.Endpoint, req rtmfp.Introduction) {
	now := time.Now()
	if !in.limiter.Allow(req.From.Addr(), now) {
		in.stats.rateLimited.Add(1)
		return
	}
	in.mu.Lock()
	target := in.peers[req.Target]
	if target != nil && in.cfg.RequirePeerInfo && len(target.conn.PeerAddresses()) == 0 {
		target = nil
	}
	initiator := in.byAddr[req.From]
	in.mu.Unlock()
	// The initiator's addresses: the observed one first.
	from := []wire.Address{{AddrPort: req.From, Origin: wire.OriginObserved}}
	if initiator != nil && initiator.conn != nil {
		from = appendReported(from, initiator.conn.PeerAddresses(), req.From)
	}
	if target == nil {
		// A peer of another node: that node forwards, this one redirects.
		if in.cluster != nil && in.remoteIntroduce(func(to []wire.Address) bool { return ep.Redirect(req, to) }, req.Target, req.EPD, req.Tag, from) {
			in.log.Debug("introduction", "remote", req.From, "peerID", req.Target.String(), "node", "remote")
			return
		}
		in.stats.unknownTarget.Add(1)
		in.mu.Lock()
		_, repeated := in.unknown[string(req.Tag)]
		in.unknown[string(req.Tag)] = now
		in.sweepUnknown(now)
		in.mu.Unlock()
		if repeated && in.cfg.DeadPeerRedirect {
			// MonaServer2's "dead peer" answer: the wildcard address.
			if ep.Redirect(req, []wire.Address{{AddrPort: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)}}) {
				in.stats.redirects.Add(1)
			}
		}
		return
	}
	in.forward(target, req.EPD, req.Tag, from, now)
	// Redirect the initiator to the target's addresses.
	to := []wire.Address{{AddrPort: target.s.RemoteAddr(), Origin: wire.OriginObserved}}
	to = appendReported(to, target.conn.PeerAddresses(), target.s.RemoteAddr())
	if ep.Redirect(req, to) {
		in.stats.redirects.Add(1)
	}
	in.stats.introductions.Add(1)
	in.log.Debug("introduction", "remote", req.From, "peerID", req.Target.String(), "peerAddr", target.s.RemoteAddr(), "addresses", len(to))
}

// forward sends target one Forwarded IHello per address of the initiator,
// as many as the target's limit allows.
func (in *Introducer) forward(target *peer, epd, tag []byte, from []wire.Address, now time.Time) {
	for _, a := range from {
		if !in.forwards.Allow(target.id, now) {
			in.stats.forwardLimited.Add(1)
			break
		}
		if err := target.s.ForwardIHello(epd, a, tag); err == nil {
			in.stats.fihellos.Add(1)
		}
	}
}

// appendReported adds the addresses a peer announced with setPeerInfo
// ("ip:port", "[v6]:port") as reported addresses, without duplicates. An
// unspecified IP (librtmfp announces 0.0.0.0:port) is replaced by the
// peer's observed IP, as MonaServer2 replaces it with an address of the
// host.
func appendReported(list []wire.Address, announced []string, observed netip.AddrPort) []wire.Address {
	for _, s := range announced {
		if len(list) >= maxAddresses {
			break
		}
		ap, err := netip.ParseAddrPort(s)
		if err != nil || ap.Port() == 0 {
			continue
		}
		ip := ap.Addr().Unmap()
		if ip.IsUnspecified() {
			ip = observed.Addr()
		}
		if ip.IsMulticast() || ip.Is4() != observed.Addr().Is4() && ip.IsLoopback() {
			continue
		}
		ap = netip.AddrPortFrom(ip, ap.Port())
		dup := false
		for _, a := range list {
			if a.AddrPort == ap {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, wire.Address{AddrPort: ap, Origin: wire.OriginReported})
		}
	}
	return list
}
