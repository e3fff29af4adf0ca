// Command rtmfp is a command-line RTMFP client: it publishes media files
// (FLV; MP4/F4V and MP3 by their extension) to a server in real time,
// plays streams into FLV files, and prints the status events it receives.
//
// Usage:
//
//	rtmfp publish [-loop] file.flv rtmfp://host[:port]/app[/instance]/stream
//	rtmfp play [-o out.flv] [-t duration] rtmfp://host[:port]/app[/instance]/stream
//	rtmfp group-play -spec G:… [-o out.flv] rtmfp://host/app/stream
//	rtmfp group-publish -spec G:… file.flv rtmfp://host/app/stream
//	rtmfp check [-nat] [-json] rtmfp://host[:port]/app
//
// check runs the conformance checks of package rtmfpcheck against a server
// (or, with -nat, the connectivity checks) and prints a report.
//
// group-play and group-publish join the NetGroup of the groupspec through
// the server and play or publish a P2P multicast stream (flags -window,
// -fetch-period, -push-limit, ... set Flash's multicast properties).
//
// The last path segment of the URL is the stream name; the rest is the
// application (and instance) to connect to. Flags may come before or after
// the file and the URL. play writes FLV to standard output when -o is "-"
// (the default). Status events and a progress line go to standard error.
//
// Exit status: 0 success, 1 runtime failure (no answer from the server,
// nothing received, a file that cannot be read, ...), 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, newConsole(os.Stderr))
	stop()
	os.Exit(code)
}

const usageText = `usage:
  rtmfp publish [flags] file.flv rtmfp://host[:port]/app[/instance]/stream
  rtmfp play [flags] rtmfp://host[:port]/app[/instance]/stream
  rtmfp group-publish -spec G:… [flags] file.flv rtmfp://host/app/stream
  rtmfp group-play -spec G:… [flags] rtmfp://host/app/stream
  rtmfp check [-nat] [-json] [flags] rtmfp://host[:port]/app

examples:
  rtmfp publish -loop video.flv rtmfp://127.0.0.1/live/cam
  rtmfp play -o out.flv rtmfp://127.0.0.1/live/cam
  rtmfp play -o - rtmfp://127.0.0.1/live/cam | ffplay -
  rtmfp group-publish -spec G:027f0201010103010c050e74657374011b00 video.flv rtmfp://127.0.0.1/live/cam
  rtmfp group-play -spec G:027f0201010103010c050e74657374011b00 -o out.flv rtmfp://127.0.0.1/live/cam
  rtmfp check rtmfp://127.0.0.1/live

Flags may come before or after the file and the URL; "rtmfp COMMAND -h"
lists a command's flags.

exit status: 0 success; 1 runtime failure (no answer from the server,
nothing received, a file that cannot be read, a check that failed, ...);
2 usage error.
`

// run runs the command of args and returns the exit status.
func run(ctx context.Context, args []string, stdout io.Writer, con *console) int {
	if len(args) < 1 {
		fmt.Fprint(con.w, usageText)
		return 2
	}
	var err error
	switch args[0] {
	case "publish":
		err = publishCmd(ctx, con, stdout, args[1:])
	case "play":
		err = playCmd(ctx, con, stdout, args[1:])
	case "group-play":
		err = groupPlayCmd(ctx, con, stdout, args[1:])
	case "group-publish":
		err = groupPublishCmd(ctx, con, stdout, args[1:])
	case "check":
		return checkCmd(ctx, con, stdout, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return 0
	default:
		con.line("rtmfp: unknown command %q", args[0])
		fmt.Fprint(con.w, usageText)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		con.line("rtmfp %s: %s (rtmfp %s -h for help)", args[0], ue.msg, args[0])
		return 2
	}
	con.line("rtmfp %s: %s", args[0], plain(err))
	return 1
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// plain is err's text without the package prefixes ("rtmfp: ", "client: ")
// the program's own prefix makes redundant.
func plain(err error) string {
	s := err.Error()
	for _, p := range []string{"rtmfp: ", "client: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// command is a subcommand's flag set with its usage.
type command struct {
	*flag.FlagSet
	stdout io.Writer
}

// newCommand makes the flag set of a subcommand: -h prints synopsis,
// examples and flags on standard output.
func newCommand(name, synopsis string, stdout io.Writer, con *console) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by run
	c := &command{FlagSet: fs, stdout: stdout}
	fs.Usage = func() {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "usage: rtmfp %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return c
}

// parse parses args, flags and positional arguments in any order ("--"
// ends the flags), and checks that want positional arguments came.
func (c *command) parse(args []string, want int, what string) ([]string, error) {
	var pos []string
	for {
		if err := c.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := c.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != want {
		return nil, usagef("%s needs %s (got %d arguments)", c.Name(), what, len(pos))
	}
	return pos, nil
}
