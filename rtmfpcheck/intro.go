package rtmfpcheck

import (
	"context"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

const (
	idRedirect = "introduction.redirect"
	idDirect   = "introduction.direct"
)

func introductionChecks() category {
	return category{name: "introduction", checks: []check{
		{id: idRedirect, title: "an IHello naming a connected client's peer ID gets a Redirect listing where that client is",
			ref: "RFC 7016 §3.5.1.4, §2.3.5", needs: []string{idConnect}, run: checkRedirect},
		{id: "introduction.forward", title: "the client asked for gets a Forwarded IHello with the initiator's address",
			ref: "RFC 7016 §3.5.1.5, §2.3.3", needs: []string{idConnect}, run: checkForward},
		{id: idDirect, title: "the direct session between the two clients opens (the far certificate hashes to the peer ID asked for)",
			ref: "RFC 7016 §3.5.1.6, RFC 7425 §4.4", needs: []string{idConnect}, run: checkDirect},
		{id: "introduction.media", title: "a direct NetStream plays over the direct session, media not crossing the server",
			ref: "Flash Player NetStream.DIRECT_CONNECTIONS (rtmfp-facts §5.1)", needs: []string{idDirect}, run: checkDirectMedia},
	}}
}

// introRun is the introduction the checks share: a asks the server for b.
type introRun struct {
	a, b   *client.Conn
	ta, tb *tap
	pub    *client.DirectStream
	start  time.Time
	done   chan struct{} // closed when ConnectPeer returned
	s      *rtmfp.Session
	err    error
	setup  string // why the setup failed, if it did
}

// redirectGrace is how long a Redirect may trail the end of the direct
// session's handshake.
const redirectGrace = 500 * time.Millisecond

// directStream is the name of the stream b offers directly.
const directStream = "rtmfpcheck-direct"

// intro sets the introduction up once: two clients announce their
// addresses (rtmfp-cpp introduces only those that did), then a asks for b.
func (e *env) intro(ctx context.Context, r *rec) *introRun {
	if e.introRun != nil {
		return e.introRun
	}
	run := &introRun{done: make(chan struct{})}
	e.introRun = run
	var cs [2]*client.Conn
	var ts [2]*tap
	for i := range cs {
		c, t, err := e.dial(ctx, r, client.Options{})
		if err != nil {
			run.setup = "a client could not connect: " + plain(err)
			close(run.done)
			return run
		}
		// Announced, and read by the server before the introduction
		// (an unanswered barrier only costs its wait).
		if err := c.SetPeerInfo(ctx, e.localAddrs(c.Session().Endpoint())...); err == nil {
			barrier(ctx, c)
		}
		cs[i], ts[i] = c, t
	}
	run.a, run.b, run.ta, run.tb = cs[0], cs[1], ts[0], ts[1]
	var err error
	if run.pub, err = client.PublishDirect(run.b, directStream); err != nil {
		run.setup = "the peer could not offer its stream: " + plain(err)
		close(run.done)
		return run
	}
	run.start = time.Now()
	go func() {
		defer close(run.done)
		cctx, cancel := context.WithTimeout(context.Background(), e.opts.Timeout)
		defer cancel()
		run.s, run.err = run.a.ConnectPeer(cctx, run.b.Session().Endpoint().PeerID())
	}()
	return run
}

func checkRedirect(ctx context.Context, e *env, r *rec) {
	run := e.intro(ctx, r)
	if run.setup != "" {
		r.failf("%s", run.setup)
		return
	}
	var grace <-chan time.Time // runs once the direct session is settled
	for {
		wait := run.ta.wait()
		for _, rd := range run.ta.allRedirects() {
			r.fact("addresses", "%s", describeAddrs(rd.Addresses))
			observed := false
			for _, a := range rd.Addresses {
				observed = observed || a.Origin&3 == wire.OriginObserved
			}
			if len(rd.Addresses) == 0 {
				r.failf("the Redirect lists no address")
				return
			}
			if !observed {
				r.fact("note", "no address is marked observed (origin 2)")
			}
			r.passf("Redirect in %s: %s", since(run.start), describeAddrs(rd.Addresses))
			return
		}
		done := run.done
		if grace != nil {
			done = nil
		}
		select {
		case <-wait:
		case <-done:
			// MonaServer2 sends the Forwarded IHello before the
			// Redirect, so on a fast path the peer's RHello can come
			// first: the Redirect gets a little longer.
			grace = time.After(redirectGrace)
		case <-grace:
			if run.err == nil {
				r.failf("no Redirect within %v of the direct session opening (after the Forwarded IHello alone)", redirectGrace)
			} else {
				r.failf("no Redirect, and no direct session: %s", plain(run.err))
			}
			return
		case <-ctx.Done():
			r.failf("no Redirect within %v", e.opts.Timeout)
			return
		}
	}
}

func checkForward(ctx context.Context, e *env, r *rec) {
	run := e.intro(ctx, r)
	if run.setup != "" {
		r.failf("%s", run.setup)
		return
	}
	ep := run.b.Session().Endpoint()
	for ep.Stats().FIHellosIn == 0 {
		select {
		case <-run.done:
			if ep.Stats().FIHellosIn > 0 {
				continue
			}
			r.failf("the peer got no Forwarded IHello (the direct session %s)", sessionOutcome(run))
			return
		case <-ctx.Done():
			r.failf("the peer got no Forwarded IHello within %v", e.opts.Timeout)
			return
		case <-time.After(20 * time.Millisecond):
			// Stats are counters without a signal; poll them briefly.
		}
	}
	r.fact("Forwarded IHellos", "%d", ep.Stats().FIHellosIn)
	r.passf("%d Forwarded IHello(s) at the peer", ep.Stats().FIHellosIn)
}

func sessionOutcome(run *introRun) string {
	if run.err != nil {
		return "did not open: " + plain(run.err)
	}
	return "opened anyway"
}

func checkDirect(ctx context.Context, e *env, r *rec) {
	run := e.intro(ctx, r)
	if run.setup != "" {
		r.failf("%s", run.setup)
		return
	}
	select {
	case <-run.done:
	case <-ctx.Done():
		r.failf("no direct session within %v", e.opts.Timeout)
		return
	}
	if run.err != nil {
		r.failf("no direct session: %s", plain(run.err))
		return
	}
	want := run.b.Session().Endpoint().PeerID()
	if run.s.FarPeerID() != want {
		r.failf("the session opened to %s, not to the peer asked for", run.s.FarPeerID())
		return
	}
	r.fact("peer address", "%s", run.s.RemoteAddr())
	r.passf("open in %s, to %s", since(run.start), run.s.RemoteAddr())
}

func checkDirectMedia(ctx context.Context, e *env, r *rec) {
	run := e.introRun
	st, err := client.PlayDirect(ctx, run.s, directStream)
	if err != nil {
		r.failf("%s", statusFailure(ctx, e, "direct play", err))
		return
	}
	// Published in real time, as a direct publisher's camera does: a
	// player that attaches a little after its Play.Start loses the first
	// frames only.
	pub := run.pub
	gen := startGenerator(func(_ context.Context, m media.Message) error {
		pub.WriteMedia(m)
		return nil
	})
	defer gen.close()
	video, audio, lat, err := countFrames(ctx, st.ReadMedia, gen, 20)
	if err != nil {
		r.failf("%d video and %d audio frames arrived: %s", video, audio, e.noAnswer(ctx, "direct play", err))
		return
	}
	p50, _, mx := latencies(lat)
	r.fact("latency", "median %s, max %s", ms(p50), ms(mx))
	r.passf("%d video and %d audio frames, median latency %s", video, audio, ms(p50))
}
