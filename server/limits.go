package server

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/netstream"
)

// LimitsConfig bounds what peers can make the server hold in memory
// (zero: the defaults below, sized for a 1–4 GB machine). Each peer (an
// RTMFP session, an RTMP connection) has an account charged with its
// receive buffers, unfinished messages, player queues and send buffers; an
// account over PeerMemory closes its peer, and when all of them together
// pass Memory the largest holders are closed first, with the reason logged.
type LimitsConfig struct {
	// Memory is the server-wide budget in bytes. Default 256 MiB.
	Memory int64 `json:"memory"`
	// PeerMemory caps what one peer may make the server hold. Default
	// 32 MiB.
	PeerMemory int64 `json:"peerMemory"`
	// SessionReceive caps the receive buffers of one RTMFP session, all
	// its flows together (out-of-order data, unfinished and unread
	// messages). Default 4 MiB; at least 1 MiB (one flow's window).
	SessionReceive int `json:"sessionReceive"`
	// RTMPUnfinished caps the messages one RTMP connection leaves
	// incomplete at once. Default 16 MiB; at least
	// rtmpOptions.maxMessageSize.
	RTMPUnfinished int `json:"rtmpUnfinished"`
	// PlayerQueue bounds each played stream's queue, codec headers and
	// metadata included. Default 2 MiB.
	PlayerQueue int `json:"playerQueue"`
	// StickyBytes is the largest codec header or metadata kept for late
	// joiners. Default 64 KiB; at most a quarter of PlayerQueue.
	StickyBytes int `json:"stickyBytes"`
	// SlowConsumer disconnects a player whose queue stays over its bound
	// (or whose RTMFP flows make no acknowledged progress) for this long,
	// whatever it answers to pings. Default 30 s.
	SlowConsumer Duration `json:"slowConsumer"`
}

// Default limits.
const (
	DefaultMemory         = 256 << 20
	DefaultPeerMemory     = 32 << 20
	DefaultSessionReceive = 4 << 20
	DefaultRTMPUnfinished = 16 << 20
	DefaultPlayerQueue    = 2 << 20
	DefaultStickyBytes    = netstream.DefaultMaxSticky
	DefaultSlowConsumer   = netstream.DefaultSlowConsumer
	defaultMaxMessageSize = 16 << 20 // rtmpOptions.maxMessageSize
)

// withDefaults fills in the zero fields.
func (l LimitsConfig) withDefaults() LimitsConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def64 := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	def64(&l.Memory, DefaultMemory)
	def64(&l.PeerMemory, DefaultPeerMemory)
	def(&l.SessionReceive, DefaultSessionReceive)
	def(&l.RTMPUnfinished, DefaultRTMPUnfinished)
	def(&l.PlayerQueue, DefaultPlayerQueue)
	def(&l.StickyBytes, DefaultStickyBytes)
	if l.SlowConsumer == 0 {
		l.SlowConsumer = Duration(DefaultSlowConsumer)
	}
	return l
}

// validate checks the limits (with their defaults) against each other and
// against the RTMP message size, naming the field (Config.Validate has
// refused negative values already).
func (l LimitsConfig) validate(maxMessageSize int) error {
	l = l.withDefaults()
	if maxMessageSize == 0 {
		maxMessageSize = defaultMaxMessageSize
	}
	switch {
	case l.PeerMemory > l.Memory:
		return fmt.Errorf("limits.peerMemory: %d is above limits.memory (%d)", l.PeerMemory, l.Memory)
	case l.SessionReceive < 1<<20:
		return fmt.Errorf("limits.sessionReceive: %d is below one RTMFP flow's window (1048576)", l.SessionReceive)
	case int64(l.SessionReceive) > l.PeerMemory:
		return fmt.Errorf("limits.sessionReceive: %d is above limits.peerMemory (%d)", l.SessionReceive, l.PeerMemory)
	case l.RTMPUnfinished < maxMessageSize:
		return fmt.Errorf("limits.rtmpUnfinished: %d is below rtmpOptions.maxMessageSize (%d)", l.RTMPUnfinished, maxMessageSize)
	case int64(l.RTMPUnfinished) > l.PeerMemory:
		return fmt.Errorf("limits.rtmpUnfinished: %d is above limits.peerMemory (%d)", l.RTMPUnfinished, l.PeerMemory)
	case int64(l.PlayerQueue) > l.PeerMemory:
		return fmt.Errorf("limits.playerQueue: %d is above limits.peerMemory (%d)", l.PlayerQueue, l.PeerMemory)
	case l.StickyBytes > l.PlayerQueue/4:
		return fmt.Errorf("limits.stickyBytes: %d is above a quarter of limits.playerQueue (%d)", l.StickyBytes, l.PlayerQueue)
	case time.Duration(l.SlowConsumer) < time.Second:
		return fmt.Errorf("limits.slowConsumer: %v is below a second", time.Duration(l.SlowConsumer))
	}
	return nil
}

// MemoryStatus is the memory part of GET /status: the budget and the Go
// heap.
type MemoryStatus struct {
	budget.Stats
	// SlowConsumers counts players disconnected for staying behind.
	SlowConsumers uint64 `json:"slowConsumers"`
	// HeapAlloc and HeapInuse are the Go heap's live bytes and in-use
	// spans; Sys is what the Go runtime took from the system.
	HeapAlloc uint64 `json:"heapAlloc"`
	HeapInuse uint64 `json:"heapInuse"`
	Sys       uint64 `json:"sys"`
	// HeapLive is the heap the last collection found reachable (runtime/
	// metrics /gc/heap/live:bytes): what the server holds, without the
	// garbage HeapAlloc counts until the next collection.
	HeapLive uint64 `json:"heapLive"`
	// Goroutines is the number of goroutines.
	Goroutines int `json:"goroutines"`
}

func (d *Daemon) memoryStatus() MemoryStatus {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	st := MemoryStatus{Stats: d.memory.Stats(), SlowConsumers: d.ns.Stats().SlowPlayers,
		HeapAlloc: ms.HeapAlloc, HeapInuse: ms.HeapInuse, Sys: ms.Sys, Goroutines: runtime.NumGoroutine()}
	if live[0].Value.Kind() == metrics.KindUint64 {
		st.HeapLive = live[0].Value.Uint64()
	}
	return st
}
