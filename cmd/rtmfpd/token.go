package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/rtmfpd/rtmfpd/server"
	"github.com/rtmfpd/rtmfpd/server/access"
)

const tokenUsage = `usage: rtmfpd token -config FILE -app APP [-stream PATTERN] [-act publish|play] [-ttl DURATION]

Prints an access token signed with the first secret of the configuration's
tokens (secrets, then secretFile). Clients pass it in the URL's query
(rtmfp://host/app/stream?token=..., rtmp://host/app?token=.../stream) or as
a connect argument.

examples:
  rtmfpd token -config rtmfpd.json -app live -stream cam1 -act publish -ttl 1h
  rtmfpd token -config rtmfpd.json -app live -act play -ttl 24h      any stream of live

flags:
`

// runToken mints a token (the token subcommand).
func runToken(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rtmfpd token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), tokenUsage)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "configuration file holding tokens.secrets or tokens.secretFile (required)")
	app := fs.String("app", "", "application (a pattern: * for any) (required)")
	stream := fs.String("stream", "", "stream name or pattern (default: any)")
	act := fs.String("act", "", "publish or play (default: both)")
	ttl := fs.Duration("ttl", time.Hour, "validity from now")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "rtmfpd token: "+format+"\n", a...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return fail("unexpected argument %q", fs.Arg(0))
	case *configPath == "":
		return fail("-config is required (the secret is in its tokens block)")
	case *app == "":
		return fail("-app is required")
	case *ttl <= 0:
		return fail("-ttl %v: must be positive", *ttl)
	}
	cfg, err := server.Load(*configPath)
	if err != nil {
		return fail("%v", err)
	}
	secret, err := cfg.TokenSecret()
	if err != nil {
		return fail("%v", err)
	}
	tok, err := access.Mint(secret, access.Claims{App: *app, Stream: *stream, Act: *act, Exp: time.Now().Add(*ttl).Unix()})
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
