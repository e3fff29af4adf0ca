package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/rtmfpd/rtmfpd/rtmfpcheck"
)

// checkCmd runs `rtmfp check` and returns the exit status: 0 when every
// check passed (or skipped), 1 when one failed, 2 on a usage error.
func checkCmd(ctx context.Context, con *console, stdout io.Writer, args []string) int {
	c := newCommand("check", "check [-nat] [-json] [-run regexp] [-timeout d] [-list] rtmfp://host[:port]/app", stdout, con)
	jsonOut := c.Bool("json", false, "write the report as JSON (on standard output)")
	nat := c.Bool("nat", false, "check connectivity instead: this host's public address and NAT behaviour, with the server's connectivity check (rtmfpd's natCheck application, rtmfp-cpp's conncheck)")
	run := c.String("run", "", "run only the checks whose ID matches this regular expression (handshake, netstream.media, ...)")
	timeout := c.Duration("timeout", 0, "deadline of each check (default 10s; 20s with -nat)")
	list := c.Bool("list", false, "list the checks and what they test, then exit")
	stream := c.String("stream", "", "stream name to publish and play (default a random rtmfpcheck-… name)")
	spec := c.String("spec", "", "groupspec of the NetGroup to join (default a group of the run's own)")
	verbose := c.Bool("v", false, "log the RTMFP sessions on standard error")
	c.FlagSet.Usage = func() {
		fmt.Fprint(stdout, `usage: rtmfp check [flags] rtmfp://host[:port]/app

Checks that an RTMFP server speaks RTMFP as Flash Player, AIR, librtmfp and
rtmfp-cpp expect (handshakes, session, NetConnection, NetStream,
introduction, NetGroups), or, with -nat, what this host's NAT lets through.
Each check names the RFC section or the Flash behaviour it tests.

examples:
  rtmfp check rtmfp://127.0.0.1/live
  rtmfp check -json rtmfp://rtmfp.example.com/live > report.json
  rtmfp check -run 'handshake|session' rtmfp://127.0.0.1:1935/live
  rtmfp check -nat rtmfp://rtmfp.example.com/conncheck

exit status: 0 every check passed or was skipped; 1 a check failed; 2 usage error.

flags:
`)
		c.FlagSet.SetOutput(stdout)
		c.FlagSet.PrintDefaults()
		c.FlagSet.SetOutput(io.Discard)
	}
	pos, err := c.parse(args, 1, "a URL")
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil && *list: // -list needs no URL
	case err != nil:
		con.line("rtmfp check: %s (rtmfp check -h for help)", err)
		return 2
	}
	if *list {
		for _, r := range rtmfpcheck.Checks() {
			fmt.Fprintf(stdout, "%-32s %s [%s]\n", r.ID, r.Title, r.Ref)
		}
		return 0
	}
	opts := rtmfpcheck.Options{URL: pos[0], NAT: *nat, Timeout: *timeout, Stream: *stream, GroupSpec: *spec, Logger: logger(*verbose)}
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			con.line("rtmfp check: -run: %v (rtmfp check -h for help)", err)
			return 2
		}
		opts.Run = re
	}
	if *timeout < 0 {
		con.line("rtmfp check: -timeout %v is negative (rtmfp check -h for help)", *timeout)
		return 2
	}
	started := time.Now()
	header := false
	cat := ""
	if !*jsonOut {
		opts.Progress = func(r rtmfpcheck.Result) {
			if !header {
				header = true
				fmt.Fprintf(stdout, "rtmfp check %s, %s\n", opts.URL, started.Format(time.DateTime))
			}
			if r.Category != cat {
				cat = r.Category
				fmt.Fprintf(stdout, "\n%s\n", cat)
			}
			rtmfpcheck.WriteResult(stdout, r)
		}
	}
	rep, err := rtmfpcheck.Run(ctx, opts)
	if errors.Is(err, rtmfpcheck.ErrUsage) {
		con.line("rtmfp check: %s (rtmfp check -h for help)", err)
		return 2
	}
	if rep == nil {
		con.line("rtmfp check: %s", plain(err))
		return 1
	}
	if *jsonOut {
		if werr := rep.WriteJSON(stdout); werr != nil {
			con.line("rtmfp check: writing the report: %v", werr)
			return 1
		}
	} else {
		fmt.Fprintln(stdout)
		rep.WriteSummary(stdout)
	}
	if err != nil { // interrupted
		con.line("rtmfp check: %s", plain(err))
		return 1
	}
	return rep.ExitCode()
}
