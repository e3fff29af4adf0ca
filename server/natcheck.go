package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strings"

	"github.com/rtmfpd/rtmfpd/natcheck"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// NATCheckConfig turns on the connectivity-check responder (package
// natcheck, rtmfp-cpp's conncheck protocol): clients of App that send
// setPeerInfo are probed from the extra sockets, and get the findings as
// the status event NetConnection.ConnectivityCheck.Results. `rtmfp check
// -nat rtmfp://host/conncheck` reads them.
type NATCheckConfig struct {
	// App is the application whose clients are checked. Default
	// "conncheck".
	App string `json:"app"`
	// DifferentPort is a UDP address on the IP address clients reach the
	// server at, with another port (required).
	DifferentPort string `json:"differentPort"`
	// DifferentAddress is a UDP address on another IP address of the same
	// family (optional: without it, address-dependent filtering cannot be
	// told from endpoint-independent filtering).
	DifferentAddress string `json:"differentAddress"`
	// IntroReply is a UDP address on a third IP address where clients are
	// asked to answer an introduction (optional: without it, the NAT's
	// mapping behaviour is not measured). IntroReplyPublic is that
	// address as clients see it, when the server is behind a translation.
	IntroReply       string `json:"introReply"`
	IntroReplyPublic string `json:"introReplyPublic"`
	// Tries is how many times each probe is sent. Default 5.
	Tries int `json:"tries"`
}

// defaultNATCheckApp is the application NATCheckConfig.App defaults to.
const defaultNATCheckApp = "conncheck"

func (n *NATCheckConfig) validate(apps []AppConfig) error {
	if n.DifferentPort == "" {
		return errors.New("natCheck.differentPort: required")
	}
	for _, f := range []struct{ name, v string }{{"differentPort", n.DifferentPort}, {"differentAddress", n.DifferentAddress},
		{"introReply", n.IntroReply}, {"introReplyPublic", n.IntroReplyPublic}} {
		if f.v == "" {
			continue
		}
		if _, err := netip.ParseAddrPort(f.v); err != nil {
			return fmt.Errorf("natCheck.%s: address %q: %w", f.name, f.v, err)
		}
	}
	if n.IntroReplyPublic != "" && n.IntroReply == "" {
		return errors.New("natCheck.introReplyPublic: needs natCheck.introReply")
	}
	app := n.App
	if app == "" {
		app = defaultNATCheckApp
	}
	if len(apps) > 0 {
		var names []string
		found := false
		for _, a := range apps {
			ok, _ := path.Match(a.Name, app)
			found = found || ok
			names = append(names, a.Name)
		}
		if !found {
			return fmt.Errorf("natCheck.app: %q is not among apps %q, so its clients would be refused", app, names)
		}
	}
	return nil
}

// natHooks adds the connectivity check to the NetConnection hooks; it
// acts once startNATCheck has run (before any session is accepted).
func (d *Daemon) natHooks(h netstream.Hooks) netstream.Hooks {
	if d.cfg.NATCheck == nil {
		return h
	}
	next := h.OnPeerInfo
	h.OnPeerInfo = func(c *netstream.Conn, addrs []string) {
		if d.natHook != nil {
			d.natHook(c, addrs)
		}
		if next != nil {
			next(c, addrs)
		}
	}
	return h
}

// startNATCheck opens the responder's sockets.
func (d *Daemon) startNATCheck() error {
	nc := d.cfg.NATCheck
	if nc == nil {
		return nil
	}
	var socks []*net.UDPConn
	listen := func(field, a string) (rtmfp.PacketConn, error) {
		if a == "" {
			return nil, nil
		}
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(a)))
		if err != nil {
			return nil, fmt.Errorf("natCheck.%s %s: %w", field, a, err)
		}
		socks = append(socks, c)
		return c, nil
	}
	cfg := natcheck.Config{Tries: nc.Tries, Logger: d.log}
	var err error
	if cfg.DifferentPort, err = listen("differentPort", nc.DifferentPort); err == nil {
		if cfg.DifferentAddress, err = listen("differentAddress", nc.DifferentAddress); err == nil {
			cfg.IntroReply, err = listen("introReply", nc.IntroReply)
		}
	}
	if err == nil && nc.IntroReplyPublic != "" {
		cfg.IntroReplyAddress = netip.MustParseAddrPort(nc.IntroReplyPublic)
	}
	var r *natcheck.Responder
	if err == nil {
		r, err = natcheck.New(cfg)
	}
	if err != nil {
		for _, c := range socks {
			c.Close()
		}
		return err
	}
	app := nc.App
	if app == "" {
		app = defaultNATCheckApp
	}
	d.nat = r
	d.natHook = r.Hook(app, func(c *netstream.Conn) *rtmfp.Session { return natcheck.SessionOf(d.endpoints, c) }, nil)
	addrs := make([]string, len(socks))
	for i, c := range socks {
		addrs[i] = c.LocalAddr().String()
	}
	d.log.Info("connectivity check listening", "app", app, "address", strings.Join(addrs, ","))
	return nil
}

// closeNATCheck stops the responder.
func (d *Daemon) closeNATCheck() {
	if d.nat != nil {
		d.nat.Close()
	}
}
