package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/media"
)

// splitStreamURL separates the stream name (last path segment) from the
// connection URL.
func splitStreamURL(raw string) (connURL, stream string, err error) {
	i := strings.LastIndexByte(raw, '/')
	if i < 0 || i == len(raw)-1 || !strings.HasPrefix(raw, "rtmfp://") || strings.Count(raw[len("rtmfp://"):], "/") < 2 {
		return "", "", fmt.Errorf("%q: want rtmfp://host/app/stream", raw)
	}
	return raw[:i], raw[i+1:], nil
}

func publishCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	loop := fs.Bool("loop", false, "publish the file again and again")
	verbose := fs.Bool("v", false, "log the RTMFP session")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("publish needs a file and a URL")
	}
	connURL, name, err := splitStreamURL(fs.Arg(1))
	if err != nil {
		return err
	}
	c, err := client.Dial(ctx, connURL, client.Options{Logger: logger(*verbose)})
	if err != nil {
		return err
	}
	defer c.Close()
	go printStatus(c.Status(), "connection")
	st, err := c.CreateStream(ctx)
	if err != nil {
		return err
	}
	if err := st.Publish(ctx, name, "live"); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "publishing %s to %s\n", fs.Arg(0), fs.Arg(1))
	go printStatus(st.Status(), "stream")
	prog := newProgress()
	defer prog.finish()
	var base uint32
	for {
		last, err := publishFile(ctx, fs.Arg(0), base, prog, func(m media.Message) error { return st.WriteMedia(ctx, m) })
		if err != nil || !*loop {
			if err == nil {
				st.Close(ctx)
			}
			return err
		}
		base = last + 40
	}
}

// publishFile sends a file's tags in real time, timestamps shifted by base,
// to write; it returns the last timestamp sent.
func publishFile(ctx context.Context, path string, base uint32, prog *progress, write func(media.Message) error) (uint32, error) {
	return flv.ReplayFile(ctx, path, base, func(m media.Message) error {
		if err := write(m); err != nil {
			return err
		}
		prog.add(m, false)
		return nil
	})
}

func logger(verbose bool) *slog.Logger {
	if !verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func printStatus(ch <-chan client.Status, what string) {
	for s := range ch {
		fmt.Fprintf(os.Stderr, "\r%s status: %s\n", what, s)
	}
}

// progress prints a line with bitrate, frames and drops every second.
type progress struct {
	start       time.Time
	last        time.Time
	bytes       int64
	video       int64
	audio       int64
	dropped     int64
	windowBytes int64
}

func newProgress() *progress {
	now := time.Now()
	return &progress{start: now, last: now}
}

func (p *progress) add(m media.Message, dropped bool) {
	if dropped {
		p.dropped++
		return
	}
	p.bytes += int64(len(m.Payload))
	p.windowBytes += int64(len(m.Payload))
	switch m.Type {
	case media.TypeVideo:
		p.video++
	case media.TypeAudio:
		p.audio++
	}
	if now := time.Now(); now.Sub(p.last) >= time.Second {
		rate := float64(p.windowBytes*8) / now.Sub(p.last).Seconds() / 1000
		fmt.Fprintf(os.Stderr, "\r%6.0fs %7.0f kbit/s  video %6d  audio %6d  dropped %d   ",
			now.Sub(p.start).Seconds(), rate, p.video, p.audio, p.dropped)
		p.last, p.windowBytes = now, 0
	}
}

func (p *progress) finish() {
	fmt.Fprintf(os.Stderr, "\rdone: %d bytes, video %d, audio %d, dropped %d in %.1fs\n",
		p.bytes, p.video, p.audio, p.dropped, time.Since(p.start).Seconds())
}
