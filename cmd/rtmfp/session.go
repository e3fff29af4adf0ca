package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/mediafile"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// splitStreamURL separates the stream name (last path segment) from the
// connection URL.
func splitStreamURL(raw string) (connURL, stream string, err error) {
	i := strings.LastIndexByte(raw, '/')
	if i < 0 || i == len(raw)-1 || !strings.HasPrefix(raw, "rtmfp://") || strings.Count(raw[len("rtmfp://"):], "/") < 2 {
		return "", "", usagef("%q: want rtmfp://host[:port]/app[/instance]/stream", raw)
	}
	return raw[:i], raw[i+1:], nil
}

// connFlags are the flags of every command (they all connect).
type connFlags struct {
	timeout *time.Duration
	verbose *bool
}

func addConnFlags(c *command, con *console) connFlags {
	c.Func("stats-period", "time between progress lines (default 1s on a terminal, where the line is updated in place, 10s otherwise)",
		func(s string) error {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return errors.New("want a positive duration")
			}
			con.period = d
			return nil
		})
	return connFlags{
		timeout: c.Duration("connect-timeout", 10*time.Second, "give up connecting after this long"),
		verbose: c.Bool("v", false, "log the RTMFP sessions"),
	}
}

// dial connects to connURL, saying so at once, and names the address in
// its errors.
func dial(ctx context.Context, con *console, connURL string, f connFlags) (*client.Conn, error) {
	addrs, _, err := client.ParseURL(ctx, connURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", connURL, err)
	}
	addr := addrs[0].String()
	con.line("connecting to %s (%s)", addr, connURL)
	dctx, cancel := withLimit(ctx, *f.timeout)
	defer cancel()
	c, err := client.Dial(dctx, connURL, client.Options{Logger: logger(*f.verbose)})
	switch {
	case err == nil:
		return c, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, rtmfp.ErrNoSuchPeer), errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("connecting to %s: no answer within %v (is the server running, and UDP port %d open?)",
			addr, *f.timeout, addrs[0].Port())
	}
	return nil, fmt.Errorf("connecting to %s: %w", addr, err)
}

func logger(verbose bool) *slog.Logger {
	if !verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// withLimit bounds ctx by d when d is positive.
func withLimit(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// checkInput refuses an input file that cannot be published, before
// anything connects.
func checkInput(path string) error {
	if err := mediafile.CheckFile(path); err != nil {
		return fmt.Errorf("input %w", err)
	}
	return nil
}

// output is the FLV file a player writes. It is created when the first
// audio or video message arrives (a player that receives nothing, or only
// the data messages servers send at the start of a play, leaves no file;
// those are kept until then), and every message is written at once: what
// was received is on disk even if the program is killed.
type output struct {
	path    string
	std     io.Writer // standard output, for "-"
	f       *os.File
	w       *flv.Writer
	pending []media.Message // data messages before the first audio or video
	n       int             // audio and video messages written
}

// maxPending bounds the data messages kept before the first audio or video.
const maxPending = 16

func newOutput(path string, stdout io.Writer) *output { return &output{path: path, std: stdout} }

func (o *output) write(m media.Message) error {
	if o.w == nil && !m.IsAudio() && !m.IsVideo() {
		if len(o.pending) < maxPending {
			o.pending = append(o.pending, m)
		}
		return nil
	}
	if o.w == nil {
		dst := o.std
		if o.path != "-" {
			f, err := os.Create(o.path)
			if err != nil {
				return err
			}
			o.f, dst = f, f
		}
		w, err := flv.NewWriter(dst, flv.FlagAudio|flv.FlagVideo)
		if err != nil {
			return fmt.Errorf("writing %s: %w", o.name(), err)
		}
		o.w = w
		for _, p := range o.pending {
			if err := o.w.Write(p); err != nil {
				return fmt.Errorf("writing %s: %w", o.name(), err)
			}
		}
		o.pending = nil
	}
	if err := o.w.Write(m); err != nil {
		return fmt.Errorf("writing %s: %w", o.name(), err)
	}
	if m.IsAudio() || m.IsVideo() {
		o.n++
	}
	return nil
}

func (o *output) name() string {
	if o.path == "-" {
		return "standard output"
	}
	return o.path
}

func (o *output) close() error {
	if o.f == nil {
		return nil
	}
	f := o.f
	o.f = nil
	return f.Close()
}

// playFlags are the flags that say when a player stops.
type playFlags struct {
	out          *string
	limit        *time.Duration
	startTimeout *time.Duration
	idle         *time.Duration
	follow       *bool
}

func addPlayFlags(c *command) playFlags {
	return playFlags{
		out:          c.String("o", "-", "output FLV file, created when the first message arrives (- for standard output)"),
		limit:        c.Duration("t", 0, "stop after this long (0: no limit)"),
		startTimeout: c.Duration("start-timeout", 30*time.Second, "fail when no media arrived for this long after the start (0: wait forever)"),
		idle:         c.Duration("idle", 10*time.Second, "stop when no media arrived for this long once the stream has started (0: never)"),
		follow:       c.Bool("follow", false, "keep playing when the stream ends (until -t, -idle or Ctrl-C)"),
	}
}

// drainWait is how long a player keeps reading once the stream has ended:
// media sent before the end may arrive after its notification (they
// travel on other flows).
const drainWait = 500 * time.Millisecond

// errNothing ends a player that received no media.
var errNothing = errors.New("no media received")

// playLoop reads with read and hands each message to handle, until ctx
// ends (-t, Ctrl-C), the stream ends (streamCtx is cancelled: what is
// already on its way is still read), nothing arrived for the start timeout
// (an error) or nothing more for the idle time.
func playLoop(ctx, streamCtx context.Context, con *console, pf playFlags, read func(context.Context) (media.Message, error), handle func(media.Message) error) error {
	received := 0
	for {
		limit := *pf.idle
		if received == 0 {
			limit = *pf.startTimeout
		}
		rctx, cancel := withLimit(streamCtx, limit)
		m, err := read(rctx)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil
		case streamCtx.Err() != nil: // the stream ended
			for {
				dctx, cancel := context.WithTimeout(ctx, drainWait)
				m, err := read(dctx)
				cancel()
				if err != nil {
					return nil
				}
				if err := handle(m); err != nil {
					return err
				}
			}
		case errors.Is(err, context.DeadlineExceeded) && received == 0:
			// Nothing but data messages, if anything, came.
			return fmt.Errorf("%w within %v", errNothing, *pf.startTimeout)
		case errors.Is(err, context.DeadlineExceeded):
			con.line("no media for %v: stopping", *pf.idle)
			return nil
		default:
			return err
		}
		if m.IsAudio() || m.IsVideo() {
			received++
		}
		if err := handle(m); err != nil {
			return err
		}
	}
}
