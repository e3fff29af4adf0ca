// Package bwcheck is Flash Media Server's bandwidth check, which players of
// on-demand streams expect (seed 004's client defines onBWDone; FLVPlayback
// and OSMF players call checkBandwidth): the server calls the client's
// onBWCheck method, first with nothing to measure the round trip, then
// with payloads of about 10 KB, and reports what it measured by calling
// onBWDone(kbitDown, deltaDown, deltaTime, latency): the download rate in
// kbit/s, the kilobits sent, the seconds it took and the latency in ms.
//
// A client asks with nc.call("checkBandwidth", null) (or "_checkbw"); an
// application can also check every client at connect (ModeMeasure), or
// only call onBWDone() without arguments right after connect, as FMS's
// vod application did for clients that asked for no detection
// (ModeNotify), which is what a client whose onBWDone takes no argument
// (seed 004's) accepts.
package bwcheck

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// Modes of an application, for what happens at connect.
const (
	ModeOff     = ""        // nothing at connect (checkBandwidth is answered)
	ModeNotify  = "notify"  // onBWDone() without arguments after connect
	ModeMeasure = "measure" // a check after connect
)

// Bounds of a check.
const (
	payloadNumbers = 1200 // numbers per payload (about 10 KB of AMF)
	maxPayloads    = 8
	maxCheckTime   = time.Second
	callTimeout    = 5 * time.Second
)

// Checker runs bandwidth checks. It is a set of netstream hooks.
type Checker struct {
	// Mode returns an application's mode (nil: ModeOff everywhere).
	Mode func(app string) string
	Log  *slog.Logger

	mu      sync.Mutex
	running map[*netstream.Conn]bool
	payload []amf.Value
}

// Hooks returns next with the checker's hooks in front: OnConnected runs
// the application's mode, OnCall answers checkBandwidth and _checkbw and
// passes other calls on.
func (k *Checker) Hooks(next netstream.Hooks) netstream.Hooks {
	h := next
	h.OnConnected = func(c *netstream.Conn) {
		if next.OnConnected != nil {
			next.OnConnected(c)
		}
		mode := ModeOff
		if k.Mode != nil {
			mode = k.Mode(c.Info().App)
		}
		switch mode {
		case ModeNotify:
			c.Invoke("onBWDone")
		case ModeMeasure:
			k.start(c)
		}
	}
	h.OnCall = func(c *netstream.Conn, cmd netstream.Command) (any, error) {
		switch cmd.Name {
		case "checkBandwidth", "_checkbw":
			k.start(c)
			return nil, nil
		}
		if next.OnCall != nil {
			return next.OnCall(c, cmd)
		}
		return nil, netstream.ErrUnknownMethod
	}
	return h
}

// start runs one check on c at a time.
func (k *Checker) start(c *netstream.Conn) {
	k.mu.Lock()
	if k.running == nil {
		k.running = map[*netstream.Conn]bool{}
	}
	if k.running[c] {
		k.mu.Unlock()
		return
	}
	k.running[c] = true
	if k.payload == nil {
		// Numbers between 0 and 1, as FMS's script sent.
		k.payload = make([]amf.Value, payloadNumbers)
		x := uint32(2463534242)
		for i := range k.payload {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			k.payload[i] = float64(x) / math.MaxUint32
		}
	}
	payload := k.payload
	k.mu.Unlock()
	go func() {
		defer func() {
			k.mu.Lock()
			delete(k.running, c)
			k.mu.Unlock()
		}()
		r, err := Measure(context.Background(), c, payload)
		if err != nil {
			if k.Log != nil && !errors.Is(err, netstream.ErrConnClosed) {
				k.Log.Info("bandwidth check failed", "conn", c.ID, "err", err)
			}
			return
		}
		c.Invoke("onBWDone", r.KbitDown, r.DeltaDown, r.DeltaTime, r.Latency)
	}()
}

// Result is what a check measured, as onBWDone gets it.
type Result struct {
	KbitDown  float64 // kbit/s
	DeltaDown float64 // kilobits sent
	DeltaTime float64 // seconds
	Latency   float64 // ms
}

// Measure calls the client's onBWCheck, first with nothing (the latency),
// then with payload until a second has passed or maxPayloads were sent,
// and computes the download rate.
func Measure(ctx context.Context, c *netstream.Conn, payload []amf.Value) (Result, error) {
	call := func(args ...amf.Value) error {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		_, err := c.Call(ctx, "onBWCheck", args...)
		return err
	}
	begin := time.Now()
	if err := call(); err != nil {
		return Result{}, err
	}
	latency := min(max(time.Since(begin), 10*time.Millisecond), 800*time.Millisecond)
	size := payloadSize(payload)
	var sent int
	start := time.Now()
	for n := 0; n < maxPayloads && (n < 2 || time.Since(start) < maxCheckTime); n++ {
		if err := call(payload); err != nil {
			return Result{}, err
		}
		sent += size
	}
	took := time.Since(start)
	// Each round trip waited a latency that was no transfer.
	transfer := took - time.Duration(sent/size)*latency
	if transfer <= 0 {
		transfer = took
	}
	kbits := float64(sent) * 8 / 1000
	return Result{KbitDown: math.Round(kbits / transfer.Seconds()), DeltaDown: kbits, DeltaTime: transfer.Seconds(),
		Latency: float64(latency.Milliseconds())}, nil
}

// payloadSize is the AMF0 size of an array of numbers (a strict array:
// marker, count, 9 bytes each).
func payloadSize(p []amf.Value) int { return 5 + 9*len(p) }
