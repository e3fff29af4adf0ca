package amf

import (
	"math"
	"time"
)

// maxDateMillis is the ECMAScript Date range: ±8.64e15 ms around the epoch.
const maxDateMillis = 8.64e15

// millisToTime converts an AMF date (milliseconds since the Unix epoch, UTC)
// to a time in UTC. It fails for NaN, infinities and values outside the
// ECMAScript Date range.
func millisToTime(ms float64) (time.Time, bool) {
	if math.IsNaN(ms) || ms > maxDateMillis || ms < -maxDateMillis {
		return time.Time{}, false
	}
	sec := math.Floor(ms / 1000)
	nsec := math.Round((ms - sec*1000) * 1e6)
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	if nsec >= 1e9 {
		sec++
		nsec -= 1e9
	}
	return time.Unix(int64(sec), int64(nsec)).UTC(), true
}

// timeToMillis is the inverse of millisToTime; it is exact for whole
// milliseconds.
func timeToMillis(t time.Time) float64 {
	return float64(t.Unix())*1000 + float64(t.Nanosecond())/1e6
}

// amf0Zone returns the time for an AMF0 date with a time-zone field: UTC for
// 0, otherwise a fixed zone with an empty name and the field as minutes east
// of UTC. The instant does not depend on the field.
func amf0Zone(t time.Time, tz int16) time.Time {
	if tz == 0 {
		return t
	}
	return t.In(time.FixedZone("", int(tz)*60))
}

// amf0ZoneField returns the AMF0 time-zone field for t: the zone offset in
// minutes when t's zone has an empty name (as made by the decoder or by
// time.FixedZone("", …)), otherwise 0 as the AMF0 specification asks.
func amf0ZoneField(t time.Time) int16 {
	name, off := t.Zone()
	if name != "" {
		return 0
	}
	m := off / 60
	return int16(max(math.MinInt16, min(math.MaxInt16, m)))
}
