package testtools

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildMu    sync.Mutex
	buildCache = map[string]buildResult{}
)

type buildResult struct {
	path string
	err  error
}

// GoBinary builds the Go command pkg (an import path of this module) once
// per test binary and returns the program's path: whole-server benchmarks
// run rtmfpd as its own process.
func GoBinary(tb testing.TB, pkg string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	r, ok := buildCache[pkg]
	if !ok {
		r = build(pkg)
		buildCache[pkg] = r
	}
	if r.err != nil {
		tb.Fatalf("building %s: %v", pkg, r.err)
	}
	return r.path
}

func build(pkg string) buildResult {
	dir, err := os.MkdirTemp("", "rtmfpd-build")
	if err != nil {
		return buildResult{err: err}
	}
	path := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", path, pkg)
	cmd.Stderr = os.Stderr
	return buildResult{path: path, err: cmd.Run()}
}
