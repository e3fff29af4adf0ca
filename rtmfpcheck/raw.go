package rtmfpcheck

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/rawpkt"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// rawConn is a UDP socket that talks to the server packet by packet, for
// the checks that need to see (or get wrong on purpose) every field of the
// handshake.
type rawConn struct {
	pc    rtmfp.PacketConn
	to    netip.AddrPort
	log   *wireLog
	epoch time.Time
	buf   []byte
	// foreign counts datagrams that came from elsewhere or did not open;
	// total all datagrams read.
	foreign, total int
}

// Retransmission of the raw handshake (the reference implementation's
// 1 s, RFC 7016 §3.5.1) and the bound on what a flooding server can make
// one read loop look at.
const (
	rawRTX     = time.Second
	floodLimit = 100000
)

// errFlood is returned when a server sends more datagrams than a check
// reads.
var errFlood = fmt.Errorf("more than %d datagrams that are not the answer", floodLimit)

func (e *env) rawConn() (*rawConn, error) {
	pc, err := e.opts.Listen(e.network())
	if err != nil {
		return nil, fmt.Errorf("opening a socket: %w", err)
	}
	e.closers = append(e.closers, func() { pc.Close() })
	return &rawConn{pc: pc, to: e.server, log: e.cur.Load(), epoch: time.Now(), buf: make([]byte, 8192)}, nil
}

func (c *rawConn) timestamp() uint16 { return uint16(time.Since(c.epoch) / (4 * time.Millisecond)) }

// sendStartup sends a startup packet with session ID field ssid.
func (c *rawConn) sendStartup(ssid uint32, chunk []byte) {
	c.pc.WriteToUDPAddrPort(rawpkt.SealStartup(ssid, c.timestamp(), chunk), c.to)
}

// read returns the next datagram from the server (a copy), waiting until
// ctx ends or every rtx when rtx > 0 (then it returns nil, nil).
func (c *rawConn) read(ctx context.Context, rtx time.Duration) ([]byte, error) {
	var deadline time.Time
	if rtx > 0 {
		deadline = time.Now().Add(rtx)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if c.total > floodLimit {
			return nil, errFlood
		}
		dl := time.Now().Add(200 * time.Millisecond)
		if d, ok := ctx.Deadline(); ok && d.Before(dl) {
			dl = d
		}
		if !deadline.IsZero() && deadline.Before(dl) {
			dl = deadline
		}
		c.pc.SetReadDeadline(dl)
		n, from, err := c.pc.ReadFromUDPAddrPort(c.buf)
		if err != nil {
			if isTimeout(err) {
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					return nil, nil
				}
				continue
			}
			return nil, err
		}
		c.total++
		if netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) != c.to {
			c.foreign++
			continue
		}
		return append([]byte(nil), c.buf[:n]...), nil
	}
}

// garbage describes what arrived that was not the answer, for failures.
func (c *rawConn) garbage(other int) string {
	var parts []string
	if other > 0 {
		parts = append(parts, fmt.Sprintf("%d datagrams from the server that were not the answer", other))
	}
	if c.foreign > 0 {
		parts = append(parts, fmt.Sprintf("%d from other addresses", c.foreign))
	}
	if len(parts) == 0 {
		if c.total == 0 {
			return " (nothing received)"
		}
		return ""
	}
	return " (" + joinAnd(parts) + ")"
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return fmt.Sprintf("%s and %s", joinComma(parts[:len(parts)-1]), parts[len(parts)-1])
}

func joinComma(parts []string) string {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p)
	}
	return b.String()
}

// startup opens d as a startup packet with session ID field ssid and logs
// its chunks; a datagram that is not one is logged and refused.
func (c *rawConn) startup(d []byte, ssid uint32) ([]byte, bool) {
	id, chunks, err := rawpkt.OpenStartup(d)
	switch {
	case err != nil:
		c.log.add("← %s %d bytes that do not open as a startup packet", c.to, len(d))
		return nil, false
	case id != ssid:
		return nil, false
	}
	for _, l := range describeStartup(chunks) {
		c.log.add("← %s %s", c.to, l)
	}
	return chunks, true
}

// helloResult is what an IHello brought back.
type helloResult struct {
	rhello   wire.RHello // owned copies
	redirect *wire.Redirect
	rtt      time.Duration
	tries    int
	// otherTag counts RHellos echoing a tag that was not ours.
	otherTag int
}

// hello sends IHellos for epd with tag (again every rawRTX) until the
// server answers with an RHello or a Redirect for that tag.
func (c *rawConn) hello(ctx context.Context, epd, tag []byte) (helloResult, error) {
	var res helloResult
	chunk := wire.IHello{EPD: epd, Tag: tag}.Append(nil)
	other := 0
	var sent time.Time
	for {
		if sent.IsZero() || time.Since(sent) >= rawRTX {
			sent = time.Now()
			res.tries++
			c.sendStartup(0, chunk)
			c.log.add("→ %s IHello epd %s tag %x…", c.to, describeEPD(epd), prefix(tag, 4))
		}
		d, err := c.read(ctx, rawRTX-time.Since(sent))
		if err != nil {
			if res.otherTag > 0 {
				return res, fmt.Errorf("%w (%d RHellos echoed another tag than the IHello's)", err, res.otherTag)
			}
			return res, fmt.Errorf("%w%s", err, c.garbage(other))
		}
		if d == nil {
			continue
		}
		chunks, ok := c.startup(d, 0)
		if !ok {
			other++
			continue
		}
		cr := wire.NewChunkReader(chunks)
		for cr.Next() {
			switch cr.Type() {
			case wire.TypeRHello:
				rh, err := wire.ParseRHello(cr.Value())
				if err != nil {
					continue
				}
				if !bytes.Equal(rh.Tag, tag) {
					res.otherTag++
					continue
				}
				res.rhello = wire.RHello{Tag: bytes.Clone(rh.Tag), Cookie: bytes.Clone(rh.Cookie), Certificate: bytes.Clone(rh.Certificate)}
				res.rtt = time.Since(sent)
				return res, nil
			case wire.TypeRedirect:
				rd, err := wire.ParseRedirect(cr.Value())
				if err == nil && bytes.Equal(rd.Tag, tag) {
					rd.Tag = bytes.Clone(rd.Tag)
					res.redirect = &rd
					res.rtt = time.Since(sent)
					return res, nil
				}
			}
		}
		other++
	}
}

// rawSession is a session opened by a raw handshake: this end writes and
// reads its packets itself.
type rawSession struct {
	c          *rawConn
	isid, rsid uint32
	sc         *profile.SessionCrypto
	skrc       []byte
	iikeying   []byte // the IIKeying chunk sent
	rtt        time.Duration
}

// keying completes the handshake begun by an RHello: IIKeying (again every
// rawRTX, and after a Cookie Change) until the RIKeying.
func (c *rawConn) keying(ctx context.Context, prof *flash.Profile, epd []byte, rh wire.RHello, cookie []byte) (*rawSession, error) {
	ini, err := prof.NewInitiator(epd)
	if err != nil {
		return nil, err
	}
	cert, skic, err := ini.Keying(rh.Certificate)
	if err != nil {
		return nil, fmt.Errorf("the server's certificate: %s", plain(err))
	}
	var idb [4]byte
	rand.Read(idb[:])
	isid := binary.BigEndian.Uint32(idb[:]) | 1
	if cookie == nil {
		cookie = rh.Cookie
	}
	ik := wire.IIKeying{InitiatorSessionID: isid, Cookie: cookie, Certificate: cert, SKIC: skic, Signature: []byte{'X'}}
	chunk := ik.Append(nil)
	other := 0
	var sent time.Time
	for {
		if sent.IsZero() || time.Since(sent) >= rawRTX {
			sent = time.Now()
			c.sendStartup(0, chunk)
			c.log.add("→ %s IIKeying session %08x, cookie %d bytes, certificate %d bytes, component %d bytes", c.to, isid, len(cookie), len(cert), len(skic))
		}
		d, err := c.read(ctx, rawRTX-time.Since(sent))
		if err != nil {
			return nil, fmt.Errorf("%w%s", err, c.garbage(other))
		}
		if d == nil {
			continue
		}
		chunks, ok := c.startup(d, isid)
		if !ok {
			other++
			continue
		}
		cr := wire.NewChunkReader(chunks)
		for cr.Next() {
			switch cr.Type() {
			case wire.TypeCookieChange:
				cc, err := wire.ParseCookieChange(cr.Value())
				if err == nil && bytes.Equal(cc.OldCookie, ik.Cookie) {
					ik.Cookie = bytes.Clone(cc.NewCookie)
					chunk = ik.Append(nil)
					sent = time.Time{}
				}
			case wire.TypeRIKeying:
				ri, err := wire.ParseRIKeying(cr.Value())
				if err != nil {
					continue
				}
				if sel, ok := selectedGroup(skic); ok {
					if gs := componentGroups(ri.SKRC); len(gs) > 0 && !slices.Contains(gs, sel) {
						return nil, fmt.Errorf("the server's responder component carries an ephemeral key of group %s, not of group %d, the one selected",
							joinUints(gs), sel)
					}
				}
				sc, err := ini.Finish(ri.SKRC)
				if err != nil {
					return nil, fmt.Errorf("the server's responder component (%s): %s", describeComponent(ri.SKRC), plain(err))
				}
				return &rawSession{c: c, isid: isid, rsid: ri.ResponderSessionID, sc: sc, skrc: bytes.Clone(ri.SKRC),
					iikeying: chunk, rtt: time.Since(sent)}, nil
			}
		}
	}
}

// send sends one session packet carrying chunks.
func (s *rawSession) send(chunks ...[]byte) {
	h := wire.Header{Flags: wire.ModeInitiator | wire.HeaderTimestamp, Timestamp: s.c.timestamp()}
	s.c.pc.WriteToUDPAddrPort(rawpkt.Seal(s.sc.Send, s.rsid, h, chunks...), s.c.to)
}

// errStopped is what a recv callback returns to end the wait with success.
var errStopped = errors.New("stopped")

// errBadEcho is the error of a Ping answered with other data.
var errBadEcho = errors.New("wrong echo")

// recv reads the server's session packets until fn, called for each chunk,
// returns errStopped (recv then returns nil) or another error. Datagrams
// for other session IDs, and packets that fail the session's integrity
// check, are counted in bad. Every rtx (when > 0) it calls tick.
func (s *rawSession) recv(ctx context.Context, rtx time.Duration, tick func(), fn func(typ byte, v []byte) error) (bad int, err error) {
	for {
		d, err := s.c.read(ctx, rtx)
		if err != nil {
			return bad, err
		}
		if d == nil {
			if tick != nil {
				tick()
			}
			continue
		}
		if wire.SessionID(d) != s.isid {
			bad++
			continue
		}
		_, h, chunks, err := rawpkt.Open(s.sc.Recv, d)
		if err != nil || h.Mode() != wire.ModeResponder {
			// A startup packet for our ID: a retransmitted RIKeying.
			if _, _, serr := rawpkt.OpenStartup(d); serr != nil {
				bad++
				s.c.log.add("← %s %d bytes for our session that fail its integrity check", s.c.to, len(d))
			}
			continue
		}
		cr := wire.NewChunkReader(chunks)
		for cr.Next() {
			s.c.log.add("← %s session chunk %s, %d bytes", s.c.to, chunkName(cr.Type()), len(cr.Value()))
			switch err := fn(cr.Type(), cr.Value()); {
			case errors.Is(err, errStopped):
				return bad, nil
			case err != nil:
				return bad, err
			}
		}
	}
}

// ping sends a Ping with size bytes of data (again every rawRTX) and waits
// for the Ping Reply that echoes it; it returns the round trip. With
// anyReply, a Ping Reply that does not echo the data is taken too (it still
// shows that the session's keys work) and echoed reports whether it did.
func (s *rawSession) ping(ctx context.Context, size int) (time.Duration, error) {
	rtt, _, err := s.pingReply(ctx, size, false)
	return rtt, err
}

func (s *rawSession) pingReply(ctx context.Context, size int, anyReply bool) (rtt time.Duration, echoed bool, err error) {
	data := make([]byte, size)
	rand.Read(data)
	chunk := wire.Ping{Data: data}.Append(nil)
	sent := time.Now()
	s.send(chunk)
	s.c.log.add("→ %s Ping %x… (%d bytes)", s.c.to, prefix(data, 8), len(data))
	var other []byte
	wrong := 0
	bad, err := s.recv(ctx, rawRTX, func() { sent = time.Now(); s.send(chunk) }, func(typ byte, v []byte) error {
		if typ != wire.TypePingReply {
			return nil
		}
		if bytes.Equal(v, data) {
			echoed = true
			return errStopped
		}
		other = bytes.Clone(v)
		if anyReply {
			return errStopped
		}
		// Three replies that do not echo it: the server never does.
		if wrong++; wrong == 3 {
			return errBadEcho
		}
		return nil
	})
	if err != nil {
		switch {
		case other != nil:
			return 0, false, fmt.Errorf("%w: the Ping Reply echoed %d bytes %x…, not the %d bytes %x… sent", errBadEcho, len(other), prefix(other, 8), len(data), prefix(data, 8))
		case bad > 0:
			return 0, false, fmt.Errorf("%w (%d packets for the session failed its integrity check: the keys or the packet protection differ)", err, bad)
		}
		return 0, false, err
	}
	return time.Since(sent), echoed, nil
}

// chunkName names session chunk types in the wire log.
func chunkName(t byte) string {
	switch t {
	case wire.TypePing:
		return "Ping"
	case wire.TypePingReply:
		return "Ping Reply"
	case wire.TypeUserData:
		return "User Data"
	case wire.TypeNextUserData:
		return "Next User Data"
	case wire.TypeAckBitmap, wire.TypeAckRanges:
		return "Ack"
	case wire.TypeCloseRequest:
		return "Session Close Request"
	case wire.TypeCloseAck:
		return "Session Close Acknowledgement"
	case wire.TypeFlowException:
		return "Flow Exception"
	case wire.TypeBufferProbe:
		return "Buffer Probe"
	case wire.TypeFIHello:
		return "Forwarded IHello"
	}
	return fmt.Sprintf("%#02x", t)
}

// selectedGroup is the DH group an initiator component selects (option
// 0x1D).
func selectedGroup(skic []byte) (uint64, bool) {
	it := vlu.NewOptionList(skic)
	for it.Next() {
		if o := it.Option(); o.Type == 0x1d {
			g, _, err := vlu.Parse(o.Value)
			return g, err == nil
		}
	}
	return 0, false
}

// componentGroups lists the groups of a component's ephemeral keys (option
// 0x0D).
func componentGroups(c []byte) []uint64 {
	var out []uint64
	it := vlu.NewOptionList(c)
	for it.Next() {
		if o := it.Option(); o.Type == 0x0d {
			if g, _, err := vlu.Parse(o.Value); err == nil {
				out = append(out, g)
			}
		}
	}
	return out
}
