package testtools

import (
	"fmt"
	"net"
	"runtime"
	"strings"
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

// fatalRecorder records Fatalf instead of failing the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestMissingToolFails: a missing program fails the test with the hint.
func TestMissingToolFails(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Require(rec, "no-such-program-for-rtmfpd-tests")
	}()
	<-done
	if !strings.Contains(rec.msg, "./scripts/test.sh") {
		t.Fatalf("message %q", rec.msg)
	}
}

// TestNginxKillRestart: a killed nginx refuses connections; restarted, it
// listens on the same port again.
func TestNginxKillRestart(t *testing.T) {
	n := StartNginxRTMP(t, DefaultApplications)
	pid := n.Pid()
	n.Kill()
	if n.Pid() != 0 {
		t.Fatal("Pid after Kill")
	}
	if c, err := net.Dial("tcp", n.Addr()); err == nil {
		c.Close()
		t.Fatal("killed nginx still accepts connections")
	}
	n.Restart()
	if n.Pid() == 0 || n.Pid() == pid {
		t.Fatalf("pid %d after restart (was %d)", n.Pid(), pid)
	}
	c, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
