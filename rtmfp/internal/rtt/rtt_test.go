package rtt

import (
	"testing"
	"time"
)

func TestEstimator(t *testing.T) {
	e := New()
	if e.ERTO() != InitialERTO || e.MRTO() != InitialMRTO || e.HasSample() {
		t.Fatalf("initial state %+v", e)
	}
	e.Sample(100 * time.Millisecond)
	// SRTT 100, RTTVAR 50 → MRTO = 100 + 200 + 200.
	if e.SRTT() != 100*time.Millisecond || e.MRTO() != 500*time.Millisecond || e.ERTO() != 500*time.Millisecond {
		t.Fatalf("after first sample: srtt %v mrto %v erto %v", e.SRTT(), e.MRTO(), e.ERTO())
	}
	for range 50 {
		e.Sample(100 * time.Millisecond)
	}
	if e.SRTT() != 100*time.Millisecond || e.ERTO() > 310*time.Millisecond || e.ERTO() < 300*time.Millisecond {
		t.Fatalf("converged: srtt %v erto %v", e.SRTT(), e.ERTO())
	}
	for range 20 {
		e.Backoff()
	}
	if e.ERTO() != MaxERTO {
		t.Fatalf("backoff cap: %v", e.ERTO())
	}
	e.Progress()
	if e.ERTO() != e.MRTO() {
		t.Fatalf("progress: %v vs %v", e.ERTO(), e.MRTO())
	}
	// A tiny RTT keeps ERTO at its floor.
	f := New()
	f.Sample(0)
	if f.ERTO() != MinERTO {
		t.Fatalf("floor: %v", f.ERTO())
	}
	f.Sample(-time.Second)
	if f.Latest() != 0 {
		t.Fatal("negative sample accepted")
	}
}
