package server

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Refusal is one refusal the server logged (a connect, publish, play,
// group join, session or request it turned down), for the dashboard.
type Refusal struct {
	Time time.Time `json:"time"`
	// What is the log line's message ("connect refused", "refused",
	// "group join refused", ...).
	What    string `json:"what"`
	Session string `json:"session,omitempty"`
	Remote  string `json:"remote,omitempty"`
	Proto   string `json:"proto,omitempty"`
	App     string `json:"app,omitempty"`
	Stream  string `json:"stream,omitempty"`
	Code    string `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// refusalRing keeps the last refusals.
type refusalRing struct {
	mu    sync.Mutex
	ring  []Refusal
	next  int
	total uint64
}

// maxRefusals is how many refusals the dashboard shows.
const maxRefusals = 50

func (r *refusalRing) add(x Refusal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	if len(r.ring) < maxRefusals {
		r.ring = append(r.ring, x)
		return
	}
	r.ring[r.next] = x
	r.next = (r.next + 1) % maxRefusals
}

// recent returns the refusals kept, newest first, and how many there were
// ever.
func (r *refusalRing) recent() ([]Refusal, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Refusal, 0, len(r.ring))
	for i := range r.ring {
		out = append(out, r.ring[(r.next+len(r.ring)-1-i)%len(r.ring)])
	}
	return out, r.total
}

// refusalTap is a slog.Handler that passes every record on and keeps the
// refusals: the lines whose message ends in "refused" (the server logs one
// such line per refusal, with the same keys).
type refusalTap struct {
	next  slog.Handler
	ring  *refusalRing
	attrs []slog.Attr // from WithAttrs (no groups: those lines have none)
	group bool        // WithGroup was used: attributes are not at the top
}

func (h *refusalTap) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *refusalTap) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelInfo && strings.HasSuffix(rec.Message, "refused") && !h.group {
		x := Refusal{Time: rec.Time, What: rec.Message}
		set := func(a slog.Attr) bool {
			v := clipText(a.Value.String())
			switch a.Key {
			case "session":
				x.Session = v
			case "remote":
				x.Remote = v
			case "proto":
				x.Proto = v
			case "app":
				x.App = v
			case "stream":
				x.Stream = v
			case "code":
				x.Code = v
			case "reason", "err":
				if x.Reason == "" || a.Key == "reason" {
					x.Reason = v
				}
			}
			return true
		}
		for _, a := range h.attrs {
			set(a)
		}
		rec.Attrs(set)
		h.ring.add(x)
	}
	if !h.next.Enabled(ctx, rec.Level) {
		return nil
	}
	return h.next.Handle(ctx, rec)
}

func (h *refusalTap) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	if !h.group {
		c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	}
	return &c
}

func (h *refusalTap) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	c.group = true
	return &c
}

// clipText shortens a logged value for the dashboard.
func clipText(s string) string {
	const n = 200
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
