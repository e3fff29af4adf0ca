package rtmfpcheck

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/rawpkt"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
	"github.com/rtmfpd/rtmfpd/vlu"
)

const idIHello = "handshake.ihello"

func handshakeChecks() category {
	ihello := []string{idIHello}
	return category{name: "handshake", checks: []check{
		{id: idIHello, title: "an IHello for the URL is answered with an RHello echoing its tag",
			ref: "RFC 7016 §3.5.1.1.2, §2.3.4", run: checkIHello},
		{id: "handshake.cookie", title: "the cookie is 64 bytes, the only size Flash and librtmfp accept",
			ref: "Flash, librtmfp (rtmfp-facts §3.3)", needs: ihello, run: checkCookie},
		{id: "handshake.certificate", title: "the certificate is an option list offering ephemeral DH groups, group 2 among them, and accepting ancillary data (the URL)",
			ref: "RFC 7425 §4.3, §4.2", needs: ihello, run: checkCertificate},
		{id: "handshake.certificate-77", title: "the certificate is 77 bytes, the length librtmfp reads without looking",
			ref: "librtmfp (rtmfp-facts §3.4)", needs: ihello, run: checkCertificate77},
		{id: idFlash, title: "Flash's initiator layout completes (one group-2 key in the certificate, the 76-byte component, checksums) and the keys agree: a Ping is answered",
			ref: "RFC 7425 §4.6, Flash Player", needs: ihello, run: checkFlash},
		{id: "handshake.librtmfp-component", title: "the responder component starts 03 1A 00 00 02 1E 00, the bytes librtmfp checks before reading the key",
			ref: "librtmfp (rtmfp-facts §3.6)", needs: []string{idFlash}, run: checkLibrtmfpComponent},
		{id: "handshake.rtmfp-cpp", title: "rtmfp-cpp's initiator layout completes (keys of groups 16, 14 and 2; HMAC and sequence numbers sent always and requested)",
			ref: "RFC 7425 §4.3, §4.6, rtmfp-cpp", needs: ihello, run: checkRtmfpCpp},
		groupCheck(2, "RFC 7425 §4.2 (mandatory), RFC 2409 §6.2"),
		groupCheck(14, "RFC 7425 §4.2, RFC 3526 §3"),
		groupCheck(16, "RFC 7425 §4.2, RFC 3526 §5"),
		{id: "handshake.hmac", title: "asked for HMAC (option 0x1A flag 0x01), the server authenticates its packets with HMAC-SHA256",
			ref: "RFC 7425 §4.6", needs: ihello, run: modeCheck(flash.Config{RequestHMAC: true})},
		{id: "handshake.sequence", title: "asked for session sequence numbers (option 0x1E flag 0x01), the server numbers its packets",
			ref: "RFC 7425 §4.6", needs: ihello, run: modeCheck(flash.Config{RequestSequence: true})},
		{id: "handshake.retransmit", title: "a repeated IHello is answered again, and a repeated IIKeying gets the same RIKeying, not a second session",
			ref: "RFC 7016 §3.5.1.1.2", needs: ihello, run: checkRetransmit},
		{id: "handshake.cookie-echo", title: "an IIKeying echoing a cookie the server never gave is not answered",
			ref: "RFC 7016 §3.5.1.1.2", needs: ihello, run: checkWrongCookie},
	}}
}

const idFlash = "handshake.flash"

// helloInfo is the server's answer to the first IHello.
type helloInfo struct {
	rhello wire.RHello
	cert   certInfo
	rtt    time.Duration
}

// certInfo is what a responder certificate says (RFC 7425 §4.3).
type certInfo struct {
	groups, static []uint64
	ancillary      bool
	hostname       string
	randomness     int
	others         []byte
	err            string
}

func parseCert(b []byte) certInfo {
	var c certInfo
	it := vlu.NewOptionList(b)
	for it.Next() {
		o := it.Option()
		switch o.Type {
		case 0x00:
			c.hostname = string(o.Value)
		case 0x0a:
			c.ancillary = true
		case 0x0e:
			c.randomness = len(o.Value)
		case 0x15:
			if g, n, err := vlu.Parse(o.Value); err == nil && n == len(o.Value) {
				c.groups = append(c.groups, g)
			} else {
				c.err = "malformed supported-group option"
			}
		case 0x1d:
			if g, _, err := vlu.Parse(o.Value); err == nil {
				c.static = append(c.static, g)
			}
		default:
			c.others = append(c.others, byte(o.Type))
		}
	}
	if it.Err() != nil {
		c.err = "not an option list: " + it.Err().Error()
	}
	return c
}

func (c certInfo) String() string {
	var parts []string
	if len(c.groups) > 0 {
		parts = append(parts, "ephemeral DH groups "+joinUints(c.groups))
	}
	if len(c.static) > 0 {
		parts = append(parts, "static keys of groups "+joinUints(c.static))
	}
	if c.ancillary {
		parts = append(parts, "accepts ancillary data")
	}
	if c.hostname != "" {
		parts = append(parts, fmt.Sprintf("hostname %q", c.hostname))
	}
	if c.randomness > 0 {
		parts = append(parts, fmt.Sprintf("%d bytes of extra randomness", c.randomness))
	}
	if len(c.others) > 0 {
		parts = append(parts, fmt.Sprintf("other options % x", c.others))
	}
	if c.err != "" {
		parts = append(parts, c.err)
	}
	return strings.Join(parts, "; ")
}

func joinUints(v []uint64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprint(x))
	}
	return strings.Join(s, ", ")
}

func newTag() []byte {
	t := make([]byte, 16)
	rand.Read(t)
	return t
}

func checkIHello(ctx context.Context, e *env, r *rec) {
	c, err := e.rawConn()
	if err != nil {
		r.failf("%v", err)
		return
	}
	res, err := c.hello(ctx, flash.URLEPD(e.opts.URL), newTag())
	if err != nil {
		r.failf("%s", e.noAnswer(ctx, "IHello", err))
		return
	}
	r.fact("IHellos sent", "%d", res.tries)
	if res.redirect != nil {
		r.failf("answered with a Redirect to %s (load distribution, RFC 7016 §3.5.1.4): point rtmfp check at one of those servers", describeAddrs(res.redirect.Addresses))
		return
	}
	ci := parseCert(res.rhello.Certificate)
	e.hello = &helloInfo{rhello: res.rhello, cert: ci, rtt: res.rtt}
	r.fact("round trip", "%s", ms(res.rtt))
	r.fact("cookie", "%d bytes", len(res.rhello.Cookie))
	r.fact("certificate", "%d bytes: %s", len(res.rhello.Certificate), ci)
	r.passf("RHello in %s: cookie %d bytes, certificate %d bytes", ms(res.rtt), len(res.rhello.Cookie), len(res.rhello.Certificate))
}

// noAnswer words a handshake step that failed.
func (e *env) noAnswer(ctx context.Context, what string, err error) string {
	if errors.Is(err, errBadEcho) {
		_, msg, _ := strings.Cut(err.Error(), ": ")
		return what + ": " + msg
	}
	if ctx.Err() != nil || isTimeout(err) {
		s := err.Error()
		if i := strings.Index(s, " ("); i >= 0 {
			return fmt.Sprintf("%s: no answer within %v%s", what, e.opts.Timeout, s[i:])
		}
		return fmt.Sprintf("%s: no answer within %v", what, e.opts.Timeout)
	}
	return what + ": " + plain(err)
}

func checkCookie(_ context.Context, e *env, r *rec) {
	n := len(e.hello.rhello.Cookie)
	r.fact("cookie", "%d bytes", n)
	if n != 64 {
		r.failf("the cookie is %d bytes: Flash and librtmfp refuse it (\"Unexpected cookie size\") and never send IIKeying", n)
		return
	}
	r.passf("64 bytes")
}

func checkCertificate(_ context.Context, e *env, r *rec) {
	ci := e.hello.cert
	r.fact("certificate", "%s", ci)
	switch {
	case ci.err != "":
		r.failf("the certificate is malformed: %s", ci.err)
	case len(ci.static) > 0 && len(ci.groups) > 0:
		r.failf("the certificate has both static keys and ephemeral groups")
	case len(ci.static) > 0:
		r.failf("the certificate holds static keys (a peer's), not the ephemeral groups of a server")
	case !slices.Contains(ci.groups, 2):
		r.failf("group 2, which every Flash client uses, is not offered (groups %s)", joinUints(ci.groups))
	case !ci.ancillary:
		r.failf("the certificate does not accept ancillary data: an initiator must not send it the URL")
	default:
		r.passf("groups %s, accepts ancillary data", joinUints(ci.groups))
	}
}

func checkCertificate77(_ context.Context, e *env, r *rec) {
	n := len(e.hello.rhello.Certificate)
	r.fact("certificate", "%d bytes", n)
	if n != 77 {
		r.failf("the certificate is %d bytes: librtmfp reads 77 and takes the rest for something else", n)
		return
	}
	r.passf("77 bytes")
}

// open runs a whole raw handshake as an initiator of profile cfg and
// checks the keys with a Ping. It records the facts every handshake check
// shows.
func (e *env) open(ctx context.Context, r *rec, cfg flash.Config) (*rawSession, bool) {
	prof, err := flash.New(cfg)
	if err != nil {
		r.failf("%v", err)
		return nil, false
	}
	c, err := e.rawConn()
	if err != nil {
		r.failf("%v", err)
		return nil, false
	}
	epd := flash.URLEPD(e.opts.URL)
	h, err := c.hello(ctx, epd, newTag())
	if err != nil {
		r.failf("%s", e.noAnswer(ctx, "IHello", err))
		return nil, false
	}
	if h.redirect != nil {
		r.failf("IHello answered with a Redirect")
		return nil, false
	}
	s, err := c.keying(ctx, prof, epd, h.rhello, nil)
	if err != nil {
		r.failf("%s", e.noAnswer(ctx, "IIKeying", err))
		return nil, false
	}
	r.fact("server session ID", "%08x", s.rsid)
	r.fact("responder component", "%d bytes: %s", len(s.skrc), describeComponent(s.skrc))
	// Any Ping Reply that opens with the session's keys shows they agree;
	// whether it echoes the data is session.ping's business.
	rtt, echoed, err := s.pingReply(ctx, 8, true)
	if err != nil {
		r.failf("%s", e.noAnswer(ctx, "Ping in the new session", err))
		return nil, false
	}
	if echoed {
		r.fact("ping", "%s", ms(rtt))
	} else {
		r.fact("ping", "%s (the reply does not echo the Ping's data)", ms(rtt))
	}
	return s, true
}

// describeComponent shows a session key component's options (RFC 7425
// §4.6).
func describeComponent(b []byte) string {
	var parts []string
	it := vlu.NewOptionList(b)
	for it.Next() {
		o := it.Option()
		switch o.Type {
		case 0x1a:
			if len(o.Value) > 0 {
				l, _, _ := vlu.Parse(o.Value[1:])
				parts = append(parts, fmt.Sprintf("HMAC %s, length %d", negotiationFlags(o.Value[0]), l))
			}
		case 0x1e:
			if len(o.Value) > 0 {
				parts = append(parts, "sequence numbers "+negotiationFlags(o.Value[0]))
			}
		case 0x0d:
			if g, n, err := vlu.Parse(o.Value); err == nil {
				parts = append(parts, fmt.Sprintf("ephemeral key of group %d (%d bytes)", g, len(o.Value)-n))
			}
		case 0x1d:
			if g, _, err := vlu.Parse(o.Value); err == nil {
				parts = append(parts, fmt.Sprintf("group %d selected", g))
			}
		case 0x0e:
			parts = append(parts, fmt.Sprintf("%d bytes of extra randomness", len(o.Value)))
		default:
			parts = append(parts, fmt.Sprintf("option %#02x", o.Type))
		}
	}
	if it.Err() != nil {
		parts = append(parts, "malformed")
	}
	return strings.Join(parts, "; ")
}

// negotiationFlags names the flags of options 0x1A and 0x1E.
func negotiationFlags(f byte) string {
	var parts []string
	if f&4 != 0 {
		parts = append(parts, "sent always")
	}
	if f&2 != 0 {
		parts = append(parts, "sent on request")
	}
	if f&1 != 0 {
		parts = append(parts, "requested")
	}
	if len(parts) == 0 {
		return "off"
	}
	return strings.Join(parts, ", ")
}

// closeRaw ends a raw session politely (one Session Close Request).
func closeRaw(s *rawSession) { s.send(wire.CloseRequest{}.Append(nil)) }

func checkFlash(ctx context.Context, e *env, r *rec) {
	s, ok := e.open(ctx, r, flash.Config{})
	if !ok {
		return
	}
	e.flash = s
	r.passf("session %08x open, keys agree", s.rsid)
}

func checkLibrtmfpComponent(_ context.Context, e *env, r *rec) {
	want := []byte{0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00}
	got := e.flash.skrc
	r.fact("responder component starts", "% x", prefix(got, 11))
	if !bytes.HasPrefix(got, want) {
		r.failf("it starts % x: librtmfp refuses the handshake", prefix(got, len(want)))
		return
	}
	r.passf("03 1a 00 00 02 1e 00")
}

func checkRtmfpCpp(ctx context.Context, e *env, r *rec) {
	s, ok := e.open(ctx, r, flash.Config{StaticGroups: []int{16, 14, 2}, RequestHMAC: true, RequestSequence: true,
		SendHMACAlways: true, SendSequenceAlways: true, HMACLength: 16})
	if !ok {
		return
	}
	defer closeRaw(s)
	r.passf("session %08x open with %s", s.rsid, describeComponent(s.skrc))
}

// groupCheck is the handshake check of one DH group: an initiator with a
// key of that group only.
func groupCheck(g int, ref string) check {
	return check{id: fmt.Sprintf("handshake.group%d", g), ref: ref, needs: []string{idIHello},
		title: fmt.Sprintf("a key agreement in Diffie-Hellman group %d (%d-bit MODP) completes", g, map[int]int{2: 1024, 14: 2048, 16: 4096}[g]),
		run: func(ctx context.Context, e *env, r *rec) {
			offered := e.hello.cert.groups
			if !slices.Contains(offered, uint64(g)) {
				if g == 2 {
					r.failf("the server does not offer group 2 (it offers %s)", joinUints(offered))
				} else {
					r.skipf("the server does not offer group %d (it offers %s)", g, joinUints(offered))
				}
				return
			}
			start := time.Now()
			s, ok := e.open(ctx, r, flash.Config{StaticGroups: []int{g}})
			if !ok {
				return
			}
			defer closeRaw(s)
			r.passf("session open in %s", since(start))
		}}
}

// modeCheck is a handshake check of a packet protection mode.
func modeCheck(cfg flash.Config) func(context.Context, *env, *rec) {
	return func(ctx context.Context, e *env, r *rec) {
		s, ok := e.open(ctx, r, cfg)
		if !ok {
			return
		}
		defer closeRaw(s)
		r.passf("the server's packets check: %s", describeComponent(s.skrc))
	}
}

// quiet is how long a check waits for an answer that must not come: a few
// round trips, at least 1.5 s, within the deadline.
func (e *env) quiet(ctx context.Context) time.Duration {
	q := 1500 * time.Millisecond
	if e.hello != nil {
		q = max(q, 8*e.hello.rtt)
	}
	if d, ok := ctx.Deadline(); ok {
		q = min(q, time.Until(d)-100*time.Millisecond)
	}
	return q
}

func checkRetransmit(ctx context.Context, e *env, r *rec) {
	c, err := e.rawConn()
	if err != nil {
		r.failf("%v", err)
		return
	}
	epd, tag := flash.URLEPD(e.opts.URL), newTag()
	first, err := c.hello(ctx, epd, tag)
	if err == nil && first.redirect == nil {
		var again helloResult
		if again, err = c.hello(ctx, epd, tag); err == nil {
			if bytes.Equal(again.rhello.Cookie, first.rhello.Cookie) {
				r.fact("repeated IHello", "the same cookie again")
			} else {
				r.fact("repeated IHello", "a new cookie")
			}
		}
	}
	if err != nil || first.redirect != nil {
		r.failf("%s", e.noAnswer(ctx, "repeated IHello", err))
		return
	}
	prof, err := flash.New(flash.Config{})
	if err != nil {
		r.failf("%v", err)
		return
	}
	s, err := c.keying(ctx, prof, epd, first.rhello, nil)
	if err != nil {
		r.failf("%s", e.noAnswer(ctx, "IIKeying", err))
		return
	}
	defer closeRaw(s)
	// The same IIKeying again, as an initiator whose RIKeying was lost.
	ik, err := c.resendIIKeying(ctx, s, e.quiet(ctx))
	switch {
	case err != nil:
		r.failf("%s", err)
	case ik.ResponderSessionID != s.rsid:
		r.failf("the repeated IIKeying opened a second session (%08x, then %08x)", s.rsid, ik.ResponderSessionID)
	case !bytes.Equal(ik.SKRC, s.skrc):
		r.failf("the repeated IIKeying got another responder component: the initiator would compute other keys")
	default:
		r.passf("the RIKeying of session %08x again", s.rsid)
	}
}

// resendIIKeying repeats the IIKeying of s (rebuilt from what was sent)
// and waits up to wait for the RIKeying again.
func (c *rawConn) resendIIKeying(ctx context.Context, s *rawSession, wait time.Duration) (wire.RIKeying, error) {
	if s.iikeying == nil {
		return wire.RIKeying{}, fmt.Errorf("internal error: no IIKeying kept")
	}
	c.sendStartup(0, s.iikeying)
	c.log.add("→ %s the same IIKeying again", c.to)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		d, err := c.read(wctx, 0)
		if err != nil {
			return wire.RIKeying{}, fmt.Errorf("the repeated IIKeying got no RIKeying within %s: an initiator whose RIKeying is lost cannot open the session", ms(wait))
		}
		ssid, chunks, err := rawpkt.OpenStartup(d)
		if err != nil || ssid != s.isid {
			continue
		}
		cr := wire.NewChunkReader(chunks)
		for cr.Next() {
			if cr.Type() == wire.TypeRIKeying {
				if ri, err := wire.ParseRIKeying(cr.Value()); err == nil {
					ri.SKRC = bytes.Clone(ri.SKRC)
					return ri, nil
				}
			}
		}
	}
}

func checkWrongCookie(ctx context.Context, e *env, r *rec) {
	c, err := e.rawConn()
	if err != nil {
		r.failf("%v", err)
		return
	}
	epd := flash.URLEPD(e.opts.URL)
	h, err := c.hello(ctx, epd, newTag())
	if err != nil || h.redirect != nil {
		r.failf("%s", e.noAnswer(ctx, "IHello", err))
		return
	}
	wrong := bytes.Clone(h.rhello.Cookie)
	if len(wrong) == 0 {
		wrong = []byte{0}
	}
	for i := range wrong {
		wrong[i] ^= 0x5a
	}
	prof, err := flash.New(flash.Config{})
	if err != nil {
		r.failf("%v", err)
		return
	}
	wait := e.quiet(ctx)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	s, err := c.keying(wctx, prof, epd, h.rhello, wrong)
	switch {
	case err == nil:
		closeRaw(s)
		r.failf("the server opened session %08x for a cookie it never gave: it keeps no proof that the initiator received its RHello", s.rsid)
	case wctx.Err() == nil || ctx.Err() != nil:
		r.failf("%s", e.noAnswer(ctx, "IIKeying", err))
	default:
		r.passf("no RIKeying within %s", ms(wait))
	}
}
