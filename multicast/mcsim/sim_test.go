package mcsim

import (
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	r := New(Config{Peers: 10, Loss: 0.02, Duration: 20 * time.Second, Seed: 1}).Run()
	t.Log(r)
}
