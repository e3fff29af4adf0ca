//go:build !linux

package netns

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"testing"
)

// EnvChild is the environment variable ("1") that marks a process started
// by [Run] or [Main] inside a private network namespace.
const EnvChild = "RTMFPD_IN_NETNS"

var errUnsupported = errors.New("netns: private network namespaces need Linux; these tests send real IP multicast and must run isolated")

// InChild reports whether the process claims to be a namespace child.
func InChild() bool { return os.Getenv(EnvChild) == "1" }

// Verify always fails: only Linux has network namespaces.
func Verify() error { return errUnsupported }

// AddLoopbackAddr always fails: only Linux has network namespaces.
func AddLoopbackAddr(a netip.Addr) error { return errUnsupported }

// AddUnreachableRoute always fails: only Linux has network namespaces.
func AddUnreachableRoute(dst netip.Prefix) error { return errUnsupported }

// Run fails t: only Linux has network namespaces.
func Run(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	t.Fatal(errUnsupported)
}

// Main exits with status 1: only Linux has network namespaces.
func Main(m *testing.M) {
	fmt.Fprintf(os.Stderr, "FAIL\n%v\n", errUnsupported)
	os.Exit(1)
}
