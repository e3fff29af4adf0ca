package wire

import (
	"bytes"
	"testing"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Header
		n    int
	}{
		{"startup", "0b 1234 30", Header{Flags: 0x0b, Timestamp: 0x1234}, 3},
		{"MonaServer2 TCR|TS|TSE|responder", "4e b855 b854 51", Header{Flags: 0x4e, Timestamp: 0xb855, Echo: 0xb854}, 5},
		{"rtmfp-cpp echo only", "05 0102 51", Header{Flags: 0x05, Echo: 0x0102}, 3},
		{"no timestamps", "01 10", Header{Flags: 0x01}, 1},
		{"reserved bits kept", "31", Header{Flags: 0x31}, 1},
	}
	for _, tc := range tests {
		in := unhex(t, tc.in)
		h, n, err := ParseHeader(in)
		if err != nil || h != tc.want || n != tc.n {
			t.Errorf("%s: %+v %d %v, want %+v %d", tc.name, h, n, err, tc.want, tc.n)
			continue
		}
		if enc := h.Append(nil); !bytes.Equal(enc, in[:n]) || h.Len() != n {
			t.Errorf("%s: Append %x Len %d, want %x", tc.name, enc, h.Len(), in[:n])
		}
		for i := 0; i < n; i++ {
			if _, _, err := ParseHeader(in[:i]); err != ErrTruncated {
				t.Errorf("%s: prefix %d: %v, want ErrTruncated", tc.name, i, err)
			}
		}
	}
}

func TestHeaderAccessors(t *testing.T) {
	h := Header{Flags: 0xcd}
	if !h.TimeCritical() || !h.TimeCriticalReverse() || !h.HasTimestamp() || !h.HasEcho() || h.Mode() != ModeInitiator {
		t.Errorf("0xcd: %v %v %v %v %d", h.TimeCritical(), h.TimeCriticalReverse(), h.HasTimestamp(), h.HasEcho(), h.Mode())
	}
	h = Header{Flags: 0x0b}
	if h.TimeCritical() || h.TimeCriticalReverse() || !h.HasTimestamp() || h.HasEcho() || h.Mode() != ModeStartup {
		t.Errorf("0x0b misread")
	}
	if (Header{Flags: 0x4a}).Mode() != ModeResponder {
		t.Errorf("0x4a: not responder")
	}
	// Fields without their flag are not written.
	if enc := (Header{Flags: 0x01, Timestamp: 7, Echo: 8}).Append(nil); !bytes.Equal(enc, []byte{1}) {
		t.Errorf("flagless fields written: %x", enc)
	}
}

func TestParseHeaderForbiddenMode(t *testing.T) {
	for _, f := range []byte{0x00, 0x08, 0x0c, 0x80, 0xcc} {
		if _, _, err := ParseHeader([]byte{f, 0, 0, 0, 0}); err != ErrForbiddenMode {
			t.Errorf("flags %#x: %v, want ErrForbiddenMode", f, err)
		}
	}
}
