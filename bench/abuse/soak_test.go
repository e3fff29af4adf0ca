package abuse

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/bench/internal/flood"
	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/group"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
	"github.com/rtmfpd/rtmfpd/rtmfp"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// soakGroup is the groupspec of the soak's NetGroup members.
const soakGroup = "G:027f0201010103010c050e74657374011b00"

// soak is the shared state of one soak run.
type soak struct {
	srv      *server
	ctx      context.Context
	rtmpURL  string
	rtmfpURL string

	mu       sync.Mutex
	failures []string
	sent     map[string]*atomic.Int64 // video frames published per stream
}

func (s *soak) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) < 50 {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

// frames returns the video frame and codec headers a soak publisher sends:
// 4 kB frames with a counter, a key frame each second at 25 frames/s.
func soakFrame(i int) media.Message {
	p := make([]byte, 4000)
	p[0], p[1] = 0x27, 0x01
	if i%25 == 0 {
		p[0] = 0x17
	}
	binary.BigEndian.PutUint32(p[5:], uint32(i))
	return media.Message{Type: media.TypeVideo, Timestamp: uint32(i * 40), Payload: p}
}

func soakHeaders() []media.Message {
	return []media.Message{
		{Type: media.TypeVideo, Payload: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f}},
		{Type: media.TypeAudio, Payload: []byte{0xAF, 0, 0x12, 0x10}},
	}
}

// publish runs a publisher of name at 25 frames/s (800 kbit/s) until ctx
// ends; write sends one message.
func (s *soak) publish(name string, write func(media.Message) error) {
	n := &atomic.Int64{}
	s.mu.Lock()
	s.sent[name] = n
	s.mu.Unlock()
	for _, m := range soakHeaders() {
		if err := write(m); err != nil {
			s.fail("publisher %s: %v", name, err)
			return
		}
	}
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	for i := 0; s.ctx.Err() == nil; i++ {
		if err := write(soakFrame(i)); err != nil {
			if s.ctx.Err() == nil {
				s.fail("publisher %s: %v", name, err)
			}
			return
		}
		n.Add(1)
		select {
		case <-tick.C:
		case <-s.ctx.Done():
		}
	}
}

// player counts the video frames one honest player gets.
type player struct {
	name string
	got  atomic.Int64
}

func (p *player) count(m media.Message) {
	if m.Type == media.TypeVideo && len(m.Payload) > 5 && m.Payload[1] == 1 {
		p.got.Add(1)
	}
}

// rtmpPlayer plays name over RTMP until ctx ends (or until it has n frames,
// when n > 0).
func (s *soak) rtmpPlayer(ctx context.Context, p *player, n int64) error {
	c, err := rtmp.Dial(ctx, s.rtmpURL, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Play(ctx, p.name); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	for n <= 0 || p.got.Load() < n {
		m, err := c.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		p.count(m.Message)
	}
	return nil
}

// rtmfpPlayer plays name over RTMFP until ctx ends (or until it has n
// frames, when n > 0).
func (s *soak) rtmfpPlayer(ctx context.Context, p *player, n int64) error {
	c, err := client.Dial(ctx, s.rtmfpURL, client.Options{Logger: quiet})
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.CreateStream(ctx)
	if err != nil {
		return err
	}
	if err := st.Play(ctx, p.name); err != nil {
		return err
	}
	for n <= 0 || p.got.Load() < n {
		m, err := st.ReadMedia(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		p.count(m)
	}
	return nil
}

// BenchmarkSoak runs the server for RTMFPD_SOAK_MINUTES (default 10) under
// ordinary traffic and abuse at once, sampling its resident set every
// second:
//
//   - two publishers (RTMP and RTMFP, 800 kbit/s each) and 16 players of
//     them (8 RTMP, 8 RTMFP) for the whole run;
//   - 6 NetGroup members joined for the whole run;
//   - churn: a player connects, plays 25 frames and leaves every second
//     (RTMP and RTMFP in turn), and a member joins and leaves every 5 s;
//   - 5 s after the last one ends, the next attack (15 s; 60 s for the
//     sticky flood, past the slow-consumer time): those of
//     BenchmarkStickyFlood, BenchmarkUnfinishedRTMFP,
//     BenchmarkUnfinishedRTMP and BenchmarkLongNames, scaled down, and a
//     spoofed IHello flood (bench/internal/flood, as the admission
//     benchmarks send it) of 20,000 packets/s from 2,000 addresses, each
//     time with the next IHello shape (one names a client connected for
//     the whole run: the flood asks for introductions to it).
//
// It passes when the resident set stays under twice the memory budget plus
// 128 MB (the Go heap may grow to twice what is live between collections),
// the budget's peak under the budget plus one peer's, the flood's answers
// within 3 times its bytes (plus 16 KiB a round), and every honest client is served: no
// long-lived player disconnected or short of 95% of the frames, every churn
// client and group member served, the introduction target still connected.
func BenchmarkSoak(b *testing.B) {
	dur := time.Duration(seconds("RTMFPD_SOAK_MINUTES", 10*time.Second)/time.Second) * time.Minute
	raiseFileLimit()
	for b.Loop() {
		srv := startServer(b, baseConfig(""))
		ctx, cancel := context.WithTimeout(context.Background(), dur)
		defer cancel()
		s := &soak{srv: srv, ctx: ctx, rtmpURL: "rtmp://" + srv.rtmp + "/live",
			rtmfpURL: "rtmfp://" + srv.rtmfp.String() + "/live", sent: map[string]*atomic.Int64{}}
		time.Sleep(time.Second)
		baseRSS := srv.rssMB(b)
		sm := srv.sample(b, time.Second)
		var wg sync.WaitGroup
		run := func(f func()) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f()
			}()
		}
		// The long-lived players, then the publishers.
		var players []*player
		for i := range 16 {
			p := &player{name: []string{"a", "b"}[i%2]}
			players = append(players, p)
			play := s.rtmpPlayer
			if i >= 8 {
				play = s.rtmfpPlayer
			}
			run(func() {
				if err := play(ctx, p, 0); err != nil {
					s.fail("player %d of %s: %v", i, p.name, err)
				}
			})
		}
		time.Sleep(2 * time.Second)
		run(func() {
			c, err := rtmp.Dial(ctx, s.rtmpURL, nil)
			if err != nil {
				s.fail("RTMP publisher: %v", err)
				return
			}
			defer c.Close()
			if err := c.Publish(ctx, "a", rtmp.ModeLive); err != nil {
				s.fail("RTMP publisher: %v", err)
				return
			}
			go func() {
				for {
					if _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}()
			s.publish("a", c.WriteMedia)
		})
		run(func() {
			c, err := client.Dial(ctx, s.rtmfpURL, client.Options{Logger: quiet})
			if err != nil {
				s.fail("RTMFP publisher: %v", err)
				return
			}
			defer c.Close()
			st, err := c.CreateStream(ctx)
			if err == nil {
				err = st.Publish(ctx, "b", "live")
			}
			if err != nil {
				s.fail("RTMFP publisher: %v", err)
				return
			}
			s.publish("b", func(m media.Message) error { return st.WriteMedia(ctx, m) })
		})
		// Group members for the whole run.
		spec, _ := group.ParseSpec(soakGroup)
		var members atomic.Int64
		for i := range 6 {
			run(func() {
				if err := s.member(ctx, spec.GroupID(), true); err != nil {
					s.fail("member %d: %v", i, err)
					return
				}
				members.Add(1)
			})
			time.Sleep(200 * time.Millisecond)
		}
		// Churn.
		var churned, churnFailed atomic.Int64
		run(func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for i := 0; ctx.Err() == nil; i++ {
				run(func() {
					p := &player{name: []string{"a", "b"}[i%2]}
					play := s.rtmpPlayer
					if i%4 >= 2 {
						play = s.rtmfpPlayer
					}
					cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
					defer cancel()
					if err := play(cctx, p, 25); err != nil || p.got.Load() < 25 {
						if ctx.Err() == nil {
							churnFailed.Add(1)
							s.fail("churn player %d: %d frames, %v", i, p.got.Load(), err)
						}
						return
					}
					churned.Add(1)
				})
				if i%5 == 0 {
					run(func() {
						cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
						defer cancel()
						if err := s.member(cctx, spec.GroupID(), false); err != nil && ctx.Err() == nil {
							churnFailed.Add(1)
							s.fail("churn member %d: %v", i, err)
							return
						}
						churned.Add(1)
					})
				}
				select {
				case <-tick.C:
				case <-ctx.Done():
				}
			}
		})
		// A client that a flood asks introductions to, for the whole run.
		target, err := client.Dial(ctx, s.rtmfpURL, client.Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		defer target.Close()
		var serverID profile.PeerID
		if id, err := hex.DecodeString(srv.peerID); err == nil && len(id) == len(serverID) {
			copy(serverID[:], id)
		}
		fl := flood.New(b, 2000, srv.rtmfp)
		shapes := flood.IHelloShapes(s.rtmfpURL, serverID, target.Session().Endpoint().PeerID())
		floods := 0
		ihelloFlood := func(ctx context.Context) {
			pkts := flood.Packets(shapes[floods%len(shapes)], 1024)
			floods++
			stop := make(chan struct{})
			defer context.AfterFunc(ctx, func() { close(stop) })()
			fl.RunUntil(stop, 20000, time.Hour, pkts)
		}
		// Attacks, one after the other.
		attacks := []struct {
			name string
			f    func(context.Context)
			d    time.Duration
		}{
			{"sticky flood", s.stickyFlood, time.Minute}, // past the slow-consumer time
			{"IHello flood", ihelloFlood, 15 * time.Second},
			{"unfinished RTMFP", s.unfinishedRTMFP, 15 * time.Second},
			{"unfinished RTMP", s.unfinishedRTMP, 15 * time.Second},
			{"long names", s.longNames, 15 * time.Second},
		}
		run(func() {
			for i := 0; ctx.Err() == nil; i++ {
				a := attacks[i%len(attacks)]
				actx, cancel := context.WithTimeout(ctx, a.d)
				a.f(actx)
				cancel()
				select {
				case <-time.After(5 * time.Second):
				case <-ctx.Done():
				}
			}
		})
		<-ctx.Done()
		wg.Wait()
		sm.end()
		end := sm.snapshot()
		ms, _ := srv.memory()

		s.mu.Lock()
		sentA, sentB := s.sent["a"].Load(), s.sent["b"].Load()
		s.mu.Unlock()
		worst := 1.0
		for _, p := range players {
			sent := sentA
			if p.name == "b" {
				sent = sentB
			}
			worst = min(worst, float64(p.got.Load())/float64(max(sent, 1)))
		}
		lim := float64(256<<20) / 1e6
		bound := 2*lim + 128
		b.ReportMetric(end.rssPeak, "MB-rss-peak")
		b.ReportMetric(float64(ms.Peak)/1e6, "MB-budget-peak")
		b.ReportMetric(worst*100, "%-worst-player")
		b.ReportMetric(float64(churned.Load()), "churned")
		b.Logf("%v: RSS %.0f → peak %.0f MB (bound %.0f MB), last %.0f MB; heap in use peak %.0f MB; budget peak %.0f MB, %d peers shed, %d over their own limit, %d slow players closed",
			dur, baseRSS, end.rssPeak, bound, end.rssLast, end.heapPeak, float64(ms.Peak)/1e6, ms.Shed, ms.OverPeer, ms.SlowClosed)
		targetUp := true
		select {
		case <-target.Done():
			targetUp = false
		default:
		}
		b.ReportMetric(fl.Ratio(), "flood-bytes-out/in")
		b.Logf("honest clients: 16 players got ≥ %.1f%% of %d/%d frames; %d members; %d churn clients served, %d failed; introduction target connected: %v",
			worst*100, sentA, sentB, members.Load(), churned.Load(), churnFailed.Load(), targetUp)
		b.Logf("IHello floods: %d rounds, %d packets (%.1f MB) sent, answers %.2f× their bytes (%d to the sources from the server, %d from others)",
			floods, fl.Sent.Pkts.Load(), float64(fl.Sent.Bytes.Load())/1e6, fl.Ratio(), fl.FromServer.Pkts.Load(), fl.FromOthers.Pkts.Load())
		// The amplification budget's bound: 3 times the bytes received,
		// plus the 16 KiB it starts with (each round finds it full again).
		if in, out := fl.Sent.Bytes.Load(), fl.FromServer.Bytes.Load()+fl.FromOthers.Bytes.Load(); out > 3*in+int64(floods)*16<<10 {
			b.Errorf("the floods were answered with %.3f× their bytes (bound 3, plus 16 KiB a round)", fl.Ratio())
		}
		if !targetUp {
			s.fail("the introduction target was disconnected: %v", target.Session().Err())
		}
		if end.rssPeak > bound {
			b.Errorf("RSS peaked at %.0f MB (bound %.0f MB)", end.rssPeak, bound)
		}
		if float64(ms.Peak)/1e6 > lim+float64(32<<20)/1e6 {
			b.Errorf("budget peaked at %.0f MB", float64(ms.Peak)/1e6)
		}
		if worst < 0.95 || members.Load() != 6 || churnFailed.Load() > 0 || len(s.failures) > 0 {
			b.Errorf("honest clients not all served (worst player %.1f%%, %d of 6 members):\n%s",
				worst*100, members.Load(), strings.Join(s.failures, "\n"))
		}
	}
}

// member joins the group, waits to be introduced to another member (when
// there is one: stay is false for churn, which always finds the long-lived
// members) and stays until ctx ends when stay is set.
func (s *soak) member(ctx context.Context, id group.GroupID, stay bool) error {
	c, err := client.Dial(ctx, s.rtmfpURL, client.Options{Logger: quiet})
	if err != nil {
		return err
	}
	defer c.Close()
	g, err := c.JoinGroup(ctx, id)
	if err != nil {
		return err
	}
	defer g.Leave()
	if !stay {
		select {
		case <-g.Members():
			return nil
		case <-ctx.Done():
			return fmt.Errorf("not introduced to any member: %w", ctx.Err())
		}
	}
	go func() {
		for range g.Members() {
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case <-c.Done():
		return fmt.Errorf("session ended: %v", c.Session().Err())
	}
}

// stickyFlood is BenchmarkStickyFlood's attack for the time of ctx, with
// one slow RTMP player (reading two messages a second through a small
// socket buffer) and one RTMFP player that never reads.
func (s *soak) stickyFlood(ctx context.Context) {
	name := fmt.Sprintf("evil-%d", time.Now().UnixNano())
	slow := &rtmp.ClientOptions{Dialer: &net.Dialer{Control: smallReceiveBuffer}}
	if c, err := rtmp.Dial(ctx, s.rtmpURL, slow); err == nil {
		defer c.Close()
		if c.Play(ctx, name) == nil {
			go func() {
				for {
					if _, err := c.ReadMessage(); err != nil {
						return
					}
					time.Sleep(500 * time.Millisecond)
				}
			}()
		}
	}
	if c, err := client.Dial(ctx, s.rtmfpURL, client.Options{Logger: quiet}); err == nil {
		defer c.Close()
		if st, err := c.CreateStream(ctx); err == nil {
			st.Play(ctx, name)
		}
	}
	pub, err := rtmp.Dial(ctx, s.rtmpURL, nil)
	if err != nil {
		return
	}
	defer pub.Close()
	if pub.Publish(ctx, name, rtmp.ModeLive) != nil {
		return
	}
	go func() {
		for {
			if _, err := pub.ReadMessage(); err != nil {
				return
			}
		}
	}()
	aac := make([]byte, 64<<10)
	aac[0] = 0xAF
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ctx.Err() == nil; i++ {
		if pub.WriteMedia(media.Message{Type: media.TypeAudio, Timestamp: uint32(i * 20), Payload: aac}) != nil {
			return
		}
		if i%2 == 0 && pub.WriteMedia(soakFrame(i/2)) != nil {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

// unfinishedRTMFP is BenchmarkUnfinishedRTMFP's attack with one session.
func (s *soak) unfinishedRTMFP(ctx context.Context) {
	c, err := client.Dial(ctx, s.rtmfpURL, client.Options{Logger: quiet})
	if err != nil {
		return
	}
	defer c.Close()
	msg := make([]byte, 3<<19)
	for i := range 255 {
		f, err := c.Session().OpenFlow(tcflow.Metadata(uint32(i+1)), rtmfp.FlowOptions{})
		if err != nil || f.Write(msg) != nil {
			break
		}
	}
	<-ctx.Done()
}

// unfinishedRTMP is BenchmarkUnfinishedRTMP's attack with 10 connections
// of 30 MiB each.
func (s *soak) unfinishedRTMP(ctx context.Context) {
	var as []*rtmpAttacker
	for range 10 {
		a, err := dialAttacker(ctx, s.srv.rtmp, "live", 2<<20)
		if err != nil {
			continue
		}
		as = append(as, a)
		go func() {
			for i := range 15 {
				if a.partial(byte(3+i), 16<<20-1, 2<<20) != nil {
					return
				}
			}
		}()
	}
	<-ctx.Done()
	for _, a := range as {
		a.nc.Close()
	}
}

// longNames is BenchmarkLongNames's attack: 10 plays with a 4 MiB name.
func (s *soak) longNames(ctx context.Context) {
	c, err := rtmp.Dial(ctx, s.rtmpURL, nil)
	if err != nil {
		return
	}
	defer c.Close()
	res, err := c.Call(ctx, "createStream", nil)
	if err != nil {
		return
	}
	id, _ := amf.Number(res.Arg(0))
	go func() {
		for {
			if _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	name := strings.Repeat("n", 4<<20)
	for range 10 {
		if c.Conn().WriteCommand(uint32(id), &rtmp.Command{Name: "play", Args: []any{name}}) != nil {
			return
		}
		if c.Conn().WriteCommand(0, &rtmp.Command{Name: name[:1<<20], TxnID: 9}) != nil {
			return
		}
	}
	<-ctx.Done()
}
