package rtmfpcheck

// conformance is the catalogue of `rtmfp check`, in the order it runs:
// each category builds on the ones before.
func conformance() []category {
	return []category{
		handshakeChecks(),
		sessionChecks(),
		netConnectionChecks(),
		netStreamChecks(),
		introductionChecks(),
		groupChecks(),
	}
}

// Checks lists every check, for `rtmfp check -list`: ID, title and
// reference.
func Checks() []Result {
	var out []Result
	for _, cats := range [][]category{conformance(), connectivity()} {
		for _, cat := range cats {
			for _, c := range cat.checks {
				out = append(out, Result{ID: c.id, Category: cat.name, Title: c.title, Ref: c.ref})
			}
		}
	}
	return out
}
