package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/relay"
	"github.com/rtmfpd/rtmfpd/server"
)

// This is Flash Media Server's multipoint publishing example (its
// main.asc, in "Publishing from server to server") as a Go program:
// application.onPublish republishes a stream published into
// livestreams/_definst_ to another instance of the same application on
// the same server and to a remote server, the targets answer
// NetStream.Publish.Start, and application.onUnpublish sees the stream
// stop, which stops the republished ones.
func Example_multipointPublishing() {
	quiet := slog.New(slog.DiscardHandler)
	local := func() server.Config { // loopback, ports chosen by the system
		cfg := server.Default()
		cfg.RTMFP, cfg.RTMP, cfg.Status = []string{"127.0.0.1:0"}, []string{"127.0.0.1:0"}, "off"
		return cfg
	}
	remote, err := server.Start(local(), quiet) // "Chicago"
	if err != nil {
		fmt.Println(err)
		return
	}
	defer remote.Shutdown(context.Background())

	var srv *server.Daemon // "New York"
	events := make(chan string, 16)
	hooks := server.Hooks{
		// application.onPublish = function(client, myStream) { ... }
		OnPublish: func(ctx context.Context, e *server.Event) server.Decision {
			fmt.Println(e.Stream + " is publishing into application " + e.App + "/" + e.Instance)
			if e.App+"/"+e.Instance == "livestreams/_definst_" {
				fmt.Println("Republishing the stream into livestreams/anotherinstance")
				e.Republish(
					relay.Target{URL: "rtmp://" + srv.RTMPAddrs()[0] + "/livestreams/anotherinstance/{name}", Mode: relay.ModeLive},
					relay.Target{URL: "rtmfp://" + remote.Endpoints()[0].LocalAddr().String() + "/livestreams/{name}", Mode: relay.ModeLive})
			}
			return server.Allow()
		},
		// ns.onStatus = function(info) { ... }
		OnRelay: func(st relay.TargetStatus) {
			switch st.State {
			case relay.StatePublishing:
				events <- "Stream Status: NetStream.Publish.Start from " + strings.SplitN(st.Target, "/", 4)[0] + "//…/" + strings.SplitN(st.Target, "/", 4)[3]
			case relay.StateStopped:
				events <- "stopped republishing to " + strings.SplitN(st.Target, "/", 4)[3]
			}
		},
		// application.onUnpublish = function(client, myStream) { ... }
		OnUnpublish: func(e *server.Event) {
			events <- e.Stream + " is unpublishing from " + e.App + "/" + e.Instance
		},
	}
	srv, err = server.Start(local(), quiet, server.WithHooks(hooks))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	// The client: ns.publish("localnews", "live").
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := client.Dial(ctx, "rtmfp://"+srv.Endpoints()[0].LocalAddr().String()+"/livestreams", client.Options{Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	ns, _ := nc.CreateStream(ctx)
	if err := ns.Publish(ctx, "localnews", "live"); err != nil {
		fmt.Println(err)
		return
	}
	printEvents(ctx, events, 2) // both targets publish
	nc.Close()
	printEvents(ctx, events, 4) // both streams unpublished, both targets stopped

	// Output:
	// localnews is publishing into application livestreams/_definst_
	// Republishing the stream into livestreams/anotherinstance
	// localnews is publishing into application livestreams/anotherinstance
	// Stream Status: NetStream.Publish.Start from rtmfp://…/livestreams/localnews
	// Stream Status: NetStream.Publish.Start from rtmp://…/livestreams/anotherinstance/localnews
	// localnews is unpublishing from livestreams/_definst_
	// localnews is unpublishing from livestreams/anotherinstance
	// stopped republishing to livestreams/anotherinstance/localnews
	// stopped republishing to livestreams/localnews
}

// printEvents prints n events, sorted (the two targets answer in any
// order).
func printEvents(ctx context.Context, events <-chan string, n int) {
	var got []string
	for len(got) < n {
		select {
		case e := <-events:
			got = append(got, e)
		case <-ctx.Done():
			fmt.Println("timed out; got", got)
			return
		}
	}
	slices.Sort(got)
	for _, e := range got {
		fmt.Println(e)
	}
}
