package flash

import "testing"

func TestFingerprintErrors(t *testing.T) {
	for _, bad := range [][]byte{nil, {0x05, 0x1d}, {0x01, 0x0a, 0x00, 0x09}} {
		if _, err := fingerprint(bad); err == nil {
			t.Errorf("fingerprint(%x) accepted", bad)
		}
	}
	// Only the part before the first marker counts.
	a, _ := fingerprint([]byte{0x01, 0x0a, 0x00, 0x02, 0x0e, 0x01})
	b, _ := fingerprint([]byte{0x01, 0x0a, 0x00, 0x02, 0x0e, 0x02})
	c, _ := fingerprint([]byte{0x01, 0x0a})
	if a != b || a != c {
		t.Error("non-canonical options change the fingerprint")
	}
}
