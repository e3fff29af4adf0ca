// Command rtmfp is a command-line RTMFP client: it publishes FLV files to a
// server in real time, plays streams into FLV files, and prints the status
// events it receives.
//
// Usage:
//
//	rtmfp publish [-loop] file.flv rtmfp://host[:port]/app[/instance]/stream
//	rtmfp play [-o out.flv] [-t duration] rtmfp://host[:port]/app[/instance]/stream
//	rtmfp group-play -spec G:… [-o out.flv] rtmfp://host/app/stream
//	rtmfp group-publish -spec G:… file.flv rtmfp://host/app/stream
//
// group-play and group-publish join the NetGroup of the groupspec through
// the server and play or publish a P2P multicast stream (flags -window,
// -fetch-period, -push-limit, ... set Flash's multicast properties).
//
// The last path segment of the URL is the stream name; the rest is the
// application (and instance) to connect to. play writes FLV to standard
// output when -o is "-" (the default). Status events and a progress line go
// to standard error.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "publish":
		err = publishCmd(ctx, os.Args[2:])
	case "play":
		err = playCmd(ctx, os.Args[2:])
	case "group-play":
		err = groupPlayCmd(ctx, os.Args[2:])
	case "group-publish":
		err = groupPublishCmd(ctx, os.Args[2:])
	case "-h", "-help", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtmfp:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  rtmfp publish [-loop] file.flv rtmfp://host[:port]/app[/instance]/stream
  rtmfp play [-o out.flv] [-t duration] rtmfp://host[:port]/app[/instance]/stream
  rtmfp group-play -spec G:… [-o out.flv] [-t duration] [-ipmc ip:port,...] [multicast flags] rtmfp://host/app/stream
  rtmfp group-publish -spec G:… [-loop] [-ipmc ip:port [-ipmc-ttl n] [-ipmc-iface if]] [multicast flags] file.flv rtmfp://host/app/stream
(run a command with -h for its flags)
`)
}
