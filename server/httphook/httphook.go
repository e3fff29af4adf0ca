// Package httphook calls HTTP callbacks in nginx-rtmp's style: a POST with
// a JSON body describing the event; for the hooks that decide (connect,
// publish, play, group join) a 2xx answer allows, a 3xx answer with a
// Location redirects, and any other status refuses. Hooks that report an
// end (publish done, play done, record done) are sent in the background,
// retried, and never hold a client up.
//
// Answers are bounded (MaxAnswer bytes), time-limited (Hook.Timeout) and
// never followed as redirects; a 2xx or 4xx answer with a JSON content type
// may say more: {"allow": false, "description": "…", "redirect": "…"}.
package httphook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/rtmfpd/rtmfpd/internal/waitgroup"
)

// Defaults.
const (
	DefaultTimeout = 5 * time.Second
	DefaultRetries = 3
	// MaxAnswer bounds the body of an answer that is read.
	MaxAnswer = 64 << 10
	// queueLen bounds the reports waiting to be sent.
	queueLen = 1024
	workers  = 4
	// maxDescription bounds the description taken from an answer.
	maxDescription = 256
)

// Hook is one configured callback.
type Hook struct {
	URL string
	// Timeout bounds one request (DefaultTimeout when 0).
	Timeout time.Duration
	// FailOpen allows when the hook cannot answer (down, timeout, a bad
	// answer); otherwise such a failure refuses.
	FailOpen bool
	// Retries is how many times a report is sent again after a failure
	// (DefaultRetries when 0; -1 none).
	Retries int
}

func (h Hook) timeout() time.Duration {
	if h.Timeout > 0 {
		return h.Timeout
	}
	return DefaultTimeout
}

// Answer is what a deciding hook said.
type Answer struct {
	Allow bool
	// Description comes from the answer's JSON, or its text, or its status.
	Description string
	// Redirect is the Location of a 3xx answer or the JSON "redirect".
	Redirect string
	// Status is the HTTP status.
	Status int
}

// Client sends hook requests. Its zero value is not usable; see New.
type Client struct {
	hc        *http.Client
	log       *slog.Logger
	retryWait time.Duration

	mu     sync.Mutex
	closed bool
	queue  chan report
	wg     sync.WaitGroup
	stop   chan struct{}

	pending sync.WaitGroup // reports queued or being sent

	dropped, sent, failed atomic.Uint64
}

type report struct {
	h     Hook
	event string
	body  []byte
}

// New returns a client; retryWait is the wait before the first retry of a
// report, doubling after each (1 s when 0).
func New(log *slog.Logger, retryWait time.Duration) *Client {
	if retryWait <= 0 {
		retryWait = time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxConnsPerHost = 64
	tr.MaxIdleConnsPerHost = 16
	tr.ResponseHeaderTimeout = 0 // the request's context bounds it
	c := &Client{
		hc: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer
		}},
		log: log, retryWait: retryWait, queue: make(chan report, queueLen), stop: make(chan struct{}),
	}
	for range workers {
		c.wg.Go(c.work)
	}
	return c
}

// Ask calls a deciding hook. An error means the hook did not answer
// usably (unreachable, timed out, an answer too large or malformed); the
// caller applies the hook's FailOpen.
func (c *Client) Ask(ctx context.Context, h Hook, event string, body any) (Answer, error) {
	js, err := json.Marshal(body)
	if err != nil {
		return Answer{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout())
	defer cancel()
	return c.do(ctx, h, event, js)
}

func (c *Client) do(ctx context.Context, h Hook, event string, js []byte) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(js))
	if err != nil {
		return Answer{}, fmt.Errorf("%s: %w", event, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rtmfpd")
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return Answer{}, fmt.Errorf("%s: no answer within %v", event, h.timeout())
		}
		return Answer{}, fmt.Errorf("%s: %w", event, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return Answer{}, fmt.Errorf("%s: answer not complete within %v", event, h.timeout())
		}
		return Answer{}, fmt.Errorf("%s: reading the answer: %w", event, err)
	}
	if len(raw) > MaxAnswer {
		return Answer{}, fmt.Errorf("%s: answer larger than %d bytes", event, MaxAnswer)
	}
	return parse(event, resp, raw)
}

// jsonAnswer is the optional JSON body of an answer.
type jsonAnswer struct {
	Allow       *bool  `json:"allow"`
	Description string `json:"description"`
	Redirect    string `json:"redirect"`
}

func parse(event string, resp *http.Response, raw []byte) (Answer, error) {
	a := Answer{Status: resp.StatusCode}
	var ja jsonAnswer
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &ja); err != nil {
			return Answer{}, fmt.Errorf("%s: the answer is labelled JSON but is not: %v", event, err)
		}
		a.Description, a.Redirect = clip(ja.Description), ja.Redirect
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		a.Allow = ja.Allow == nil || *ja.Allow
	case code >= 300 && code < 400:
		a.Allow = true
		if loc := resp.Header.Get("Location"); loc != "" {
			a.Redirect = loc
		}
		if a.Redirect == "" {
			return Answer{}, fmt.Errorf("%s: HTTP %d without a Location", event, code)
		}
	default:
		if a.Description == "" && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			a.Description = clip(firstLine(raw))
		}
	}
	if !a.Allow && a.Description == "" {
		a.Description = fmt.Sprintf("refused by %s (HTTP %d)", event, resp.StatusCode)
	}
	if len(a.Redirect) > 1024 {
		return Answer{}, fmt.Errorf("%s: redirect longer than 1024 bytes", event)
	}
	return a, nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(s)
}

func clip(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	if len(s) > maxDescription {
		s = s[:maxDescription]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// Notify sends a report (a "done" hook) in the background, retrying
// failures; when the queue is full the report is dropped and logged.
func (c *Client) Notify(h Hook, event string, body any) {
	js, err := json.Marshal(body)
	if err != nil {
		c.log.Warn("hook not sent", "hook", event, "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.pending.Add(1)
	select {
	case c.queue <- report{h: h, event: event, body: js}:
	default:
		c.pending.Done()
		c.dropped.Add(1)
		c.log.Warn("hook dropped", "hook", event, "url", h.URL, "reason", "too many reports waiting")
	}
}

func (c *Client) work() {
	for {
		select {
		case r := <-c.queue:
			c.send(r)
			c.pending.Done()
		case <-c.stop:
			return
		}
	}
}

// send delivers one report, retrying with a doubling wait.
func (c *Client) send(r report) {
	retries := r.h.Retries
	if retries == 0 {
		retries = DefaultRetries
	}
	wait := c.retryWait
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), r.h.timeout())
		go func() {
			select {
			case <-c.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		a, err := c.do(ctx, r.h, r.event, r.body)
		cancel()
		if err == nil && a.Status < 300 {
			c.sent.Add(1)
			return
		}
		if err == nil {
			err = fmt.Errorf("HTTP %d", a.Status)
		}
		c.failed.Add(1)
		if attempt >= retries {
			c.dropped.Add(1)
			c.log.Warn("hook failed", "hook", r.event, "url", r.h.URL, "attempts", attempt+1, "err", err)
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.stop:
			t.Stop()
			c.dropped.Add(1)
			return
		}
		wait *= 2
	}
}

// Stats counts the reports.
type Stats struct {
	Sent, Failed, Dropped uint64
}

// Stats returns the report counters: sent, failed attempts, dropped.
func (c *Client) Stats() Stats {
	return Stats{Sent: c.sent.Load(), Failed: c.failed.Load(), Dropped: c.dropped.Load()}
}

// Close sends what is queued (until ctx ends, when what is left is
// dropped), then stops the workers.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	done := waitgroup.Done(&c.pending)
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.New("httphook: reports left unsent at close")
	}
	close(c.stop)
	c.wg.Wait()
	for len(c.queue) > 0 { // dropped: the workers are gone
		<-c.queue
		c.dropped.Add(1)
		c.pending.Done()
	}
	<-done
	return err
}
