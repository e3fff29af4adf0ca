package rtmfpcheck

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/rawpkt"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// fakeResponder is a hand-written RTMFP responder that does the handshake
// right and the session as told: deliberately broken in the ways the
// session checks look for, or a server that answers garbage, nothing, or
// floods.
type fakeResponder struct {
	conn *simnet.Conn
	prof *flash.Profile

	noCloseAck    bool // a Session Close Request is not acknowledged
	ignoreBareAck bool // a bare Session Close Acknowledgement is ignored
	badPingEcho   bool // Ping Replies to Pings of more than 8 bytes echo only 8
	silent        bool // nothing is ever answered
	garbage       bool // every datagram is answered with random bytes
	flood         int  // every datagram is answered with this many random datagrams

	cookie   []byte
	sessions map[uint32]*fakeSession
	nextID   uint32
}

type fakeSession struct {
	far uint32
	sc  *profile.SessionCrypto
}

func startFake(t *testing.T, n *simnet.Network, f *fakeResponder) string {
	t.Helper()
	h, err := n.NewHost()
	if err != nil {
		t.Fatal(err)
	}
	if f.conn, err = h.Listen(1935); err != nil {
		t.Fatal(err)
	}
	if f.prof, err = flash.New(flash.Config{}); err != nil {
		t.Fatal(err)
	}
	f.cookie = make([]byte, 64)
	rand.Read(f.cookie)
	f.sessions = map[uint32]*fakeSession{}
	f.nextID = 0x0a000000
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.serve()
	}()
	t.Cleanup(func() {
		f.conn.Close()
		<-done
	})
	return fmt.Sprintf("rtmfp://%s/live", f.conn.AddrPort())
}

func (f *fakeResponder) serve() {
	buf := make([]byte, 4096)
	for {
		n, from, err := f.conn.ReadFromUDPAddrPort(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		switch {
		case f.silent:
		case f.garbage || f.flood > 0:
			for range max(f.flood, 1) {
				g := make([]byte, 64)
				rand.Read(g)
				f.conn.WriteToUDPAddrPort(g, from)
			}
		default:
			f.handle(bytes.Clone(buf[:n]), from)
		}
	}
}

func (f *fakeResponder) handle(d []byte, from netip.AddrPort) {
	if len(d) < wire.MinDatagram {
		return
	}
	if wire.SessionID(d) == 0 {
		_, chunks, err := rawpkt.OpenStartup(d)
		if err != nil {
			return
		}
		cr := wire.NewChunkReader(chunks)
		for cr.Next() {
			switch cr.Type() {
			case wire.TypeIHello:
				ih, _ := wire.ParseIHello(cr.Value())
				rh := wire.RHello{Tag: ih.Tag, Cookie: f.cookie, Certificate: f.prof.ServerCertificate()}
				f.conn.WriteToUDPAddrPort(rawpkt.SealStartup(0, 1, rh.Append(nil)), from)
			case wire.TypeIIKeying:
				ik, _ := wire.ParseIIKeying(cr.Value())
				if !bytes.Equal(ik.Cookie, f.cookie) {
					continue
				}
				skrc, sc, err := f.prof.Respond(f.prof.ServerCertificate(), ik.Certificate, ik.SKIC)
				if err != nil {
					continue
				}
				f.nextID++
				f.sessions[f.nextID] = &fakeSession{far: ik.InitiatorSessionID, sc: sc}
				ri := wire.RIKeying{ResponderSessionID: f.nextID, SKRC: skrc, Signature: []byte{'X'}}
				f.conn.WriteToUDPAddrPort(rawpkt.SealStartup(ik.InitiatorSessionID, 1, ri.Append(nil)), from)
			}
		}
		return
	}
	id := wire.SessionID(d)
	s := f.sessions[id]
	if s == nil {
		return
	}
	_, _, chunks, err := rawpkt.Open(s.sc.Recv, d)
	if err != nil {
		return
	}
	send := func(c []byte) {
		h := wire.Header{Flags: wire.ModeResponder | wire.HeaderTimestamp, Timestamp: 1}
		f.conn.WriteToUDPAddrPort(rawpkt.Seal(s.sc.Send, s.far, h, c), from)
	}
	cr := wire.NewChunkReader(chunks)
	for cr.Next() {
		switch cr.Type() {
		case wire.TypePing:
			data := bytes.Clone(cr.Value())
			if f.badPingEcho {
				data = data[:min(len(data), 8)]
			}
			send(wire.PingReply{Data: data}.Append(nil))
		case wire.TypeCloseRequest:
			if !f.noCloseAck {
				send(wire.CloseAck{}.Append(nil))
				delete(f.sessions, id)
			}
		case wire.TypeCloseAck:
			if !f.ignoreBareAck {
				delete(f.sessions, id)
			}
		}
	}
}

// TestBrokenSessions: the session checks fail against a responder that
// gets its part of the session wrong.
func TestBrokenSessions(t *testing.T) {
	for _, c := range []struct {
		name   string
		f      *fakeResponder
		fail   []string
		detail string
	}{
		{"ping echo", &fakeResponder{badPingEcho: true}, []string{"session.ping"}, "echoed 8 bytes"},
		{"no close acknowledgement", &fakeResponder{noCloseAck: true}, []string{"session.close"}, "no answer"},
		{"bare acknowledgement ignored", &fakeResponder{ignoreBareAck: true}, []string{"session.close-ack"}, "still answers"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newNet(t)
				url := startFake(t, n, c.f)
				rep := runCheck(t, n, nil, url, Options{Run: only(`^session|handshake\.flash$`)})
				expectFailed(t, rep, c.fail, c.detail)
			})
		})
	}
	// The fake responder does it right when not told otherwise: the checks
	// above fail because of what they were told.
	synctest.Test(t, func(t *testing.T) {
		n := newNet(t)
		rep := runCheck(t, n, nil, startFake(t, n, &fakeResponder{}), Options{Run: only(`^session|handshake\.flash$`)})
		if got := failed(rep); len(got) != 0 {
			dump(t, rep)
			t.Fatalf("failed %v against a correct responder", got)
		}
	})
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// TestBadServers: a server that answers nothing, garbage, or floods gets a
// bounded report: every check ends within its deadline with a clear line,
// and the run ends.
func TestBadServers(t *testing.T) {
	const timeout = 2 * time.Second
	for _, c := range []struct {
		name   string
		f      *fakeResponder
		detail string
	}{
		{"silent", &fakeResponder{silent: true}, "no answer within 2s (nothing received)"},
		{"garbage", &fakeResponder{garbage: true}, "datagrams from the server that were not the answer"},
		{"flood", &fakeResponder{flood: 200}, "datagrams from the server that were not the answer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newNet(t)
				url := startFake(t, n, c.f)
				start := time.Now()
				rep := runCheck(t, n, nil, url, Options{Timeout: timeout})
				// Three checks need nothing before them; each waits its
				// deadline at most (plus the grace a stuck check gets).
				if el := time.Since(start); el > 3*(timeout+grace) {
					t.Errorf("the run took %v", el)
				}
				r := result(t, rep, idIHello)
				if r.Status != Fail || !strings.Contains(r.Detail, c.detail) {
					dump(t, rep)
					t.Fatalf("%s: %s %q, want it to say %q", idIHello, r.Status, r.Detail, c.detail)
				}
				for _, res := range rep.Results {
					if res.Status == Pass || res.Detail == "" || len(res.Wire) > wireLines+1 {
						t.Errorf("%s: %s %q, %d wire lines", res.ID, res.Status, res.Detail, len(res.Wire))
					}
				}
				if rep.ExitCode() != 1 {
					t.Errorf("exit code %d", rep.ExitCode())
				}
			})
		})
	}
}
