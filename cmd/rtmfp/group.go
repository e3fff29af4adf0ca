package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/groupstream"
	"github.com/rtmfpd/rtmfpd/ipmulticast"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
)

// multicastFlags adds Flash's NetStream multicast properties.
func multicastFlags(fs *flag.FlagSet) *multicast.Config {
	c := multicast.DefaultConfig()
	fs.DurationVar(&c.Window, "window", c.Window, "multicastWindowDuration")
	fs.DurationVar(&c.FetchPeriod, "fetch-period", c.FetchPeriod, "multicastFetchPeriod")
	fs.DurationVar(&c.UpdatePeriod, "update-period", c.UpdatePeriod, "multicastAvailabilityUpdatePeriod")
	fs.BoolVar(&c.SendToAll, "send-to-all", c.SendToAll, "multicastAvailabilitySendToAll")
	fs.IntVar(&c.PushNeighborLimit, "push-limit", c.PushNeighborLimit, "multicastPushNeighborLimit")
	fs.DurationVar(&c.RelayMargin, "relay-margin", c.RelayMargin, "multicastRelayMarginDuration")
	return &c
}

// ipmcListenAddresses returns the IP multicast groups a player listens to:
// those of flagValue (comma-separated ip:port), else those the groupspec
// lists (its 0x0A options); "off" listens to none.
func ipmcListenAddresses(flagValue, spec string) ([]netip.AddrPort, error) {
	switch flagValue {
	case "off":
		return nil, nil
	case "":
		sp, err := group.ParseSpec(spec)
		if err != nil {
			return nil, fmt.Errorf("-spec: %w", err)
		}
		return sp.IPMulticastAddresses(), nil
	}
	var out []netip.AddrPort
	for _, a := range strings.Split(flagValue, ",") {
		g, err := ipmulticast.ParsePublishAddress(strings.TrimSpace(a), "")
		if err != nil {
			return nil, fmt.Errorf("-ipmc %q: %w", a, err)
		}
		out = append(out, g.Addr)
	}
	return out, nil
}

// joinGroup connects to the server and joins the group of spec.
func joinGroup(ctx context.Context, connURL, spec string, verbose bool) (*client.Conn, *groupstream.Member, error) {
	if spec == "" {
		return nil, nil, errors.New("-spec G:… is required")
	}
	c, err := client.Dial(ctx, connURL, client.Options{Logger: logger(verbose)})
	if err != nil {
		return nil, nil, err
	}
	m, err := groupstream.JoinClient(ctx, c, spec)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, m, nil
}

func printMulticastStats(st multicast.Stats) {
	fmt.Fprintf(os.Stderr, "\rmulticast: pushed from peers %d fragments (%d bytes), requested from peers %d (%d bytes), pushed to peers %d, requested by peers %d, lost %d\n",
		st.FragmentsPushedFromPeers, st.BytesPushedFromPeers, st.FragmentsRequestedFromPeers, st.BytesRequestedFromPeers,
		st.FragmentsPushedToPeers, st.FragmentsRequestedByPeers, st.FragmentsLost)
}

// groupPlayCmd plays a multicast stream of a group into an FLV file.
func groupPlayCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("group-play", flag.ContinueOnError)
	spec := fs.String("spec", "", "groupspec (G:…)")
	out := fs.String("o", "-", "output FLV file (- for standard output)")
	dur := fs.Duration("t", 0, "stop after this long (0: until the stream ends)")
	verbose := fs.Bool("v", false, "log the RTMFP sessions")
	ipmc := fs.String("ipmc", "", "IP multicast groups to take fragments from (ip:port,...; default: the groupspec's; off: none)")
	ipmcIface := fs.String("ipmc-iface", "", "interfaces to join the IP multicast groups on (comma-separated; default: all)")
	cfg := multicastFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("group-play needs a URL")
	}
	connURL, name, err := splitStreamURL(fs.Arg(0))
	if err != nil {
		return err
	}
	if *spec == "" {
		return errors.New("-spec G:… is required")
	}
	ipmcGroups, err := ipmcListenAddresses(*ipmc, *spec)
	if err != nil {
		return err
	}
	ctx, cancel := withLimit(ctx, *dur)
	defer cancel()
	fw, finish, err := createFLV(*out)
	if err != nil {
		return err
	}
	defer finish()
	c, m, err := joinGroup(ctx, connURL, *spec, *verbose)
	if err != nil {
		return err
	}
	defer c.Close()
	defer m.Close()
	pb, err := m.Play(name, *cfg)
	if err != nil {
		return err
	}
	if len(ipmcGroups) > 0 {
		var ro ipmulticast.ReceiverOptions
		if *ipmcIface != "" {
			ro.Interfaces = strings.Split(*ipmcIface, ",")
		}
		if err := pb.ListenIPMulticast(ipmcGroups, ro); err != nil {
			return fmt.Errorf("IP multicast: %w", err)
		}
		fmt.Fprintf(os.Stderr, "listening to IP multicast %v\n", ipmcGroups)
	}
	fmt.Fprintf(os.Stderr, "playing %s from group %s\n", name, m.NetGroup.GroupID())
	ended := make(chan struct{})
	go func() {
		for code := range pb.Status() {
			fmt.Fprintf(os.Stderr, "\rstream status: %s\n", code)
			if code == groupstream.StatusUnpublishNotify {
				close(ended)
				return
			}
		}
	}()
	prog := newProgress()
	defer func() { prog.finish(); printMulticastStats(pb.Stats()) }()
	// A member joins the multicast stream at its live edge: audio and
	// video are written from their codec headers on (the publisher repeats
	// them before each key frame), so that the file decodes.
	var haveVideo, haveAudio, haveMeta bool
	for {
		m, err := pb.ReadMedia(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		switch {
		case m.IsVideo() && m.IsSequenceHeader():
			haveVideo = true
		case m.IsAudio() && m.IsSequenceHeader():
			haveAudio = true
		case m.IsVideo() && !haveVideo, m.IsAudio() && !haveAudio:
			prog.add(m, true)
			continue
		case m.IsData():
			// The publisher repeats its metadata; a file needs it once.
			if haveMeta {
				continue
			}
			haveMeta = true
		}
		if err := fw.Write(m); err != nil {
			return err
		}
		prog.add(m, false)
		select {
		case <-ended:
			return nil
		default:
		}
	}
}

// groupPublishCmd publishes an FLV file into a group in real time.
func groupPublishCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("group-publish", flag.ContinueOnError)
	spec := fs.String("spec", "", "groupspec (G:…)")
	wait := fs.Duration("wait", 5*time.Second, "time to let the mesh form before publishing")
	verbose := fs.Bool("v", false, "log the RTMFP sessions")
	loop := fs.Bool("loop", false, "publish the file again and again")
	ipmc := fs.String("ipmc", "", "also send to this IP multicast address (setIPMulticastPublishAddress: 224.0.0.254:30000, [ff03::ffff]:30000)")
	ipmcIface := fs.String("ipmc-iface", "", "outgoing interface for IP multicast (default: the routing table's)")
	ipmcTTL := fs.Int("ipmc-ttl", 0, "IP multicast TTL or hop limit (default 1: the local network)")
	ipmcLoop := fs.Bool("ipmc-loopback", false, "deliver the IP multicast datagrams to this host too")
	cfg := multicastFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("group-publish needs a file and a URL")
	}
	connURL, name, err := splitStreamURL(fs.Arg(1))
	if err != nil {
		return err
	}
	c, m, err := joinGroup(ctx, connURL, *spec, *verbose)
	if err != nil {
		return err
	}
	defer c.Close()
	defer m.Close()
	select {
	case <-time.After(*wait):
	case <-ctx.Done():
		return ctx.Err()
	}
	var opts []groupstream.PublishOption
	if *ipmc != "" {
		opts = append(opts, groupstream.IPMulticastPublishAddress(*ipmc, "", groupstream.IPMulticastOptions{Interface: *ipmcIface, TTL: *ipmcTTL, Loopback: *ipmcLoop}))
	}
	pub, err := m.Publish(name, *cfg, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "publishing %s into group %s (%d neighbours)\n", fs.Arg(0), m.NetGroup.GroupID(), len(m.NetGroup.Neighbors()))
	prog := newProgress()
	for base := uint32(0); ; {
		last, err := publishFile(ctx, fs.Arg(0), base, prog, func(m media.Message) error { return pub.WriteMedia(ctx, m) })
		if err != nil {
			return err
		}
		if !*loop {
			break
		}
		base = last + 40
	}
	prog.finish()
	printMulticastStats(pub.Stats())
	pub.Close()
	return nil
}
