package rtmfpcheck

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// statusWord is how the text report shows a status.
func statusWord(s Status) string {
	switch s {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	}
	return "SKIP"
}

// WriteResult writes one check in the text form: a status line with the
// ID, what is tested and its reference, then what was found, the facts,
// and for a failure what was seen on the wire.
func WriteResult(w io.Writer, r Result) {
	fmt.Fprintf(w, "%s %s  %s [%s] %s\n", statusWord(r.Status), r.ID, r.Title, r.Ref, ms(r.Duration))
	if r.Detail != "" {
		fmt.Fprintf(w, "     %s\n", r.Detail)
	}
	for _, f := range r.Facts {
		fmt.Fprintf(w, "     · %s: %s\n", f.Key, f.Value)
	}
	for _, l := range r.Wire {
		fmt.Fprintf(w, "     | %s\n", l)
	}
}

// WriteHeader writes the first line of the text report.
func (r *Report) WriteHeader(w io.Writer) {
	fmt.Fprintf(w, "rtmfp check %s (server %s), %s\n", r.URL, r.Server, r.Started.Format(time.DateTime))
}

// WriteSummary writes the last line of the text report.
func (r *Report) WriteSummary(w io.Writer) {
	noun := "checks"
	if len(r.Results) == 1 {
		noun = "check"
	}
	fmt.Fprintf(w, "%d %s: %d passed, %d failed, %d skipped in %s\n",
		len(r.Results), noun, r.Passed, r.Failed, r.Skipped, r.Duration.Round(100*time.Millisecond))
}

// WriteText writes the whole report as text, a category at a time.
func (r *Report) WriteText(w io.Writer) {
	r.WriteHeader(w)
	cat := ""
	for _, res := range r.Results {
		if res.Category != cat {
			cat = res.Category
			fmt.Fprintf(w, "\n%s\n", cat)
		}
		WriteResult(w, res)
	}
	fmt.Fprintln(w)
	r.WriteSummary(w)
}

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON reads a report WriteJSON wrote.
func ReadJSON(b []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	r.Duration = time.Duration(r.DurationMS * float64(time.Millisecond))
	for i := range r.Results {
		r.Results[i].Duration = time.Duration(r.Results[i].DurationMS * float64(time.Millisecond))
	}
	return &r, nil
}

func msFloat(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Table writes reports side by side, one row per check: the status in
// each, for comparing servers (interop/FINDINGS.md).
func Table(w io.Writer, names []string, reports []*Report) {
	var ids []string
	seen := map[string]bool{}
	byID := make([]map[string]Result, len(reports))
	for i, rep := range reports {
		byID[i] = map[string]Result{}
		for _, res := range rep.Results {
			byID[i][res.ID] = res
			if !seen[res.ID] {
				seen[res.ID] = true
				ids = append(ids, res.ID)
			}
		}
	}
	fmt.Fprintf(w, "| check | %s |\n|---|%s\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
	for _, id := range ids {
		cells := make([]string, len(reports))
		for i := range reports {
			res, ok := byID[i][id]
			switch {
			case !ok:
				cells[i] = "–"
			case res.Status == Pass:
				cells[i] = "pass"
			default:
				cells[i] = strings.ToLower(statusWord(res.Status)) + ": " + strings.ReplaceAll(res.Detail, "|", "/")
			}
		}
		fmt.Fprintf(w, "| `%s` | %s |\n", id, strings.Join(cells, " | "))
	}
}
