package media

import (
	"sync"
	"testing"
)

func TestEncodingsShared(t *testing.T) {
	payload := make([]byte, 1000)
	e := NewEncodings(payload)
	made := 0
	mk := func(key uint64, p []byte) []byte {
		made++
		return append([]byte{byte(key)}, p...)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if f := e.Form(1, payload, mk); len(f) != 1001 || f[0] != 1 {
				t.Errorf("form of %d bytes", len(f))
			}
		})
	}
	wg.Wait()
	if made != 1 {
		t.Fatalf("form made %d times for 8 consumers", made)
	}
	// Another payload (a copy, or the same bytes cut shorter) is not the
	// one the forms describe.
	if e.For(append([]byte(nil), payload...)) || e.For(payload[:10]) {
		t.Error("For accepts another payload")
	}
	if f := e.Form(1, payload[:10], mk); f != nil {
		t.Error("a form for another payload")
	}
	// At most maxForms forms; past it the caller goes without.
	for k := uint64(2); k <= maxForms; k++ {
		if e.Form(k, payload, mk) == nil {
			t.Fatalf("form %d refused", k)
		}
	}
	if e.Form(maxForms+1, payload, mk) != nil {
		t.Error("more than maxForms forms kept")
	}
	var none *Encodings
	if none.For(payload) {
		t.Error("a nil Encodings describes a payload")
	}
}
