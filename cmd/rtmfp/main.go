// Command rtmfp is a command-line RTMFP client: it publishes FLV files to a
// server in real time, plays streams into FLV files, and prints the status
// events it receives.
//
// Usage:
//
//	rtmfp publish [-loop] file.flv rtmfp://host[:port]/app[/instance]/stream
//	rtmfp play [-o out.flv] [-t duration] rtmfp://host[:port]/app[/instance]/stream
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
`)
}
