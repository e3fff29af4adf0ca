package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/mediafile"
)

// closeWait bounds the unpublishing at the end.
const closeWait = 5 * time.Second

// publishCmd publishes a media file (FLV, MP4/F4V, MP3) in real time.
func publishCmd(ctx context.Context, con *console, stdout io.Writer, args []string) error {
	c := newCommand("publish", "publish [-loop] [flags] file.flv rtmfp://host[:port]/app[/instance]/stream", stdout, con)
	loop := c.Bool("loop", false, "publish the file again and again (until Ctrl-C)")
	cf := addConnFlags(c, con)
	pos, err := c.parse(args, 2, "a file and a URL")
	if err != nil {
		return err
	}
	file := pos[0]
	connURL, name, err := splitStreamURL(pos[1])
	if err != nil {
		return err
	}
	if err := checkInput(file); err != nil {
		return err
	}
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
	if err := st.Publish(ctx, name, "live"); err != nil {
		return err
	}
	con.line("publishing %s to %s", file, pos[1])
	go con.printStatus(st.Status(), "stream")
	prog := newProgress(con)
	err = mediafile.ReplayLoop(ctx, file, *loop, func(m media.Message) error {
		if err := st.WriteMedia(ctx, m); err != nil {
			return fmt.Errorf("publishing: %w", err)
		}
		prog.add(m, false)
		return nil
	})
	prog.finish()
	if ctx.Err() != nil { // Ctrl-C: a normal end
		err = nil
	}
	if err == nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeWait)
		st.Close(cctx)
		cancel()
	}
	return err
}
