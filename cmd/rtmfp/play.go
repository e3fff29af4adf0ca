package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// playCmd plays a stream into an FLV file.
func playCmd(ctx context.Context, con *console, stdout io.Writer, args []string) error {
	c := newCommand("play", "play [-o out.flv] [-t duration] [flags] rtmfp://host[:port]/app[/instance]/stream", stdout, con)
	pf := addPlayFlags(c)
	cf := addConnFlags(c, con)
	pos, err := c.parse(args, 1, "a URL")
	if err != nil {
		return err
	}
	connURL, name, err := splitStreamURL(pos[0])
	if err != nil {
		return err
	}
	ctx, cancel := withLimit(ctx, *pf.limit)
	defer cancel()
	nc, err := dial(ctx, con, connURL, cf)
	if err != nil {
		return err
	}
	defer nc.Close()
	go con.printStatus(nc.Status(), "connection")
	st, err := nc.CreateStream(ctx)
	if err != nil {
		return err
	}
	if err := st.Play(ctx, name); err != nil {
		return err
	}
	con.line("playing %s", pos[0])
	streamCtx, endStream := context.WithCancel(ctx)
	defer endStream()
	go func() {
		for s := range st.Status() {
			con.line("stream status: %s", s)
			if (s.Code == netstream.PlayUnpublishNotify || s.Code == netstream.PlayStop) && !*pf.follow {
				endStream()
			}
		}
	}()
	out := newOutput(*pf.out, stdout)
	defer out.close()
	prog := newProgress(con)
	err = playLoop(ctx, streamCtx, con, pf, st.ReadMedia, func(m media.Message) error {
		prog.add(m, false)
		return out.write(m)
	})
	prog.finish()
	return playResult(err, out, pos[0])
}

// playResult is a player's outcome: err, or an error when nothing was
// written.
func playResult(err error, out *output, url string) error {
	if cerr := out.close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", out.name(), cerr)
	}
	if out.n > 0 {
		return err
	}
	if err == nil {
		err = errNothing
	}
	if out.path != "-" {
		return fmt.Errorf("%s: %w; %s not created", url, err, out.path)
	}
	return fmt.Errorf("%s: %w", url, err)
}
