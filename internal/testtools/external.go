package testtools

import (
	"os"
	"testing"
)

// External returns the program the environment variable env names, for
// programs built outside the repository (librtmfp's load generator,
// MonaServer2, rtmfp-cpp), or fails the test or benchmark saying what the
// program is and how to get it (what).
func External(t testing.TB, env, what string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Fatalf("%s is not set: it names %s", env, what)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s=%s: %v", env, p, err)
	}
	return p
}

// RTMFPLoad returns rtmfp-load, the load generator built on librtmfp
// (RTMFPD_RTMFP_LOAD), or fails saying how to build it.
func RTMFPLoad(t testing.TB) string {
	t.Helper()
	return External(t, "RTMFPD_RTMFP_LOAD", "rtmfp-load, the load generator built on librtmfp, a client nobody on "+
		"this project wrote (/work/shared/tools/rtmfp-load/README.md: build librtmfp and rtmfp-load outside "+
		"the repository, then RTMFPD_RTMFP_LOAD=/path/to/rtmfp-load)")
}
