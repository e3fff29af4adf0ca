package server

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// sessionLog follows the RTMFP sessions far ends open to the server and
// logs each one's end at info level: who (session: the far peer ID,
// remote), why (reason), how long (duration) and how much (bytesIn,
// bytesOut). At shutdown it tells the sessions closed from those abandoned.
// It holds no goroutine of its own per session: the goroutine serving a
// session reports its end.
type sessionLog struct {
	d        *Daemon
	shutdown atomic.Bool
	closed   atomic.Int64 // sessions ended during the shutdown
	dropped  atomic.Int64 // of which abandoned (no answer to the close)

	mu      sync.Mutex
	live    map[*rtmfp.Session]time.Time // open sessions and when they were accepted
	stopped bool                         // the shutdown stopped waiting: what was live is logged
	// bytes of the sessions that ended
	bytesIn, bytesOut uint64
}

// bytes returns the bytes received and sent by the sessions followed, ever.
func (l *sessionLog) bytes() (in, out uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	in, out = l.bytesIn, l.bytesOut
	for s := range l.live {
		st := s.Stats()
		in += st.BytesIn
		out += st.BytesOut
	}
	return in, out
}

func newSessionLog(d *Daemon) *sessionLog {
	return &sessionLog{d: d, live: map[*rtmfp.Session]time.Time{}}
}

// follow notes an accepted session; it reports false (and aborts the
// session) once the shutdown has stopped waiting for sessions.
func (l *sessionLog) follow(s *rtmfp.Session) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		s.Abort()
		return false
	}
	l.live[s] = time.Now()
	return true
}

// ended logs the end of s, which has ended (its Done is closed).
func (l *sessionLog) ended(s *rtmfp.Session) {
	reason, abandoned := l.reason(s.Err())
	l.end(s, reason, abandoned)
}

func (l *sessionLog) end(s *rtmfp.Session, reason string, abandoned bool) {
	st := s.Stats()
	l.mu.Lock()
	born, ok := l.live[s]
	delete(l.live, s)
	if ok {
		l.bytesIn += st.BytesIn
		l.bytesOut += st.BytesOut
	}
	l.mu.Unlock()
	if !ok {
		return // logged already
	}
	if l.shutdown.Load() {
		l.closed.Add(1)
		if abandoned {
			l.dropped.Add(1)
		}
	}
	l.d.log.Info("session closed", "session", s.FarPeerID().String(), "remote", s.RemoteAddr().String(), "proto", "rtmfp",
		"p2p", s.PeerMode(), "reason", reason, "duration", time.Since(born).Round(time.Millisecond),
		"bytesIn", st.BytesIn, "bytesOut", st.BytesOut)
}

// reason says why a session ended, in the words of the log, and whether it
// was abandoned.
func (l *sessionLog) reason(err error) (string, bool) {
	switch {
	case errors.Is(err, rtmfp.ErrAbandoned):
		return "no answer to the close at shutdown", true
	case errors.Is(err, rtmfp.ErrFarClose):
		return "closed by the peer", false
	case errors.Is(err, rtmfp.ErrStalled):
		return "no acknowledged progress (a slow consumer)", false
	case errors.Is(err, rtmfp.ErrTimeout):
		return "timed out", false
	case l.shutdown.Load():
		return "shutdown", false
	case err == nil, errors.Is(err, rtmfp.ErrSessionClosed):
		return "closed by the server", false
	}
	return err.Error(), false
}

// stopWaiting logs the sessions that have ended meanwhile and, as
// abandoned, those still open (the shutdown's time for them is up).
func (l *sessionLog) stopWaiting() {
	l.mu.Lock()
	l.stopped = true
	var open []*rtmfp.Session
	for s := range l.live {
		open = append(open, s)
	}
	l.mu.Unlock()
	for _, s := range open {
		select {
		case <-s.Done():
			l.ended(s)
		default:
			l.end(s, "abandoned at the shutdown deadline", true)
		}
	}
}
