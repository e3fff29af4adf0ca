package multicast

import (
	"math"
	"time"
)

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

// Parameter ranges, as Flash documents them for the NetStream properties
// (FMS 4 server-side NetStream reference): the periods and durations in
// [0, 4294967.295] seconds (milliseconds in 32 bits, as the stream info
// carries them and librtmfp reads them), the push limit in [0, 4294967295].
// Config.Clamp applies them the way Flash coerces a property assignment:
// negative values become 0, larger ones the maximum, and nothing is an
// error.
const (
	MaxPeriod            = 4294967295 * time.Millisecond // every duration and period
	MaxPushNeighborLimit = 4294967295
)

// maxPushLimit is MaxPushNeighborLimit where an int holds it.
const maxPushLimit = min(MaxPushNeighborLimit, math.MaxInt)

// Engine floors: values Clamp keeps (and the stream info announces) but
// that the engine's timers cannot honour as such.
const (
	// MinTimerPeriod is the finest map period the engine runs: a smaller
	// UpdatePeriod (0 included) sends maps every MinTimerPeriod, never in
	// a busy loop; the stream info still announces the configured value.
	MinTimerPeriod = 10 * time.Millisecond
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
// negative values become 0, values above the range its maximum:
//
//	Window, UpdatePeriod, FetchPeriod, RelayMargin  [0, MaxPeriod]
//	PushNeighborLimit                               [0, MaxPushNeighborLimit]
//
// Every value in range is legal and used as is; what the extreme ones do:
//
//   - Window 0: a player keeps no fragment it did not get the instant it
//     learnt of it, and gives up on every missing one at once.
//   - UpdatePeriod below MinTimerPeriod (0 included): maps go out every
//     MinTimerPeriod; the configured value is what the stream info says.
//   - FetchPeriod 0: a missing fragment is pulled as soon as it is known.
//     A FetchPeriod at or above Window means fragments are never pulled in
//     time: the stream then relies on pushes alone.
//   - RelayMargin 0: fragments leave the buffer with the window.
//   - PushNeighborLimit 0: nothing is pushed; pulling still works.
//   - The maxima (about 49.7 days) keep fragments, timers and a closed
//     publication's lingering that long; the buffer stays bounded by
//     Limits.
func (c Config) Clamp() Config {
	c.Window = clampPeriod(c.Window)
	c.UpdatePeriod = clampPeriod(c.UpdatePeriod)
	c.FetchPeriod = clampPeriod(c.FetchPeriod)
	c.RelayMargin = clampPeriod(c.RelayMargin)
	c.PushNeighborLimit = min(max(c.PushNeighborLimit, 0), maxPushLimit)
	return c
}

func clampPeriod(d time.Duration) time.Duration { return min(max(d, 0), MaxPeriod) }

// ClampSeconds converts a Flash property value in seconds (a Number) to a
// period in range, as Clamp does: negative (or NaN) becomes 0, above
// MaxPeriod becomes MaxPeriod.
func ClampSeconds(s float64) time.Duration {
	switch {
	case !(s > 0):
		return 0
	case s >= MaxPeriod.Seconds():
		return MaxPeriod
	}
	return time.Duration(s * float64(time.Second))
}

// ClampCount converts a Flash property value (a Number) to a push limit in
// range: truncated, negative (or NaN) becomes 0, above the maximum the
// maximum.
func ClampCount(v float64) int {
	switch {
	case !(v > 0):
		return 0
	case v >= maxPushLimit:
		return maxPushLimit
	}
	return int(v)
}

// mapPeriod is the period the map timer runs at.
func (c Config) mapPeriod() time.Duration { return max(c.UpdatePeriod, MinTimerPeriod) }
