package rtmfpcheck

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain checks, after a run of every test, that each check was seen to
// fail against some broken server: none of them passes whatever the
// server does.
func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 || flag.Lookup("test.run").Value.String() != "" {
		os.Exit(code)
	}
	var never []string
	for _, c := range Checks() {
		if _, ok := seenFailing.Load(c.ID); !ok {
			never = append(never, c.ID)
		}
	}
	if len(never) > 0 {
		fmt.Printf("FAIL: checks never seen failing against a broken server: %v\n", never)
		os.Exit(1)
	}
	os.Exit(code)
}
