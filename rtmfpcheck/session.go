package rtmfpcheck

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

func sessionChecks() category {
	flashOK := []string{idFlash}
	return category{name: "session", checks: []check{
		{id: "session.ping", title: "Pings of 8, 100 and 900 bytes are answered with Ping Replies echoing their data",
			ref: "RFC 7016 §2.3.9, §2.3.10, §3.5.4", needs: flashOK, run: checkPing},
		{id: "session.close", title: "a Session Close Request is answered with a Session Close Acknowledgement",
			ref: "RFC 7016 §3.5.5, §2.3.17, §2.3.18", needs: flashOK, run: checkClose},
		{id: "session.close-ack", title: "a bare Session Close Acknowledgement (how librtmfp and rtmfp-cpp's clients leave) ends the session: later Pings go unanswered",
			ref: "RFC 7016 §3.5.5, librtmfp (interop/FINDINGS.md)", needs: flashOK, run: checkBareCloseAck},
	}}
}

func checkPing(ctx context.Context, e *env, r *rec) {
	s := e.flash
	s.c.log = r.wire
	var rtts []string
	for _, size := range []int{8, 100, 900} {
		rtt, err := s.ping(ctx, size)
		if err != nil {
			r.failf("%s", e.noAnswer(ctx, fmt.Sprintf("Ping of %d bytes", size), err))
			return
		}
		rtts = append(rtts, ms(rtt))
	}
	r.fact("round trips", "%s", joinComma(rtts))
	r.passf("3 of 3 answered")
}

func checkClose(ctx context.Context, e *env, r *rec) {
	s := e.flash
	s.c.log = r.wire
	e.flash = nil // closed now, whatever the answer
	chunk := wire.CloseRequest{}.Append(nil)
	s.send(chunk)
	s.c.log.add("→ %s Session Close Request", s.c.to)
	start := time.Now()
	_, err := s.recv(ctx, rawRTX, func() { s.send(chunk) }, func(typ byte, _ []byte) error {
		if typ == wire.TypeCloseAck {
			return errStopped
		}
		return nil
	})
	if err != nil {
		r.failf("%s", e.noAnswer(ctx, "Session Close Request", err))
		return
	}
	r.passf("acknowledged in %s", since(start))
}

var errAnswered = errors.New("answered")

func checkBareCloseAck(ctx context.Context, e *env, r *rec) {
	s, ok := e.open(ctx, r, flash.Config{})
	if !ok {
		return
	}
	s.send(wire.CloseAck{}.Append(nil))
	s.c.log.add("→ %s Session Close Acknowledgement (nothing asked it)", s.c.to)
	wait := e.quiet(ctx)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ping := wire.Ping{Data: []byte("after close")}.Append(nil)
	sendPing := func() {
		s.send(ping)
		s.c.log.add("→ %s Ping", s.c.to)
	}
	// Pings every quarter of the wait, the first once the acknowledgement
	// has had time to arrive.
	var answers []string
	_, err := s.recv(wctx, wait/4, sendPing, func(typ byte, _ []byte) error {
		switch typ {
		case wire.TypePingReply:
			return errAnswered
		case wire.TypeCloseAck, wire.TypeCloseRequest:
			if len(answers) < 4 {
				answers = append(answers, chunkName(typ))
			}
		}
		return nil
	})
	if len(answers) > 0 {
		r.fact("the server answered", "%s", joinComma(answers))
	}
	if errors.Is(err, errAnswered) {
		closeRaw(s)
		r.failf("the session still answers Pings after the acknowledgement: the server keeps librtmfp's departed clients until they time out")
		return
	}
	r.passf("no Ping Reply within %s", ms(wait))
}
