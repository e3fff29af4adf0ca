package cluster

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// FuzzMessages: node messages parse or fail, never panic; a parsed forward
// re-encodes to the same bytes.
func FuzzMessages(f *testing.F) {
	f.Add(forwardMsg{epd: []byte{0x21, 0x0f, 1}, tag: []byte{1, 2, 3},
		from: []wire.Address{{AddrPort: netip.MustParseAddrPort("127.0.0.1:9"), Origin: wire.OriginObserved}}}.append(nil))
	f.Add(tellMsg{}.append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseTell(b)
		fw, err := parseForward(b)
		if err != nil {
			return
		}
		if again := fw.append(nil); !bytes.Equal(again, b) {
			if fw2, err := parseForward(again); err != nil || !bytes.Equal(fw2.append(nil), again) {
				t.Fatalf("not stable: % x", b)
			}
		}
	})
}
