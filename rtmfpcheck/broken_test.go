package rtmfpcheck

import (
	"bytes"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/rtmfpd/rtmfpd/internal/rawpkt"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// rewriteStartup installs a filter that rewrites the startup packets
// between the server and its clients: fn sees each chunk of a packet the
// server sends (fromServer) or receives, with the client's address, and
// returns the chunk to send instead (nil drops the chunk; a packet left
// without chunks is dropped).
func rewriteStartup(n *simnet.Network, server netip.AddrPort, fn func(fromServer bool, client netip.AddrPort, typ byte, v []byte) []byte) {
	n.AddFilter(simnet.StageSend, func(p *simnet.Packet) simnet.Verdict {
		fromServer := p.Src == server
		if !fromServer && p.Dst != server {
			return simnet.Pass
		}
		ssid, h, chunks, err := rawpkt.Open(rawpkt.StartupCodec(), p.Payload)
		if err != nil || h.Mode() != wire.ModeStartup {
			return simnet.Pass
		}
		client := p.Dst
		if !fromServer {
			client = p.Src
		}
		var out [][]byte
		cr := wire.NewChunkReader(chunks)
		for cr.Next() {
			if c := fn(fromServer, client, cr.Type(), bytes.Clone(cr.Value())); c != nil {
				out = append(out, c)
			}
		}
		if len(out) == 0 {
			return simnet.Drop
		}
		p.Payload = rawpkt.Seal(rawpkt.StartupCodec(), ssid, h, out...)
		return simnet.Pass
	})
}

// badCertificate is a server certificate offering group 14 only.
func badCertificate() []byte {
	c := vlu.AppendOption(nil, 0x0a, nil)
	c = vlu.AppendOption(c, 0x0e, make([]byte, 64))
	return vlu.AppendOption(c, 0x15, []byte{14})
}

// brokenHandshake describes one server broken on the wire of the
// handshake, and the checks that must fail against it.
type brokenHandshake struct {
	name   string
	run    string
	config serverConfig
	// rewrite, when set, rewrites the startup chunks (see rewriteStartup).
	rewrite func(st *rewriteState, fromServer bool, client netip.AddrPort, typ byte, v []byte) []byte
	fail    []string
	detail  string // in the first failed check's detail
}

// rewriteState is what a rewriting filter remembers.
type rewriteState struct {
	mu       sync.Mutex
	cookies  map[netip.AddrPort][]byte // last cookie given, by client
	rikeying map[uint32]bool           // session IDs of RIKeyings sent
}

func brokenHandshakes() []brokenHandshake {
	return []brokenHandshake{{
		name: "wrong tag echo", run: "handshake.ihello",
		rewrite: func(_ *rewriteState, fromServer bool, _ netip.AddrPort, typ byte, v []byte) []byte {
			if fromServer && typ == wire.TypeRHello {
				rh, _ := wire.ParseRHello(v)
				rh.Tag[0] ^= 1
				return rh.Append(nil)
			}
			return wire.AppendChunk(nil, typ, v)
		},
		fail: []string{"handshake.ihello"}, detail: "echoed another tag",
	}, {
		name: "65-byte cookie", run: "^handshake",
		rewrite: func(st *rewriteState, fromServer bool, _ netip.AddrPort, typ byte, v []byte) []byte {
			switch {
			case fromServer && typ == wire.TypeRHello:
				rh, _ := wire.ParseRHello(v)
				rh.Cookie = append(rh.Cookie, 0xee)
				return rh.Append(nil)
			case !fromServer && typ == wire.TypeIIKeying:
				ik, _ := wire.ParseIIKeying(v)
				ik.Cookie = ik.Cookie[:len(ik.Cookie)-1]
				return ik.Append(nil)
			}
			return wire.AppendChunk(nil, typ, v)
		},
		fail: []string{"handshake.cookie"}, detail: "65 bytes",
	}, {
		name: "certificate without group 2", run: "^handshake",
		rewrite: func(_ *rewriteState, fromServer bool, _ netip.AddrPort, typ byte, v []byte) []byte {
			if fromServer && typ == wire.TypeRHello {
				rh, _ := wire.ParseRHello(v)
				rh.Certificate = badCertificate()
				return rh.Append(nil)
			}
			return wire.AppendChunk(nil, typ, v)
		},
		fail:   []string{"handshake.certificate", "handshake.certificate-77", "handshake.flash", "handshake.group2", "handshake.hmac", "handshake.sequence", "handshake.retransmit", "handshake.cookie-echo"},
		detail: "group 2",
	}, {
		name: "group 16 offered but not computed", run: "^handshake",
		rewrite: func(_ *rewriteState, fromServer bool, _ netip.AddrPort, typ byte, v []byte) []byte {
			switch {
			case fromServer && typ == wire.TypeRHello:
				rh, _ := wire.ParseRHello(v)
				rh.Certificate = vlu.AppendOption(slices.Clone(rh.Certificate), 0x15, []byte{16})
				return rh.Append(nil)
			case !fromServer && typ == wire.TypeIIKeying:
				// MonaServer2 with rtmfp-cpp's clients: no answer to a
				// group it cannot compute.
				ik, _ := wire.ParseIIKeying(v)
				if bytes.HasPrefix(ik.SKIC, []byte{2, 0x1d, 16}) {
					return nil
				}
			}
			return wire.AppendChunk(nil, typ, v)
		},
		fail: []string{"handshake.certificate-77", "handshake.rtmfp-cpp", "handshake.group16"}, detail: "80 bytes",
	}, {
		name: "group 14 offered but not computed", run: "handshake.rtmfp-cpp|handshake.group14",
		rewrite: func(_ *rewriteState, fromServer bool, _ netip.AddrPort, typ byte, v []byte) []byte {
			if !fromServer && typ == wire.TypeIIKeying {
				if ik, _ := wire.ParseIIKeying(v); bytes.HasPrefix(ik.SKIC, []byte{2, 0x1d, 14}) {
					return nil
				}
			}
			return wire.AppendChunk(nil, typ, v)
		},
		fail: []string{"handshake.rtmfp-cpp", "handshake.group14"}, detail: "no answer",
	}, {
		name: "cookie echo not verified", run: "handshake.cookie-echo",
		rewrite: func(st *rewriteState, fromServer bool, client netip.AddrPort, typ byte, v []byte) []byte {
			st.mu.Lock()
			defer st.mu.Unlock()
			switch {
			case fromServer && typ == wire.TypeRHello:
				rh, _ := wire.ParseRHello(v)
				st.cookies[client] = bytes.Clone(rh.Cookie)
			case !fromServer && typ == wire.TypeIIKeying:
				ik, _ := wire.ParseIIKeying(v)
				ik.Cookie = st.cookies[client]
				return ik.Append(nil)
			}
			return wire.AppendChunk(nil, typ, v)
		},
		fail: []string{"handshake.cookie-echo"}, detail: "never gave",
	}, {
		name: "repeated IIKeying unanswered", run: "handshake.retransmit",
		rewrite: func(st *rewriteState, fromServer bool, _ netip.AddrPort, typ byte, v []byte) []byte {
			if fromServer && typ == wire.TypeRIKeying {
				ri, _ := wire.ParseRIKeying(v)
				st.mu.Lock()
				defer st.mu.Unlock()
				if st.rikeying[ri.ResponderSessionID] {
					return nil
				}
				st.rikeying[ri.ResponderSessionID] = true
			}
			return wire.AppendChunk(nil, typ, v)
		},
		fail: []string{"handshake.retransmit"}, detail: "no RIKeying",
	}, {
		name: "HMAC request ignored", run: "handshake.hmac|handshake.sequence",
		rewrite: func(_ *rewriteState, fromServer bool, _ netip.AddrPort, typ byte, v []byte) []byte {
			if !fromServer && typ == wire.TypeIIKeying {
				// A responder that does not read option 0x1A's request.
				ik, _ := wire.ParseIIKeying(v)
				ik.SKIC = stripRequests(ik.SKIC)
				return ik.Append(nil)
			}
			return wire.AppendChunk(nil, typ, v)
		},
		fail: []string{"handshake.hmac", "handshake.sequence"}, detail: "packet protection",
	}, {
		name: "responder component not librtmfp's", run: "handshake.librtmfp-component",
		config: serverConfig{profile: flash.Config{RequestHMAC: true}},
		fail:   []string{"handshake.librtmfp-component"}, detail: "03 1a 03",
	}}
}

// stripRequests clears flag 0x01 of options 0x1A and 0x1E of a component.
func stripRequests(skic []byte) []byte {
	var out []byte
	it := vlu.NewOptionList(skic)
	for it.Next() {
		o := it.Option()
		v := bytes.Clone(o.Value)
		if (o.Type == 0x1a || o.Type == 0x1e) && len(v) > 0 {
			v[0] &^= 1
		}
		out = vlu.AppendOption(out, o.Type, v)
	}
	return out
}

// TestBrokenHandshakes: each handshake check fails against a server that
// gets its part wrong, and only the checks concerned fail.
func TestBrokenHandshakes(t *testing.T) {
	for _, b := range brokenHandshakes() {
		t.Run(b.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newNet(t)
				srv := startTestServer(t, n, b.config)
				if b.rewrite != nil {
					st := &rewriteState{cookies: map[netip.AddrPort][]byte{}, rikeying: map[uint32]bool{}}
					addr, _ := netip.ParseAddrPort(srv.ep.LocalAddr().String())
					rewriteStartup(n, addr, func(fromServer bool, client netip.AddrPort, typ byte, v []byte) []byte {
						return b.rewrite(st, fromServer, client, typ, v)
					})
				}
				rep := runCheck(t, n, nil, srv.url, Options{Run: only(b.run)})
				expectFailed(t, rep, b.fail, b.detail)
			})
		})
	}
}

// seenFailing collects the checks seen failing in this package's tests,
// for TestEveryCheckFails.
var seenFailing sync.Map

func noteFailed(ids []string) {
	for _, id := range ids {
		seenFailing.Store(id, true)
	}
}
