package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/media"
)

// console is standard error: whole lines (status events, errors) and the
// progress line. On a terminal the progress line is rewritten in place
// every second, as ffmpeg's is; otherwise (a file, a pipe) it is printed as
// a plain line every 10 seconds.
type console struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	period  time.Duration // between progress lines
	showing bool          // a progress line is on screen (tty)
}

func newConsole(f *os.File) *console {
	tty := false
	if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		tty = true
	}
	c := &console{w: f, tty: tty, period: 10 * time.Second}
	if tty {
		c.period = time.Second
	}
	return c
}

// line prints a whole line (over the progress line on a terminal).
func (c *console) line(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.showing {
		io.WriteString(c.w, "\r\033[K")
		c.showing = false
	}
	fmt.Fprintf(c.w, format+"\n", args...)
}

// progress shows the progress line s.
func (c *console) progress(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tty {
		io.WriteString(c.w, "\r"+s+"\033[K")
		c.showing = true
		return
	}
	io.WriteString(c.w, s+"\n")
}

// printStatus prints the status events of ch.
func (c *console) printStatus(ch <-chan client.Status, what string) {
	for s := range ch {
		c.line("%s status: %s", what, s)
	}
}

// progress counts what went through and shows bitrate, frames and drops
// (and, through extra, what a command adds: neighbours) every period.
type progress struct {
	con         *console
	extra       func() string // appended to the line; may be nil
	start, last time.Time
	bytes       int64
	video       int64
	audio       int64
	dropped     int64
	windowBytes int64
}

func newProgress(con *console) *progress {
	now := time.Now()
	return &progress{con: con, start: now, last: now}
}

// add counts m (as dropped when it was not written).
func (p *progress) add(m media.Message, dropped bool) {
	if dropped {
		p.dropped++
	} else {
		p.bytes += int64(len(m.Payload))
		p.windowBytes += int64(len(m.Payload))
		switch m.Type {
		case media.TypeVideo:
			p.video++
		case media.TypeAudio:
			p.audio++
		}
	}
	if now := time.Now(); now.Sub(p.last) >= p.con.period {
		rate := float64(p.windowBytes*8) / now.Sub(p.last).Seconds() / 1000
		p.con.progress(fmt.Sprintf("%s %6.0f kbit/s  video %d  audio %d  dropped %d%s",
			clock(now.Sub(p.start)), rate, p.video, p.audio, p.dropped, p.more()))
		p.last, p.windowBytes = now, 0
	}
}

func (p *progress) more() string {
	if p.extra == nil {
		return ""
	}
	return "  " + p.extra()
}

// finish prints the totals.
func (p *progress) finish() {
	p.con.line("done: %d bytes, video %d, audio %d, dropped %d in %s%s",
		p.bytes, p.video, p.audio, p.dropped, clock(time.Since(p.start)), p.more())
}

// clock formats d as ffmpeg's time= does: 00:01:02.5.
func clock(d time.Duration) string {
	d = d.Round(100 * time.Millisecond)
	h, m := d/time.Hour, d%time.Hour/time.Minute
	s := float64(d%time.Minute) / float64(time.Second)
	return fmt.Sprintf("%02d:%02d:%04.1f", h, m, s)
}
