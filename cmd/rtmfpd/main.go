// Command rtmfpd is a server for RTMFP (RFC 7016) with the Flash
// Communication profile (RFC 7425).
//
// Usage:
//
//	rtmfpd [-config file.json] [-listen addr,...] [-rtmp-listen addr,...|off] [-log-level level] [-check-config] [-version]
//
// With no configuration file it listens for RTMFP on UDP 1935 and for RTMP
// on TCP 1935 (IPv4 and IPv6). See the README for the configuration file.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/daemon"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("rtmfpd", flag.ContinueOnError)
	configPath := fs.String("config", "", "JSON configuration file (default: built-in defaults)")
	listen := fs.String("listen", "", "RTMFP UDP addresses, comma separated (overrides the configuration)")
	rtmpListen := fs.String("rtmp-listen", "", "RTMP TCP addresses, comma separated, or off (overrides the configuration; default: the RTMFP addresses)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides the configuration)")
	check := fs.Bool("check-config", false, "check the configuration and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until shutdown (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Println("rtmfpd", version)
		return 0
	}
	cfg, err := daemon.Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtmfpd:", err)
		return 2
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
	if *logLevel != "" {
		cfg.LogLevel = *logLevel
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "rtmfpd:", err)
		return 2
	}
	if *check {
		fmt.Println("configuration ok")
		return 0
	}
	log := cfg.NewLogger(os.Stderr)
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
	d, err := daemon.Start(cfg, log)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	<-ctx.Done()
	stop()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout))
	defer cancel()
	if err := d.Shutdown(sctx); err != nil {
		log.Warn("shutdown incomplete", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
