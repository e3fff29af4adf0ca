package testtools

import (
	"net"
	"testing"
)

func TestGenerateAndProbe(t *testing.T) {
	path := GenerateFLV(t, 2)
	s := Probe(t, path)
	if Frames(s, "video") != 30 {
		t.Errorf("video frames: %+v", s)
	}
	if n := Frames(s, "audio"); n < 80 || n > 95 {
		t.Errorf("audio frames: %+v", s)
	}
}

func TestStartNginx(t *testing.T) {
	n := StartNginxRTMP(t, DefaultApplications)
	c, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
