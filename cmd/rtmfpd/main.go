// Command rtmfpd is a server for RTMFP (RFC 7016) with the Flash
// Communication profile (RFC 7425).
//
// Usage:
//
//	rtmfpd [-config file.json] [-listen addr,...] [-rtmp-listen addr,...|off] [-status addr|off]
//	       [-log-level level] [-log-format text|json] [-check-config] [-version]
//	rtmfpd token -config file.json -app live [-stream pattern] [-act publish|play] [-ttl 1h]
//
// SIGHUP reloads the configuration file (applications, access rules,
// HTTP callbacks, relay rules) without dropping a session; an invalid file
// is refused with its error and the configuration in use is kept.
//
// With no configuration file it listens for RTMFP on UDP 1935 and for RTMP
// on TCP 1935 (IPv4 and IPv6). See the README for the configuration file.
//
// Exit status: 0 after a clean stop (SIGINT or SIGTERM) or a successful
// -check-config, 1 when the server failed (could not start, or a shutdown
// step really failed), 2 for a usage or configuration error.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/rtmfpd/rtmfpd/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usageText = `usage: rtmfpd [flags]

rtmfpd serves RTMFP (UDP) and RTMP (TCP): Flash media streams, peer
introduction, NetGroups, multipoint publishing.

       rtmfpd token -config FILE -app APP [-stream PATTERN] [-act publish|play] [-ttl 1h]

examples:
  rtmfpd                                       built-in defaults: RTMFP and RTMP on port 1935, IPv4 and IPv6
  rtmfpd -listen 127.0.0.1:1935 -status off    one address, no status endpoint
  rtmfpd -rtmp-listen off                      RTMFP only
  rtmfpd -http-listen 0.0.0.0:8080             HTTP-FLV (/app/stream.flv) and RTMP over WebSocket (/rtmp) for players
  rtmfpd -config rtmfpd.json -check-config     check a configuration file and exit
  rtmfpd -config rtmfpd.json -log-format json
  rtmfpd token -config rtmfpd.json -app live -stream 'cam*' -act publish -ttl 24h

SIGHUP reloads the configuration file without dropping a session.

exit status: 0 clean stop (SIGINT, SIGTERM) or configuration ok; 1 runtime
failure; 2 usage or configuration error.

flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "token" {
		return runToken(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("rtmfpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "JSON configuration file (default: built-in defaults)")
	listen := fs.String("listen", "", "RTMFP UDP addresses, comma separated (overrides the configuration)")
	rtmpListen := fs.String("rtmp-listen", "", "RTMP TCP addresses, comma separated, or off (overrides the configuration; default: the RTMFP addresses)")
	status := fs.String("status", "", "HTTP status endpoint address, or off (overrides the configuration; default 127.0.0.1:8935)")
	httpListen := fs.String("http-listen", "", "HTTP addresses for players (HTTP-FLV, RTMP over WebSocket), comma separated (overrides the configuration; default: the status endpoint only)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides the configuration)")
	logFormat := fs.String("log-format", "", "text or json (overrides the configuration)")
	check := fs.Bool("check-config", false, "check the configuration (and the media files it names) and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until shutdown (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "rtmfpd: unexpected argument %q (flags come first; see rtmfpd -h)\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "rtmfpd", version)
		return 0
	}
	// load reads the file and applies the flags: at start, and again at
	// each reload.
	load := func() (server.Config, error) {
		cfg, err := server.Load(*configPath)
		if err != nil {
			return cfg, err
		}
		if *listen != "" {
			cfg.RTMFP = strings.Split(*listen, ",")
		}
		switch *rtmpListen {
		case "":
		case "off":
			cfg.RTMP = []string{}
		default:
			cfg.RTMP = strings.Split(*rtmpListen, ",")
		}
		if *status != "" {
			cfg.Status = *status
		}
		if *httpListen != "" {
			cfg.HTTP.Listen = strings.Split(*httpListen, ",")
		}
		if *logLevel != "" {
			cfg.LogLevel = *logLevel
		}
		if *logFormat != "" {
			cfg.LogFormat = *logFormat
		}
		return cfg, cfg.Validate()
	}
	cfg, err := load()
	if err != nil {
		fmt.Fprintln(stderr, "rtmfpd:", err)
		return 2
	}
	if *check {
		fmt.Fprintln(stdout, "configuration ok")
		return 0
	}
	log := cfg.NewLogger(stderr)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Error("cpu profile", "err", err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Error("cpu profile", "err", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := server.Start(cfg, log, server.WithConfigSource(load))
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for ctx.Err() == nil {
		select {
		case <-hup:
			log.Info("reloading the configuration", "file", *configPath)
			d.ReloadFromSource() // logs the outcome
		case <-ctx.Done():
		}
	}
	stop() // a second signal kills the process
	timeout := cmp.Or(time.Duration(cfg.ShutdownTimeout), 5*time.Second)
	log.Info("shutting down", "timeout", timeout)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := d.Shutdown(sctx); err != nil {
		log.Error("shutdown failed", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
