package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/flv"
	"github.com/rtmfpd/rtmfpd/netstream"
)

func playCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("play", flag.ContinueOnError)
	out := fs.String("o", "-", "output FLV file (- for standard output)")
	dur := fs.Duration("t", 0, "stop after this long (0: until the stream ends)")
	idle := fs.Duration("idle", 10*time.Second, "stop when no media arrived for this long")
	verbose := fs.Bool("v", false, "log the RTMFP session")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("play needs a URL")
	}
	connURL, name, err := splitStreamURL(fs.Arg(0))
	if err != nil {
		return err
	}
	fw, finish, err := createFLV(*out)
	if err != nil {
		return err
	}
	defer finish()
	ctx, cancel := withLimit(ctx, *dur)
	defer cancel()
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
	if err := st.Play(ctx, name); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "playing %s\n", fs.Arg(0))
	ended := make(chan struct{})
	go func() {
		for s := range st.Status() {
			fmt.Fprintf(os.Stderr, "\rstream status: %s\n", s)
			if s.Code == netstream.PlayUnpublishNotify || s.Code == netstream.PlayStop {
				close(ended)
				return
			}
		}
	}()
	prog := newProgress()
	defer prog.finish()
	for {
		rctx, cancel := context.WithTimeout(ctx, *idle)
		m, err := st.ReadMedia(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		}
		if err := fw.Write(m); err != nil {
			return err
		}
		prog.add(m, false)
		select {
		case <-ended:
			// Drain what is already queued, then stop.
			for {
				dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				m, err := st.ReadMedia(dctx)
				cancel()
				if err != nil {
					return nil
				}
				fw.Write(m)
				prog.add(m, false)
			}
		default:
		}
	}
}

// createFLV opens the FLV output (path, or standard output for "-");
// finish flushes and closes it.
func createFLV(path string) (fw *flv.Writer, finish func(), err error) {
	var w io.Writer = os.Stdout
	closeFile := func() {}
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return nil, nil, err
		}
		w, closeFile = f, func() { f.Close() }
	}
	bw := bufio.NewWriter(w)
	if fw, err = flv.NewWriter(bw, flv.FlagAudio|flv.FlagVideo); err != nil {
		closeFile()
		return nil, nil, err
	}
	return fw, func() { bw.Flush(); closeFile() }, nil
}

// withLimit bounds ctx by d when d is positive (the -t flags).
func withLimit(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}
