package rtmfpcheck

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/internal/rtmfptest"
	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/natcheck"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
	"github.com/rtmfpd/rtmfpd/rtmfp"
)

// fakeTC is a hand-written NetConnection server on a real RTMFP endpoint:
// it answers connect, createStream, publish and play in the simplest way,
// and gets wrong what it is told to.
type fakeTC struct {
	noObjectEncoding bool // connect's _result lacks objectEncoding
	noKeepalive      bool // no Set Keepalive Timers
	callResult       bool // unknown calls get _result, not _error
	ignoreAMF3       bool // commands in AMF3 messages are not answered
	closeOnPeerInfo  bool // setPeerInfo ends the session
	refusePlay       bool // play gets NetStream.Play.Failed
	publicAddress    string
	results          *amf.Object
}

func startFakeTC(t *testing.T, n *simnet.Network, f *fakeTC) string {
	t.Helper()
	h, err := n.NewHost()
	if err != nil {
		t.Fatal(err)
	}
	ep := rtmfptest.Endpoint(t, h, 1935, rtmfp.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for {
			s, err := ep.Accept(ctx)
			if err != nil {
				return
			}
			go f.session(ctx, s)
		}
	}()
	return fmt.Sprintf("rtmfp://%s/live", ep.LocalAddr())
}

func (f *fakeTC) session(ctx context.Context, s *rtmfp.Session) {
	var mu sync.Mutex
	var nc *rtmfp.RecvFlow
	out := map[uint32]*rtmfp.SendFlow{}
	send := func(id uint32, m media.Message) {
		mu.Lock()
		o := out[id]
		if o == nil {
			o, _ = s.OpenFlow(tcflow.Metadata(id), rtmfp.FlowOptions{ReturnFor: nc})
			out[id] = o
		}
		mu.Unlock()
		if o != nil {
			tcflow.Write(ctx, o, m, 0)
		}
	}
	reply := func(id uint32, name string, txn float64, args ...amf.Value) {
		if m, err := netstream.EncodeCommand(name, txn, nil, args...); err == nil {
			send(id, m)
		}
	}
	var streams uint32
	for {
		fl, err := s.AcceptFlow(ctx)
		if err != nil {
			return
		}
		id, ok := tcflow.ParseMetadata(fl.Metadata())
		if !ok {
			fl.Reject(0)
			continue
		}
		mu.Lock()
		if nc == nil {
			nc = fl
		}
		mu.Unlock()
		go func() {
			for {
				b, err := fl.ReadMessage(ctx)
				if err != nil {
					return
				}
				m, err := tcflow.Decode(b)
				if err != nil || (m.Type != media.TypeCommandAMF0 && m.Type != media.TypeCommandAMF3) {
					continue
				}
				if m.Type == media.TypeCommandAMF3 && f.ignoreAMF3 {
					continue
				}
				cmd, err := netstream.DecodeCommand(m)
				if err != nil {
					continue
				}
				name, _ := cmd.ArgString(0)
				switch cmd.Name {
				case "connect":
					obj, _ := amf.AsObject(cmd.Object)
					oe, _ := obj.GetNumber("objectEncoding")
					info := netstream.Info(netstream.ConnectSuccess, "welcome")
					if !f.noObjectEncoding {
						info.Set("objectEncoding", oe)
					}
					if f.publicAddress != "" {
						info.Set("publicAddress", f.publicAddress)
					}
					reply(0, "_result", cmd.TxnID, info)
					if !f.noKeepalive {
						send(0, netstream.UserControl(netstream.EventSetKeepalive, 15000, 10000))
					}
				case "createStream":
					mu.Lock()
					streams++
					n := streams
					mu.Unlock()
					reply(0, "_result", cmd.TxnID, float64(n))
				case "setPeerInfo":
					if f.closeOnPeerInfo {
						s.Close()
					}
					if f.results != nil {
						reply(0, "onStatus", 0, f.results)
					}
				case "publish":
					reply(id, "onStatus", 0, netstream.Info(netstream.PublishStart, name))
				case "play":
					if f.refusePlay {
						reply(id, "onStatus", 0, netstream.Info(netstream.PlayFailed, name))
						continue
					}
					reply(id, "onStatus", 0, netstream.Info(netstream.PlayStart, name))
				case "deleteStream", "closeStream":
				default:
					if f.callResult {
						reply(0, "_result", cmd.TxnID, amf.Undefined{})
					} else {
						reply(0, "_error", cmd.TxnID, netstream.Info(netstream.CallFailed, "no such method"))
					}
				}
			}
		}()
	}
}

// TestBrokenNetConnections: the NetConnection and NetStream checks fail
// against servers that get their part wrong.
func TestBrokenNetConnections(t *testing.T) {
	yes := true
	for _, c := range []struct {
		name   string
		f      *fakeTC
		run    string
		fail   []string
		detail string
	}{
		{"no objectEncoding", &fakeTC{noObjectEncoding: true}, "^netconnection.connect", []string{"netconnection.connect", "netconnection.connect-amf0"}, "no objectEncoding"},
		{"no keepalive", &fakeTC{noKeepalive: true}, "^netconnection", []string{"netconnection.keepalive"}, "no Set Keepalive Timers"},
		{"unknown call answered", &fakeTC{callResult: true}, "^netconnection", []string{"netconnection.call-error"}, "answered _result"},
		{"AMF3 commands ignored", &fakeTC{ignoreAMF3: true}, "^netconnection", []string{"netconnection.amf3-command"}, "no answer"},
		{"setPeerInfo closes", &fakeTC{closeOnPeerInfo: true}, "netconnection.setpeerinfo", []string{"netconnection.setpeerinfo"}, ""},
		// Publish.Start for everyone, Play.Start and then nothing.
		{"play refused", &fakeTC{refusePlay: true}, "netstream.play", []string{"netstream.play"}, netstream.PlayFailed},
		{"malformed publicAddress", &fakeTC{publicAddress: "here"}, "nat.public", []string{"nat.public"}, "does not parse"},
		{"no media", &fakeTC{}, "^netstream", []string{"netstream.headers", "netstream.media", "netstream.badname", "netstream.unpublish"}, "no audio or video frame"},
		// Results with a probe claimed that never came, and a finding
		// that contradicts another.
		{"results not backed by probes", &fakeTC{results: natcheck.Results{PublicAddress: mustAddr("192.0.2.1:1"),
			ReceiveSameAddressDifferentPortAllowed: true}.Info()}, "nat.filtering", []string{"nat.filtering"}, "none arrived here"},
		{"inconsistent results", &fakeTC{results: natcheck.Results{PublicAddress: mustAddr("192.0.2.1:1"),
			SendAfterIntroductionAllowed: new(bool), SendAfterIntroductionPreservesSourcePort: &yes}.Info()}, "nat.mapping", []string{"nat.mapping"}, "inconsistent"},
		{"malformed results", &fakeTC{results: amf.NewObject(amf.Property{Key: "code", Value: natcheck.StatusResults},
			amf.Property{Key: "publicAddress", Value: "somewhere"})}, "nat.probes", []string{"nat.probes"}, "malformed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := newNet(t)
				url := startFakeTC(t, n, c.f)
				rep := runCheck(t, n, nil, url, Options{Run: only(c.run), NAT: strings.HasPrefix(c.run, "nat")})
				expectFailed(t, rep, c.fail, c.detail)
			})
		})
	}
}

func mustAddr(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
