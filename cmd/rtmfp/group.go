package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/groupstream"
	"github.com/rtmfpd/rtmfpd/ipmulticast"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/mediafile"
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
			return nil, usagef("-spec: %v", err)
		}
		return sp.IPMulticastAddresses(), nil
	}
	var out []netip.AddrPort
	for _, a := range strings.Split(flagValue, ",") {
		g, err := ipmulticast.ParsePublishAddress(strings.TrimSpace(a), "")
		if err != nil {
			return nil, usagef("-ipmc %q: %v", a, err)
		}
		out = append(out, g.Addr)
	}
	return out, nil
}

// joinGroup connects to the server and joins the group of spec.
func joinGroup(ctx context.Context, con *console, connURL, spec string, cf connFlags) (*client.Conn, *groupstream.Member, error) {
	c, err := dial(ctx, con, connURL, cf)
	if err != nil {
		return nil, nil, err
	}
	m, err := groupstream.JoinClient(ctx, c, spec)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("joining the group: %w", err)
	}
	return c, m, nil
}

// checkSpec refuses a missing or malformed groupspec.
func checkSpec(spec string) error {
	if spec == "" {
		return usagef("-spec G:… is required")
	}
	if _, err := group.ParseSpec(spec); err != nil {
		return usagef("-spec: %v", err)
	}
	return nil
}

func neighbours(m *groupstream.Member) func() string {
	return func() string { return fmt.Sprintf("neighbours %d", len(m.NetGroup.Neighbors())) }
}

func printMulticastStats(con *console, st multicast.Stats) {
	con.line("multicast: pushed from peers %d fragments (%d bytes), requested from peers %d (%d bytes), pushed to peers %d, requested by peers %d, lost %d",
		st.FragmentsPushedFromPeers, st.BytesPushedFromPeers, st.FragmentsRequestedFromPeers, st.BytesRequestedFromPeers,
		st.FragmentsPushedToPeers, st.FragmentsRequestedByPeers, st.FragmentsLost)
}

// groupPlayCmd plays a multicast stream of a group into an FLV file.
func groupPlayCmd(ctx context.Context, con *console, stdout io.Writer, args []string) error {
	c := newCommand("group-play", "group-play -spec G:… [-o out.flv] [-t duration] [-ipmc ip:port,...|off] [multicast flags] [flags] rtmfp://host/app/stream", stdout, con)
	spec := c.String("spec", "", "groupspec (G:…)")
	pf := addPlayFlags(c)
	cf := addConnFlags(c, con)
	ipmc := c.String("ipmc", "", "IP multicast groups to take fragments from (ip:port,...; default: the groupspec's; off: none)")
	ipmcIface := c.String("ipmc-iface", "", "interfaces to join the IP multicast groups on (comma-separated; default: all)")
	cfg := multicastFlags(c.FlagSet)
	pos, err := c.parse(args, 1, "a URL")
	if err != nil {
		return err
	}
	connURL, name, err := splitStreamURL(pos[0])
	if err != nil {
		return err
	}
	if err := checkSpec(*spec); err != nil {
		return err
	}
	ipmcGroups, err := ipmcListenAddresses(*ipmc, *spec)
	if err != nil {
		return err
	}
	ctx, cancel := withLimit(ctx, *pf.limit)
	defer cancel()
	nc, m, err := joinGroup(ctx, con, connURL, *spec, cf)
	if err != nil {
		return err
	}
	defer nc.Close()
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
		con.line("listening to IP multicast %v", ipmcGroups)
	}
	con.line("playing %s from group %s", name, m.NetGroup.GroupID())
	streamCtx, endStream := context.WithCancel(ctx)
	defer endStream()
	go func() {
		for code := range pb.Status() {
			con.line("stream status: %s", code)
			if code == groupstream.StatusUnpublishNotify && !*pf.follow {
				endStream()
			}
		}
	}()
	out := newOutput(*pf.out, stdout)
	defer out.close()
	prog := newProgress(con)
	prog.extra = neighbours(m)
	// A member joins the multicast stream at its live edge: audio and
	// video are written from their codec headers on (the publisher repeats
	// them before each key frame), so that the file decodes.
	var haveVideo, haveAudio, haveMeta bool
	err = playLoop(ctx, streamCtx, con, pf, pb.ReadMedia, func(m media.Message) error {
		switch {
		case m.IsVideo() && m.IsSequenceHeader():
			haveVideo = true
		case m.IsAudio() && m.IsSequenceHeader():
			haveAudio = true
		case m.IsVideo() && !haveVideo, m.IsAudio() && !haveAudio:
			prog.add(m, true)
			return nil
		case m.IsData():
			// The publisher repeats its metadata; a file needs it once.
			if haveMeta {
				return nil
			}
			haveMeta = true
		}
		prog.add(m, false)
		return out.write(m)
	})
	if errors.Is(err, groupstream.ErrClosed) {
		err = nil
	}
	prog.finish()
	printMulticastStats(con, pb.Stats())
	if len(ipmcGroups) > 0 {
		printIPMCReceived(con, pb.IPMulticastStats())
	}
	return playResult(err, out, pos[0])
}

func printIPMCReceived(con *console, st groupstream.IPMulticastCounters) {
	var recv, errs uint64
	for _, r := range st.Receivers {
		recv += r.Datagrams
		errs += r.Errors
	}
	con.line("IP multicast: received %d datagrams, %d fragments of this stream, %d foreign, %d read errors",
		recv, st.Datagrams, st.Foreign, errs)
}

// groupPublishCmd publishes an FLV file into a group in real time.
func groupPublishCmd(ctx context.Context, con *console, stdout io.Writer, args []string) error {
	c := newCommand("group-publish", "group-publish -spec G:… [-loop] [-ipmc ip:port [-ipmc-ttl n] [-ipmc-iface if]] [multicast flags] [flags] file.flv rtmfp://host/app/stream", stdout, con)
	spec := c.String("spec", "", "groupspec (G:…)")
	wait := c.Duration("wait", 5*time.Second, "time to let the mesh form before publishing")
	loop := c.Bool("loop", false, "publish the file again and again (until Ctrl-C)")
	cf := addConnFlags(c, con)
	ipmc := c.String("ipmc", "", "also send to this IP multicast address (setIPMulticastPublishAddress: 224.0.0.254:30000, [ff03::ffff]:30000)")
	ipmcIface := c.String("ipmc-iface", "", "outgoing interface for IP multicast (default: the routing table's)")
	ipmcTTL := c.Int("ipmc-ttl", 0, "IP multicast TTL or hop limit (default 1: the local network)")
	ipmcLoop := c.Bool("ipmc-loopback", false, "deliver the IP multicast datagrams to this host too")
	cfg := multicastFlags(c.FlagSet)
	pos, err := c.parse(args, 2, "a file and a URL")
	if err != nil {
		return err
	}
	file := pos[0]
	connURL, name, err := splitStreamURL(pos[1])
	if err != nil {
		return err
	}
	if err := checkSpec(*spec); err != nil {
		return err
	}
	if *ipmc != "" {
		if _, err := ipmulticast.ParsePublishAddress(*ipmc, ""); err != nil {
			return usagef("-ipmc %q: %v", *ipmc, err)
		}
	}
	if err := checkInput(file); err != nil {
		return err
	}
	nc, m, err := joinGroup(ctx, con, connURL, *spec, cf)
	if err != nil {
		return err
	}
	defer nc.Close()
	defer m.Close()
	con.line("joined group %s; letting the mesh form for %v", m.NetGroup.GroupID(), *wait)
	select {
	case <-time.After(*wait):
	case <-ctx.Done():
		return nil
	}
	var opts []groupstream.PublishOption
	if *ipmc != "" {
		opts = append(opts, groupstream.IPMulticastPublishAddress(*ipmc, "", groupstream.IPMulticastOptions{Interface: *ipmcIface, TTL: *ipmcTTL, Loopback: *ipmcLoop}))
	}
	pub, err := m.Publish(name, *cfg, opts...)
	if err != nil {
		return err
	}
	defer pub.Close()
	con.line("publishing %s into group %s (%d neighbours)", file, m.NetGroup.GroupID(), len(m.NetGroup.Neighbors()))
	prog := newProgress(con)
	prog.extra = neighbours(m)
	var ipmcErrors uint64
	checkIPMC := func() { // say at once when IP multicast sends start failing
		if st := pub.IPMulticastStats(); st.Errors > ipmcErrors {
			if ipmcErrors == 0 {
				con.line("IP multicast: sending to %s failed: %s", *ipmc, st.LastError)
			}
			ipmcErrors = st.Errors
		}
	}
	err = mediafile.ReplayLoop(ctx, file, *loop, func(m media.Message) error {
		if err := pub.WriteMedia(ctx, m); err != nil {
			return fmt.Errorf("publishing: %w", err)
		}
		prog.add(m, false)
		if *ipmc != "" {
			checkIPMC()
		}
		return nil
	})
	if ctx.Err() != nil {
		err = nil
	}
	prog.finish()
	printMulticastStats(con, pub.Stats())
	if *ipmc != "" {
		checkIPMC()
		st := pub.IPMulticastStats()
		line := fmt.Sprintf("IP multicast: sent %d datagrams (%d bytes) to %s, %d failed", st.Datagrams, st.Bytes, *ipmc, st.Errors)
		if st.LastError != "" {
			line += " (last error: " + st.LastError + ")"
		}
		con.line("%s", line)
	}
	return err
}
