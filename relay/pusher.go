package relay

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// States of a target.
const (
	StateConnecting = "connecting" // dialing and publishing
	StatePublishing = "publishing" // relaying
	StateRetrying   = "retrying"   // waiting to retry after a failure
	StateFailed     = "failed"     // gave up after MaxAttempts failures
	StateDraining   = "draining"   // sending what is queued before unpublishing
	StateStopped    = "stopped"    // unpublished
)

// TargetStatus is the state of one target of one stream.
type TargetStatus struct {
	// Stream is the local stream (app/instance/name).
	Stream string `json:"stream"`
	// Target is the remote stream's URL (without its query).
	Target string `json:"target"`
	Mode   string `json:"mode"`
	State  string `json:"state"`
	// Attempts counts the connections tried; Failures the consecutive
	// failures since the last successful publish.
	Attempts int `json:"attempts"`
	Failures int `json:"failures"`
	// LastError is the last failure, when it happened.
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
	// Since is when the current state began; NextAttempt when a retrying
	// target tries again.
	Since       time.Time `json:"since"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	// BytesSent and MessagesSent count the media written to the target
	// (payload bytes), over all its connections; Dropped the messages its
	// queue dropped because the target fell behind or was down.
	BytesSent    uint64 `json:"bytesSent"`
	MessagesSent uint64 `json:"messagesSent"`
	Dropped      uint64 `json:"dropped"`
}

// pusher relays one stream to one target.
type pusher struct {
	m   *Manager
	s   *netstream.Stream
	t   resolved
	ctx context.Context // ended by kill
	end context.CancelFunc

	stop     chan struct{} // closed by Unpublish: drain and finish
	stopOnce sync.Once

	mu sync.Mutex
	st TargetStatus
}

func newPusher(m *Manager, s *netstream.Stream, t resolved) *pusher {
	ctx, cancel := context.WithCancel(context.Background())
	return &pusher{m: m, s: s, t: t, ctx: ctx, end: cancel, stop: make(chan struct{}),
		st: TargetStatus{Stream: s.Key(), Target: t.display, Mode: t.mode, State: StateConnecting, Since: time.Now()}}
}

func (p *pusher) kill() { p.end() }

func (p *pusher) status() TargetStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

func (p *pusher) setState(state string) {
	p.mu.Lock()
	p.st.State, p.st.Since, p.st.NextAttempt = state, time.Now(), time.Time{}
	st := p.st
	p.mu.Unlock()
	p.notify(st)
}

// notify passes a state change to the manager's OnState hook.
func (p *pusher) notify(st TargetStatus) {
	if h := p.m.OnState; h != nil {
		h(st)
	}
}

func (p *pusher) stopped() bool {
	select {
	case <-p.stop:
		return true
	default:
		return p.ctx.Err() != nil
	}
}

// run connects, relays and reconnects until the stream is unpublished or
// the manager is closed. sub is the first subscription, made when the
// stream was published.
func (p *pusher) run(sub *netstream.Subscription, sink *sink) {
	log := p.m.log.With("app", netstream.Clip(p.s.App), "stream", netstream.Clip(p.s.Name), "target", netstream.Clip(p.t.display))
	defer p.end()
	for {
		if sub == nil {
			sink = p.newSink()
			sub = p.s.Subscribe(sink, p.m.cfg.QueueBytes)
		}
		p.mu.Lock()
		p.st.Attempts++
		attempt := p.st.Attempts
		p.mu.Unlock()
		p.setState(StateConnecting)
		r, err := p.dial()
		if err == nil {
			p.mu.Lock()
			p.st.Failures = 0
			p.mu.Unlock()
			p.setState(StatePublishing)
			log.Info("relay: publishing to target", "state", StatePublishing, "attempt", attempt, "mode", p.t.mode)
			sink.attach(r)
			err = p.relay(sub, r)
			if err == nil { // unpublished
				p.finish(sub)
				log.Info("relay: target unpublished", "state", StateStopped, "bytesOut", p.status().BytesSent)
				return
			}
		}
		p.finish(sub)
		sub = nil
		if p.stopped() {
			p.setState(StateStopped)
			return
		}
		wait, giveUp := p.failed(err)
		if isLoop(err) {
			giveUp = true // the same refusal every time
		}
		if giveUp {
			log.Error("relay: target failed; giving up", "state", StateFailed, "attempt", attempt, "err", err)
			p.setState(StateFailed)
			select {
			case <-p.stop:
			case <-p.ctx.Done():
			}
			p.setState(StateStopped)
			return
		}
		log.Warn("relay: target failed; retrying", "state", StateRetrying, "attempt", attempt, "err", err, "retryIn", wait.Round(time.Millisecond))
		p.mu.Lock()
		p.st.State, p.st.Since, p.st.NextAttempt = StateRetrying, time.Now(), time.Now().Add(wait)
		st := p.st
		p.mu.Unlock()
		p.notify(st)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-p.stop:
		case <-p.ctx.Done():
		}
		timer.Stop()
		if p.stopped() {
			p.setState(StateStopped)
			return
		}
	}
}

// dial connects to the target, bounded by DialTimeout. A stream
// unpublished meanwhile leaves it DrainTimeout more to connect, so that
// what is queued for the target (a short stream, the last frames) is still
// sent.
func (p *pusher) dial() (remote, error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.m.cfg.DialTimeout)
	defer cancel()
	go func() {
		select {
		case <-p.stop:
		case <-ctx.Done():
			return
		}
		drain := time.NewTimer(p.m.cfg.DrainTimeout)
		defer drain.Stop()
		select {
		case <-drain.C:
			cancel()
		case <-ctx.Done():
		}
	}()
	r, err := dialRemote(ctx, p.t, &p.m.cfg)
	if err != nil && p.stopped() {
		return nil, errUnpublished
	}
	return r, err
}

// relay waits while the subscription feeds the remote: nil once the stream
// is unpublished and the remote stream too, the error otherwise.
func (p *pusher) relay(sub *netstream.Subscription, r remote) error {
	select {
	case <-r.Done():
		r.Close()
		return r.Err()
	case <-sub.Done():
		r.Close()
		if err := sub.Err(); err != nil {
			return err
		}
		return errors.New("relay: subscription ended")
	case <-p.ctx.Done():
		r.Close()
		return p.ctx.Err()
	case <-p.stop:
	}
	// Unpublished: send what is queued, then unpublish the remote stream.
	p.setState(StateDraining)
	drained := make(chan struct{})
	sub.After(func() { close(drained) })
	timer := time.NewTimer(p.m.cfg.DrainTimeout)
	defer timer.Stop()
	select {
	case <-drained:
	case <-r.Done():
	case <-sub.Done():
	case <-timer.C:
	case <-p.ctx.Done():
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.m.cfg.DrainTimeout)
	defer cancel()
	r.Unpublish(ctx)
	p.setState(StateStopped)
	return nil
}

// finish closes a subscription and keeps its drop count.
func (p *pusher) finish(sub *netstream.Subscription) {
	sub.Close()
	<-sub.Done()
	d := sub.Stats().Dropped
	p.mu.Lock()
	p.st.Dropped += d
	p.mu.Unlock()
}

// failed records a failure and returns the wait before the next attempt
// (doubling from MinBackoff to MaxBackoff, with ±20% jitter), or giveUp.
func (p *pusher) failed(err error) (wait time.Duration, giveUp bool) {
	cfg := &p.m.cfg
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.Failures++
	p.st.LastError, p.st.LastErrorAt = err.Error(), time.Now()
	if cfg.MaxAttempts > 0 && p.st.Failures >= cfg.MaxAttempts {
		return 0, true
	}
	wait = cfg.MinBackoff
	for i := 1; i < p.st.Failures && wait < cfg.MaxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, cfg.MaxBackoff)
	return time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64())), false
}

// sink feeds one connection to the target: it waits for the connection,
// then writes, counting what it sends.
type sink struct {
	p     *pusher
	ready chan struct{}
	r     remote
}

func (p *pusher) newSink() *sink { return &sink{p: p, ready: make(chan struct{})} }

// attach gives the sink its connection.
func (s *sink) attach(r remote) {
	s.r = r
	close(s.ready)
}

// WriteMedia waits for the connection, then writes m to the target (with
// metadata as @setDataFrame).
func (s *sink) WriteMedia(ctx context.Context, m media.Message) error {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := s.r.WriteMedia(ctx, setDataFrame(m)); err != nil {
		return err
	}
	s.p.mu.Lock()
	s.p.st.BytesSent += uint64(len(m.Payload))
	s.p.st.MessagesSent++
	s.p.mu.Unlock()
	return nil
}
