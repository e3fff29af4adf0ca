package multicast

import "time"

// Config holds the multicast parameters of a stream, named after the Flash
// NetStream properties, with Flash's defaults (rtmfp-facts §7.7). Window,
// UpdatePeriod, FetchPeriod and SendToAll travel in a stream info;
// RelayMargin and PushNeighborLimit are local only.
type Config struct {
	// Window is multicastWindowDuration: how long a member keeps trying to
	// obtain a fragment it has learnt of before it gives up on it, and the
	// age beyond which arriving fragments are ignored. Default 8 s.
	Window time.Duration
	// UpdatePeriod is multicastAvailabilityUpdatePeriod: the interval
	// between fragments maps. Default 100 ms.
	UpdatePeriod time.Duration
	// FetchPeriod is multicastFetchPeriod: the time between learning that
	// a fragment exists and pulling it from a neighbour (it leaves time for
	// a push to bring it). Default 2.5 s.
	FetchPeriod time.Duration
	// SendToAll is multicastAvailabilitySendToAll: every map goes to every
	// neighbour instead of one neighbour per period. Default false.
	SendToAll bool
	// RelayMargin is multicastRelayMarginDuration: how long beyond Window
	// fragments stay in the buffer to serve neighbours. Default 2 s.
	RelayMargin time.Duration
	// PushNeighborLimit is multicastPushNeighborLimit: the most neighbours
	// each new fragment is pushed to. Default 4.
	PushNeighborLimit int
}

// Parameter ranges applied by Config.Clamp. Flash documents no ranges
// (Adobe preferred to keep them tunable); these are this package's choice:
// wide enough for every value seen in public applications (update and fetch
// periods of 20 ms, windows of a few ms rounded up), narrow enough to keep
// the buffer and the timers bounded.
const (
	MinWindow            = 100 * time.Millisecond
	MaxWindow            = 60 * time.Second
	MinUpdatePeriod      = 10 * time.Millisecond
	MaxUpdatePeriod      = 10 * time.Second
	MaxFetchPeriod       = 60 * time.Second // minimum 0: pull as soon as learnt
	MaxRelayMargin       = 60 * time.Second // minimum 0
	MaxPushNeighborLimit = 64               // minimum 0: never push
)

// DefaultConfig returns the Flash defaults.
func DefaultConfig() Config {
	return Config{
		Window:            8 * time.Second,
		UpdatePeriod:      100 * time.Millisecond,
		FetchPeriod:       2500 * time.Millisecond,
		RelayMargin:       2 * time.Second,
		PushNeighborLimit: 4,
	}
}

// Clamp compresses every parameter into its range and never fails:
// negative values first become 0, then values below a range are raised to
// its minimum and values above it lowered to its maximum:
//
//	Window             [100 ms, 60 s]
//	UpdatePeriod       [10 ms, 10 s]
//	FetchPeriod        [0, 60 s]
//	RelayMargin        [0, 60 s]
//	PushNeighborLimit  [0, 64]
//
// A FetchPeriod at or above Window is legal but means fragments are never
// pulled in time: the stream then relies on pushes alone.
func (c Config) Clamp() Config {
	c.Window = clampDuration(c.Window, MinWindow, MaxWindow)
	c.UpdatePeriod = clampDuration(c.UpdatePeriod, MinUpdatePeriod, MaxUpdatePeriod)
	c.FetchPeriod = clampDuration(c.FetchPeriod, 0, MaxFetchPeriod)
	c.RelayMargin = clampDuration(c.RelayMargin, 0, MaxRelayMargin)
	c.PushNeighborLimit = min(max(c.PushNeighborLimit, 0), MaxPushNeighborLimit)
	return c
}

func clampDuration(d, lo, hi time.Duration) time.Duration {
	return min(max(d, 0, lo), hi)
}
