// Command checktable prints `rtmfp check -json` reports side by side, one
// row per check, as interop/FINDINGS.md shows them, or one report as the
// text `rtmfp check` prints:
//
//	checktable rtmfpd=rtmfpd.json MonaTiny=mona.json tcserver=tc.json
//	checktable -text report.json
//
// Each cell is "pass", or the status and the one-line detail.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/rtmfpd/rtmfpd/rtmfpcheck"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" {
		fmt.Fprintln(os.Stderr, "usage: checktable name=report.json ...")
		os.Exit(2)
	}
	if os.Args[1] == "-text" && len(os.Args) == 3 {
		r, err := read(os.Args[2])
		if err != nil {
			fmt.Fprintf(os.Stderr, "checktable: %v\n", err)
			os.Exit(1)
		}
		r.WriteText(os.Stdout)
		return
	}
	var names []string
	var reps []*rtmfpcheck.Report
	for _, a := range os.Args[1:] {
		name, file, ok := strings.Cut(a, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "checktable: %q is not name=report.json\n", a)
			os.Exit(2)
		}
		r, err := read(file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "checktable: %v\n", err)
			os.Exit(1)
		}
		names, reps = append(names, name), append(reps, r)
	}
	rtmfpcheck.Table(os.Stdout, names, reps)
}

func read(file string) (*rtmfpcheck.Report, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	r, err := rtmfpcheck.ReadJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return r, nil
}
