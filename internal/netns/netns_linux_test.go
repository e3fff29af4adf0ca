package netns

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

const (
	envProbeFail = "NETNS_TEST_PROBE_FAIL"
	envNoNetns   = "NETNS_TEST_NO_NETNS"
)

// TestProbe is re-executed by the tests below with various environments. On
// its own it is a plain isolated test.
func TestProbe(t *testing.T) {
	Run(t, func(t *testing.T) {
		if os.Getenv(envProbeFail) == "1" {
			t.Error("probe failure requested")
		}
		if err := Verify(); err != nil {
			t.Error(err)
		}
	})
}

func TestRunIsolated(t *testing.T) {
	if !InChild() {
		host, err := currentNS()
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("NETNS_TEST_HOST_NS", host) // inherited by the child
	}
	Run(t, func(t *testing.T) {
		self, err := currentNS()
		if err != nil {
			t.Fatal(err)
		}
		if self == os.Getenv("NETNS_TEST_HOST_NS") || self == "" {
			t.Fatalf("child namespace %q equals the host's", self)
		}
		ifs, err := net.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		if len(ifs) != 1 || ifs[0].Name != "lo" {
			t.Fatalf("interfaces in the namespace: %v", ifs)
		}
		want := net.FlagUp | net.FlagLoopback | net.FlagMulticast
		if ifs[0].Flags&want != want {
			t.Fatalf("lo flags %v, want %v", ifs[0].Flags, want)
		}
	})
}

// TestMulticastLoopsBackOnLo proves the namespace setup: a datagram sent to
// an IPv4 and an IPv6 group comes back to a socket that joined it on lo.
func TestMulticastLoopsBackOnLo(t *testing.T) {
	Run(t, func(t *testing.T) {
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			t.Fatal(err)
		}
		for _, group := range []string{"239.255.0.1", "ff05::1:3"} {
			t.Run(group, func(t *testing.T) {
				g := netip.MustParseAddr(group)
				network, wildcard := "udp4", "0.0.0.0:0"
				if g.Is6() {
					network, wildcard = "udp6", "[::]:0"
				}
				c, err := net.ListenPacket(network, wildcard)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if g.Is4() {
					err = ipv4.NewPacketConn(c).JoinGroup(lo, &net.UDPAddr{IP: g.AsSlice()})
				} else {
					err = ipv6.NewPacketConn(c).JoinGroup(lo, &net.UDPAddr{IP: g.AsSlice()})
				}
				if err != nil {
					t.Fatalf("join %v on lo: %v", g, err)
				}
				port := c.LocalAddr().(*net.UDPAddr).Port
				s, err := net.ListenPacket(network, wildcard)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				dst := &net.UDPAddr{IP: g.AsSlice(), Port: port}
				if _, err := s.WriteTo([]byte("ping"), dst); err != nil {
					t.Fatalf("send to %v: %v", dst, err)
				}
				// The deadline only bounds a broken setup; delivery is synchronous on lo.
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 16)
				n, _, err := c.ReadFrom(buf)
				if err != nil || string(buf[:n]) != "ping" {
					t.Fatalf("read %q, %v", buf[:n], err)
				}
			})
		}
	})
}

func TestAddLoopbackAddr(t *testing.T) {
	Run(t, func(t *testing.T) {
		a := netip.MustParseAddr("fd00:6e73::7")
		if err := AddLoopbackAddr(a); err != nil {
			t.Fatal(err)
		}
		if err := AddLoopbackAddr(a); err != nil {
			t.Fatalf("adding twice: %v", err)
		}
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, x := range addrs {
			if p, err := netip.ParsePrefix(x.String()); err == nil && p.Addr() == a {
				found = true
			}
		}
		if !found {
			t.Fatalf("%v not among %v", a, addrs)
		}
		if err := onlyLoopback(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestVerifyRefusesOutsideChild(t *testing.T) {
	host, err := currentNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvChild, "")
	if err := Verify(); err == nil || !strings.Contains(err.Error(), EnvChild) {
		t.Fatalf("Verify without %s = %v", EnvChild, err)
	}
	if err := AddLoopbackAddr(netip.MustParseAddr("fd00:6e73::8")); err == nil {
		t.Fatal("AddLoopbackAddr ran outside a namespace child")
	}
	t.Setenv(EnvChild, "1")
	t.Setenv(envParent, "")
	if err := Verify(); err == nil || !strings.Contains(err.Error(), envParent) {
		t.Fatalf("Verify without the parent namespace = %v", err)
	}
	// A forged environment in the host namespace.
	t.Setenv(envParent, host)
	if err := Verify(); err == nil || !strings.Contains(err.Error(), "still in the parent's network namespace") {
		t.Fatalf("Verify in the host namespace = %v", err)
	}
}

// TestChildRefusesInHostNamespace starts the test binary in child mode but
// without a new namespace: the harness must refuse to run the test.
func TestChildRefusesInHostNamespace(t *testing.T) {
	host, err := currentNS()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestProbe$", "-test.v=true", "-test.count=1")
	cmd.Env = append(os.Environ(), EnvChild+"=1", envParent+"="+host)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child in the host namespace: err %v, output:\n%s", err, out)
	}
	for _, want := range []string{"refusing to run TestProbe", "still in the parent's network namespace", "--- FAIL: TestProbe"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestRunPropagatesChildFailure checks that a failure inside the namespace
// fails the parent test with the child's output.
func TestRunPropagatesChildFailure(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestProbe$", "-test.count=1")
	cmd.Env = append(os.Environ(), envProbeFail+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("failing probe: err %v, output:\n%s", err, out)
	}
	for _, want := range []string{"TestProbe failed inside the namespace", "probe failure requested"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestProbeWithoutNetns is re-executed by TestRunFailsWithoutNamespaces in
// a private user namespace; there it first forbids new network namespaces
// (for that user namespace only). On its own it is a plain isolated test.
func TestProbeWithoutNetns(t *testing.T) {
	if os.Getenv(envNoNetns) == "1" && !InChild() {
		if err := os.WriteFile("/proc/sys/user/max_net_namespaces", []byte("0"), 0); err != nil {
			t.Fatalf("forbidding network namespaces: %v", err)
		}
	}
	Run(t, func(t *testing.T) {})
}

// TestRunFailsWithoutNamespaces checks that Run fails, with its
// explanation, when no network namespace can be created.
func TestRunFailsWithoutNamespaces(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestProbeWithoutNetns$", "-test.count=1")
	cmd.Env = append(os.Environ(), envNoNetns+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		// Not the condition under test: without a user namespace there is no
		// way to forbid network namespaces without touching the host.
		t.Skipf("cannot create a user namespace for the test: %v", err)
	}
	if err == nil {
		t.Fatalf("Run succeeded although network namespaces were forbidden:\n%s", out)
	}
	for _, want := range []string{"cannot create a private network namespace", "must never run on the host's interfaces", "--- FAIL: TestProbeWithoutNetns"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRunPattern(t *testing.T) {
	for name, want := range map[string]string{
		"TestA":          "^TestA$",
		"TestA/sub_1":    "^TestA$/^sub_1$",
		"TestA/x.y+(z)#": `^TestA$/^x\.y\+\(z\)#$`,
	} {
		if got := runPattern(name); got != want {
			t.Errorf("runPattern(%q) = %q, want %q", name, got, want)
		}
	}
}
