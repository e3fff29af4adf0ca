package rtmfpcheck

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/rawpkt"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// tap is the socket of a checker endpoint: it passes everything through
// and notes what it can read without the session keys, the startup
// packets, in the current check's wire log.
type tap struct {
	rtmfp.PacketConn
	log *atomic.Pointer[wireLog]

	in, startupIn, out atomic.Int64

	mu        sync.Mutex
	redirects []wire.Redirect
	ihellos   []netip.AddrPort // senders of probe IHellos (32-byte tags, as connectivity checks send)
	changed   chan struct{}    // closed and replaced on every startup packet noted
}

func newTap(pc rtmfp.PacketConn, log *atomic.Pointer[wireLog]) *tap {
	return &tap{PacketConn: pc, log: log, changed: make(chan struct{})}
}

// maxNoted bounds what a tap keeps of a flooding server.
const maxNoted = 64

// probeTagLength is the tag length of connectivity-check probes
// (rtmfp-cpp's conncheck and natcheck); initiators use 16.
const probeTagLength = 32

func (t *tap) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, from, err := t.PacketConn.ReadFromUDPAddrPort(b)
	if err == nil {
		t.in.Add(1)
		t.note(b[:n], from)
	}
	return n, from, err
}

func (t *tap) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	t.out.Add(1)
	return t.PacketConn.WriteToUDPAddrPort(b, to)
}

// note reads a datagram as a startup packet (session ID 0, or the
// initiator's for RIKeying and Cookie Change); session packets do not open
// with the default key and are only counted.
func (t *tap) note(d []byte, from netip.AddrPort) {
	_, chunks, err := rawpkt.OpenStartup(d)
	if err != nil {
		return
	}
	t.startupIn.Add(1)
	lines := describeStartup(chunks)
	log := t.log.Load()
	for _, l := range lines {
		log.add("← %s %s", from, l)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cr := wire.NewChunkReader(chunks)
	for cr.Next() {
		switch cr.Type() {
		case wire.TypeRedirect:
			if rd, err := wire.ParseRedirect(cr.Value()); err == nil && len(t.redirects) < maxNoted {
				rd.Tag = append([]byte(nil), rd.Tag...)
				t.redirects = append(t.redirects, rd)
			}
		case wire.TypeIHello:
			if ih, err := wire.ParseIHello(cr.Value()); err == nil && len(ih.Tag) == probeTagLength && len(t.ihellos) < maxNoted {
				t.ihellos = append(t.ihellos, from)
			}
		}
	}
	close(t.changed)
	t.changed = make(chan struct{})
}

// wait returns a channel closed when the next startup packet is noted.
func (t *tap) wait() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changed
}

// redirectsFor returns the Redirects noted for tag.
func (t *tap) redirectsFor(tag []byte) []wire.Redirect {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []wire.Redirect
	for _, r := range t.redirects {
		if tag == nil || string(r.Tag) == string(tag) {
			out = append(out, r)
		}
	}
	return out
}

// allRedirects returns every Redirect noted.
func (t *tap) allRedirects() []wire.Redirect { return t.redirectsFor(nil) }

// summary is a short account of what the socket received, for failures.
func (t *tap) summary() string {
	if t == nil {
		return ""
	}
	in, st := t.in.Load(), t.startupIn.Load()
	switch {
	case in == 0:
		return " (nothing received)"
	case st == 0:
		return fmt.Sprintf(" (received %d datagrams, none of them an RTMFP startup packet)", in)
	}
	return fmt.Sprintf(" (received %d datagrams, %d of them startup packets)", in, st)
}

// describeStartup names the chunks of a startup packet for the wire log.
func describeStartup(chunks []byte) []string {
	var out []string
	cr := wire.NewChunkReader(chunks)
	for cr.Next() && len(out) < 8 {
		v := cr.Value()
		switch cr.Type() {
		case wire.TypeIHello:
			if c, err := wire.ParseIHello(v); err == nil {
				out = append(out, fmt.Sprintf("IHello epd %s tag %d bytes", describeEPD(c.EPD), len(c.Tag)))
				continue
			}
		case wire.TypeRHello:
			if c, err := wire.ParseRHello(v); err == nil {
				out = append(out, fmt.Sprintf("RHello tag %x… cookie %d bytes, certificate %d bytes", prefix(c.Tag, 4), len(c.Cookie), len(c.Certificate)))
				continue
			}
		case wire.TypeRedirect:
			if c, err := wire.ParseRedirect(v); err == nil {
				out = append(out, "Redirect to "+describeAddrs(c.Addresses))
				continue
			}
		case wire.TypeRIKeying:
			if c, err := wire.ParseRIKeying(v); err == nil {
				out = append(out, fmt.Sprintf("RIKeying session %08x, component %d bytes", c.ResponderSessionID, len(c.SKRC)))
				continue
			}
		case wire.TypeCookieChange:
			out = append(out, "Cookie Change")
			continue
		}
		out = append(out, fmt.Sprintf("chunk %#02x, %d bytes", cr.Type(), len(v)))
	}
	if cr.Err() != nil {
		out = append(out, "malformed chunk: "+cr.Err().Error())
	}
	return out
}

func prefix(b []byte, n int) []byte { return b[:min(n, len(b))] }

// describeEPD shows an endpoint discriminator: a peer ID or a URL.
func describeEPD(epd []byte) string {
	e, err := flash.ParseEPD(epd)
	if err != nil {
		return fmt.Sprintf("%x", prefix(epd, 16))
	}
	if e.HasPeerID {
		return "peer " + e.PeerID.String()[:16] + "…"
	}
	return fmt.Sprintf("%q", e.Ancillary)
}

// describeAddrs shows addresses with their origins.
func describeAddrs(as []wire.Address) string {
	if len(as) == 0 {
		return "(no address)"
	}
	var parts []string
	for _, a := range as {
		parts = append(parts, a.AddrPort.String()+" ("+originName(a.Origin)+")")
	}
	return strings.Join(parts, ", ")
}

func originName(o byte) string {
	switch o & 3 {
	case wire.OriginReported:
		return "reported"
	case wire.OriginObserved:
		return "observed"
	case wire.OriginRelay:
		return "relay"
	}
	return "unknown origin"
}

// isNoAnswer reports the errors of a handshake or call that got no answer.
func isNoAnswer(err error) bool {
	return errors.Is(err, rtmfp.ErrNoSuchPeer) || isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// since formats an elapsed time for facts.
func since(t time.Time) string { return ms(time.Since(t)) }

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
