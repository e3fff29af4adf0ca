// Package scripts holds the tests of the project's shell scripts.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTestScript runs scripts/test.sh with a stand-in go that records its
// arguments (and tools that are all present): every go test runs afresh
// (-count=1, so that CI never reports a cached pass), every package is
// tested, all with the race detector except the long multicast
// simulations, which run once without it (their short scenario with it).
func TestTestScript(t *testing.T) {
	realGo, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	record := filepath.Join(bin, "calls")
	stub := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// go list is real (the script needs the package list); the rest is
	// recorded.
	stub("go", `if [ "$1" = list ]; then exec "`+realGo+`" "$@"; fi
echo "$*" >> "`+record+`"`)
	for _, tool := range []string{"ffmpeg", "ffprobe", "nginx", "apt-get"} {
		stub(tool, "exit 0")
	}
	stub("sudo", `exec "$@"`)
	cmd := exec.Command("bash", "test.sh")
	cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "RTMFPD_TEST_FLAGS=") }) // the defaults
	cmd.Env = append(cmd.Env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("test.sh: %v\n%s", err, out)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(realGo, "list", "./...").Output()
	if err != nil {
		t.Fatal(err)
	}
	const sim = "github.com/rtmfpd/rtmfpd/multicast/mcsim"
	raced := map[string]bool{}
	simPlain := 0
	for _, call := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		args := strings.Fields(call)
		if len(args) == 0 || args[0] != "test" {
			continue
		}
		if !slices.Contains(args, "-count=1") {
			t.Errorf("go %s: without -count=1", call)
		}
		race := slices.Contains(args, "-race")
		for _, a := range args[1:] {
			if strings.HasPrefix(a, "-") || a == "25m" {
				continue
			}
			pkg := strings.TrimSuffix("github.com/rtmfpd/rtmfpd/"+strings.TrimPrefix(a, "./"), "/")
			if strings.HasPrefix(a, "github.com/") {
				pkg = a
			}
			switch {
			case pkg == sim && !race && !slices.Contains(args, "-short"):
				simPlain++
			case race:
				raced[pkg] = true
			}
		}
	}
	for _, pkg := range strings.Fields(string(out)) {
		if !raced[pkg] {
			t.Errorf("%s is not tested with -race", pkg)
		}
	}
	if simPlain != 1 {
		t.Errorf("the long simulations run %d times without -race, want once", simPlain)
	}
}
