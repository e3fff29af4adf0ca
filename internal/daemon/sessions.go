package daemon

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
type sessionLog struct {
	d        *Daemon
	wg       sync.WaitGroup
	giveUp   chan struct{} // closed when the shutdown stops waiting for sessions
	mu       sync.Mutex
	stopped  bool // giveUp is closed: no session is followed any more
	shutdown atomic.Bool
	closed   atomic.Int64 // sessions ended during the shutdown
	dropped  atomic.Int64 // of which abandoned (no answer to the close)
}

func newSessionLog(d *Daemon) *sessionLog {
	return &sessionLog{d: d, giveUp: make(chan struct{})}
}

// follow logs the session's end.
func (l *sessionLog) follow(s *rtmfp.Session) {
	born := time.Now()
	l.mu.Lock()
	if l.stopped { // accepted as the shutdown ended
		l.mu.Unlock()
		s.Abort()
		return
	}
	l.wg.Add(1)
	l.mu.Unlock()
	go func() {
		defer l.wg.Done()
		abandoned := false
		select {
		case <-s.Done():
		case <-l.giveUp:
			abandoned = true
		}
		reason := "abandoned at the shutdown deadline"
		if !abandoned {
			reason, abandoned = l.reason(s.Err())
		}
		if l.shutdown.Load() {
			l.closed.Add(1)
			if abandoned {
				l.dropped.Add(1)
			}
		}
		st := s.Stats()
		l.d.log.Info("session closed", "session", s.FarPeerID().String(), "remote", s.RemoteAddr().String(), "proto", "rtmfp",
			"p2p", s.PeerMode(), "reason", reason, "duration", time.Since(born).Round(time.Millisecond),
			"bytesIn", st.BytesIn, "bytesOut", st.BytesOut)
	}()
}

// reason says why a session ended, in the words of the log, and whether it
// was abandoned.
func (l *sessionLog) reason(err error) (string, bool) {
	switch {
	case errors.Is(err, rtmfp.ErrAbandoned):
		return "no answer to the close at shutdown", true
	case errors.Is(err, rtmfp.ErrFarClose):
		return "closed by the peer", false
	case errors.Is(err, rtmfp.ErrTimeout):
		return "timed out", false
	case l.shutdown.Load():
		return "shutdown", false
	case err == nil, errors.Is(err, rtmfp.ErrSessionClosed):
		return "closed by the server", false
	}
	return err.Error(), false
}

// stopWaiting makes the sessions still open count as abandoned and waits
// for their lines to be logged. Calling it again only waits.
func (l *sessionLog) stopWaiting() {
	l.mu.Lock()
	if !l.stopped {
		l.stopped = true
		close(l.giveUp)
	}
	l.mu.Unlock()
	l.wg.Wait()
}
