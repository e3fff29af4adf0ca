package netns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvChild is the environment variable ("1") that marks a process started
// by [Run] or [Main] inside a private network namespace. It only selects the
// child code path: [Verify] independently checks the isolation.
const EnvChild = "RTMFPD_IN_NETNS"

// envParent carries the parent's network namespace identity (the target of
// /proc/self/ns/net, e.g. "net:[4026531840]") to the child.
const envParent = "RTMFPD_NETNS_PARENT"

var (
	enterOnce sync.Once
	enterErr  error
)

// InChild reports whether the process claims to be a namespace child (the
// [EnvChild] variable is set). It is not proof of isolation; see [Verify].
func InChild() bool { return os.Getenv(EnvChild) == "1" }

// currentNS returns the identity of this process's network namespace.
func currentNS() (string, error) {
	s, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return "", fmt.Errorf("reading /proc/self/ns/net: %w", err)
	}
	return s, nil
}

// Verify reports whether the current process runs isolated: it must be a
// namespace child, its network namespace must differ from the parent's,
// and the only network interface must be the loopback device "lo".
func Verify() error {
	if !InChild() {
		return fmt.Errorf("%s is not set: the process was not started by netns.Run or netns.Main", EnvChild)
	}
	parent := os.Getenv(envParent)
	if !strings.HasPrefix(parent, "net:[") {
		return fmt.Errorf("%s=%q does not name the parent's network namespace", envParent, parent)
	}
	self, err := currentNS()
	if err != nil {
		return err
	}
	if self == parent {
		return fmt.Errorf("the process is still in the parent's network namespace %s", self)
	}
	return onlyLoopback()
}

// onlyLoopback checks that lo is the one and only interface.
func onlyLoopback() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("listing interfaces: %w", err)
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagLoopback == 0 {
		names := make([]string, len(ifs))
		for i, ifi := range ifs {
			names[i] = ifi.Name
		}
		return fmt.Errorf("expected only the loopback interface lo, found %v", names)
	}
	return nil
}

// enter verifies isolation, then configures the namespace for multicast on
// lo, then verifies again. It runs once per process.
func enter() error {
	enterOnce.Do(func() {
		if enterErr = Verify(); enterErr != nil {
			return
		}
		if enterErr = configure(); enterErr != nil {
			enterErr = fmt.Errorf("configuring the namespace: %w", enterErr)
			return
		}
		if enterErr = onlyLoopback(); enterErr != nil {
			return
		}
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			enterErr = err
			return
		}
		if want := net.FlagUp | net.FlagMulticast; lo.Flags&want != want {
			enterErr = fmt.Errorf("lo is %v after setup, want up and multicast", lo.Flags)
		}
	})
	return enterErr
}

// configure brings lo up with multicast and routes IPv4 and IPv6 multicast
// through it (see the package documentation for the exact commands).
func configure() error {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return err
	}
	c, err := dialRTNL()
	if err != nil {
		return err
	}
	defer c.close()
	const flags = syscall.IFF_UP | syscall.IFF_MULTICAST
	if err := c.setLinkFlags(lo.Index, flags, flags); err != nil {
		return fmt.Errorf("ip link set lo up multicast on: %w", err)
	}
	if err := c.addRoute(lo.Index, route{
		dst:   netip.MustParsePrefix("224.0.0.0/4"),
		table: syscall.RT_TABLE_MAIN, typ: syscall.RTN_UNICAST, scope: syscall.RT_SCOPE_LINK,
	}); err != nil {
		return fmt.Errorf("ip route add 224.0.0.0/4 dev lo: %w", err)
	}
	if err := c.addRoute(lo.Index, route{
		dst:   netip.MustParsePrefix("ff00::/8"),
		table: syscall.RT_TABLE_LOCAL, typ: syscall.RTN_LOCAL, scope: syscall.RT_SCOPE_HOST,
	}); err != nil {
		return fmt.Errorf("ip -6 route add local ff00::/8 dev lo table local: %w", err)
	}
	return nil
}

// AddLoopbackAddr assigns the host address a (a /32 or /128, no duplicate
// address detection) to lo. Tests use it to have several distinct IPv6
// source addresses. It refuses to run outside a verified namespace child.
func AddLoopbackAddr(a netip.Addr) error {
	if err := enter(); err != nil {
		return fmt.Errorf("netns: refusing to add %v: %w", a, err)
	}
	if !a.IsValid() || a.Zone() != "" || a.Is4In6() {
		return fmt.Errorf("netns: invalid address %v", a)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return err
	}
	c, err := dialRTNL()
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.addAddr(lo.Index, a); err != nil {
		return fmt.Errorf("netns: ip addr add %v dev lo: %w", a, err)
	}
	return nil
}

// AddUnreachableRoute makes dst unreachable (`ip route add unreachable
// dst`): sends to it fail at once (EHOSTUNREACH), as on a host with no
// route there. Tests use it to see how send errors are reported. It
// refuses to run outside a verified namespace child.
func AddUnreachableRoute(dst netip.Prefix) error {
	if err := enter(); err != nil {
		return fmt.Errorf("netns: refusing to add a route to %v: %w", dst, err)
	}
	c, err := dialRTNL()
	if err != nil {
		return err
	}
	defer c.close()
	table := uint8(syscall.RT_TABLE_MAIN)
	if dst.Addr().Is6() && dst.Addr().IsMulticast() {
		table = syscall.RT_TABLE_LOCAL // in front of the local ff00::/8 route
	}
	if err := c.addRoute(0, route{dst: dst.Masked(), table: table, typ: syscall.RTN_UNREACHABLE, scope: syscall.RT_SCOPE_UNIVERSE}); err != nil {
		return fmt.Errorf("netns: ip route add unreachable %v: %w", dst, err)
	}
	return nil
}

// command prepares the test binary, with args, to run in a new network
// namespace (and a new user namespace when not root).
func command(args []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	self, err := currentNS()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	env := make([]string, 0, len(os.Environ())+2)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, EnvChild+"=") && !strings.HasPrefix(kv, envParent+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, EnvChild+"=1", envParent+"="+self)
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if uid := os.Geteuid(); uid != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	cmd.SysProcAttr = attr
	return cmd, nil
}

// cannotIsolate is the failure message when no namespace can be created.
func cannotIsolate(err error) string {
	return fmt.Sprintf("netns: cannot create a private network namespace (clone with CLONE_NEWNET, as `unshare -n`): %v\n"+
		"These tests send real IP multicast and must never run on the host's interfaces; "+
		"run them as root (as CI does) or enable unprivileged user namespaces.", err)
}

// runPattern builds a -test.run pattern matching exactly the test name
// (subtest levels separated by '/').
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// Run runs fn as the test t inside a fresh private network namespace.
//
// In the parent process Run re-executes the test binary with
// -test.run selecting only t, in a new namespace, waits for it, and fails t
// with the child's output if the child fails, or if the child did not report
// that t passed. In the child (see [EnvChild]) Run verifies isolation and
// sets the namespace up (see the package documentation), failing t if that
// does not succeed, and then calls fn(t).
func Run(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	if InChild() {
		if err := enter(); err != nil {
			t.Fatalf("netns: refusing to run %s: %v", t.Name(), err)
		}
		fn(t)
		return
	}
	args := []string{"-test.run=" + runPattern(t.Name()), "-test.v=true", "-test.count=1"}
	if testing.Short() {
		args = append(args, "-test.short=true")
	}
	if d, ok := t.Deadline(); ok {
		if left := time.Until(d); left > time.Second {
			args = append(args, "-test.timeout="+left.String())
		}
	}
	cmd, err := command(args)
	if err != nil {
		t.Fatal(cannotIsolate(err))
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		t.Fatalf("netns: %s failed inside the namespace (%v):\n%s", t.Name(), err, out)
	case err != nil:
		t.Fatal(cannotIsolate(err))
	case !strings.Contains(string(out), "--- PASS: "+t.Name()+" ("):
		t.Fatalf("netns: the child did not run %s:\n%s", t.Name(), out)
	}
	if testing.Verbose() {
		t.Logf("output of the namespace child:\n%s", out)
	}
}

// Main runs the whole test binary (tests, benchmarks, fuzz targets) inside
// one fresh private network namespace. Call it from TestMain:
//
//	func TestMain(m *testing.M) { netns.Main(m) }
//
// The parent re-executes the binary with the same arguments, with standard
// input, output and error passed through, and exits with the child's status.
// The child verifies isolation and configures the namespace, then calls
// m.Run. Failure to create or verify the namespace exits with status 1.
func Main(m *testing.M) {
	if InChild() {
		if err := enter(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL\nnetns: refusing to run tests: %v\n", err)
			os.Exit(1)
		}
		os.Exit(m.Run())
	}
	cmd, err := command(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL\n%s\n", cannotIsolate(err))
		os.Exit(1)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code := exit.ExitCode()
		if code <= 0 {
			code = 1
		}
		os.Exit(code)
	case err != nil:
		fmt.Fprintf(os.Stderr, "FAIL\n%s\n", cannotIsolate(err))
		os.Exit(1)
	}
	os.Exit(0)
}
