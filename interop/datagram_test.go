package interop

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// TestTraceDatagramsDecrypt opens every recorded datagram with our packet
// codec and the key of its session and direction, and checks the header and
// the chunk split against what the recording holds.
func TestTraceDatagramsDecrypt(t *testing.T) {
	tr := loadTrace(t)
	codecs := map[string]*flash.Codec{}
	chunkTypes := map[string]map[byte]int{}
	for i := range tr.ds {
		d := &tr.ds[i]
		w := d.Wire
		if len(w) < 4+16 || (len(w)-4)%16 != 0 {
			t.Fatalf("#%d: %d-byte datagram", i, len(w))
		}
		sid := binary.BigEndian.Uint32(w[0:]) ^ binary.BigEndian.Uint32(w[4:]) ^ binary.BigEndian.Uint32(w[8:])
		if sid != d.SessionID {
			t.Fatalf("#%d: scrambled session ID gives %#x, recorded %#x", i, sid, d.SessionID)
		}
		key := tr.expectedKey(d)
		c := codecs[string(key)]
		if c == nil {
			var err error
			if c, err = flash.NewCodec(key, flash.Integrity{}); err != nil {
				t.Fatal(err)
			}
			codecs[string(key)] = c
		}
		body, err := c.Open(bytes.Clone(w[4:]))
		if err != nil {
			t.Fatalf("#%d (%s→%s): %v", i, d.RoleSrc, d.RoleDst, err)
		}
		if len(d.Plain) < 2 || !bytes.Equal(body, d.Plain[2:]) {
			t.Fatalf("#%d: decrypted body differs from the recorded plaintext", i)
		}
		if err := checkBody(d, body, d.RoleSrc == roleServer); err != nil {
			t.Fatalf("#%d (%s→%s): %v", i, d.RoleSrc, d.RoleDst, err)
		}
		dir := d.RoleSrc + "→" + d.RoleDst
		if chunkTypes[dir] == nil {
			chunkTypes[dir] = map[byte]int{}
		}
		for _, ch := range d.Chunks {
			chunkTypes[dir][ch.Type]++
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(chunkTypes)) {
		var b strings.Builder
		for _, typ := range slices.Sorted(maps.Keys(chunkTypes[dir])) {
			fmt.Fprintf(&b, " %#02x×%d", typ, chunkTypes[dir][typ])
		}
		t.Logf("%-27s%s", dir, b.String())
	}
	// Both clients sent data and acknowledgements, and so did the server.
	for _, dir := range []string{rolePublisher + "→" + roleServer, roleServer + "→" + rolePublisher,
		rolePlayer + "→" + roleServer, roleServer + "→" + rolePlayer} {
		if chunkTypes[dir][wire.TypeUserData] == 0 || chunkTypes[dir][wire.TypeAckRanges]+chunkTypes[dir][wire.TypeAckBitmap] == 0 {
			t.Errorf("%s: no user data or no acknowledgements", dir)
		}
	}
}

// checkBody parses the packet header and chunks of a decrypted body and
// compares them with the recorded fields. responder tells whether the
// sender is the responder of the datagram's session.
func checkBody(d *tracefile.Datagram, body []byte, responder bool) error {
	h, n, err := wire.ParseHeader(body)
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if got := fmt.Sprintf("0x%02x", h.Flags); got != d.Flags {
		return fmt.Errorf("flags %s, recorded %s", got, d.Flags)
	}
	if h.HasTimestamp() != (d.Timestamp != nil) || h.HasTimestamp() && h.Timestamp != *d.Timestamp {
		return fmt.Errorf("timestamp differs from the recording")
	}
	if h.HasEcho() != (d.TimestampEcho != nil) || h.HasEcho() && h.Echo != *d.TimestampEcho {
		return fmt.Errorf("timestamp echo differs from the recording")
	}
	// Startup packets for the handshake; sessions in the sender's role
	// (RFC 7016 §2.2.4).
	want := wire.ModeInitiator
	switch {
	case d.KeyKind == "default":
		want = wire.ModeStartup
	case responder:
		want = wire.ModeResponder
	}
	if h.Mode() != want {
		return fmt.Errorf("mode %d, want %d", h.Mode(), want)
	}
	r := wire.NewChunkReader(body[n:])
	k := 0
	for r.Next() {
		if k >= len(d.Chunks) {
			return fmt.Errorf("more chunks than the %d recorded", len(d.Chunks))
		}
		rc := d.Chunks[k]
		if r.Type() != rc.Type || !bytes.Equal(r.Value(), rc.Value) {
			return fmt.Errorf("chunk %d: type %#x, recorded %#x (or values differ)", k, r.Type(), rc.Type)
		}
		if err := parseChunk(r.Type(), r.Value(), d.KeyKind == "default"); err != nil {
			return fmt.Errorf("chunk %d (%#x): %w", k, r.Type(), err)
		}
		k++
	}
	if r.Err() != nil || k != len(d.Chunks) {
		return fmt.Errorf("chunk walk: %v after %d of %d chunks", r.Err(), k, len(d.Chunks))
	}
	rest := r.Rest()
	if len(rest) != d.PaddingLen || len(bytes.Trim(rest, "\xff")) != 0 {
		return fmt.Errorf("%d bytes after the chunks (recorded padding %d), not all 0xFF", len(rest), d.PaddingLen)
	}
	return nil
}

// parseChunk parses one chunk with our decoder for its type. Startup
// packets may carry only handshake chunks, session packets only session
// chunks (RFC 7016 §2.3); a Forwarded IHello goes to the responder in the
// session the forwarder has with it (§2.3.3).
func parseChunk(typ byte, v []byte, startup bool) error {
	var err error
	handshake := false
	switch typ {
	case wire.TypeIHello:
		handshake = true
		var c wire.IHello
		if c, err = wire.ParseIHello(v); err == nil {
			_, err = flash.ParseEPD(c.EPD)
		}
	case wire.TypeRHello:
		handshake = true
		_, err = wire.ParseRHello(v)
	case wire.TypeRedirect:
		handshake = true
		_, err = wire.ParseRedirect(v)
	case wire.TypeFIHello:
		var c wire.FIHello
		if c, err = wire.ParseFIHello(v); err == nil {
			_, err = flash.ParseEPD(c.EPD)
		}
	case wire.TypeIIKeying:
		handshake = true
		_, err = wire.ParseIIKeying(v)
	case wire.TypeRIKeying:
		handshake = true
		_, err = wire.ParseRIKeying(v)
	case wire.TypeUserData:
		var c wire.UserData
		if c, err = wire.ParseUserData(v); err == nil && c.Flags&wire.FlagOptions != 0 {
			_, err = wire.ParseUserDataOptions(c.Options)
		}
	case wire.TypeNextUserData:
		var c wire.NextUserData
		if c, err = wire.ParseNextUserData(v); err == nil && c.Flags&wire.FlagOptions != 0 {
			_, err = wire.ParseUserDataOptions(c.Options)
		}
	case wire.TypeAckBitmap, wire.TypeAckRanges:
		_, err = wire.ParseAck(typ, v)
	case wire.TypePing, wire.TypePingReply:
	case wire.TypeBufferProbe:
		_, err = wire.ParseBufferProbe(v)
	case wire.TypeFlowException:
		_, err = wire.ParseFlowException(v)
	case wire.TypeCloseRequest, wire.TypeCloseAck:
		if len(v) != 0 {
			err = fmt.Errorf("%d-byte close chunk", len(v))
		}
	default:
		return fmt.Errorf("unexpected chunk type")
	}
	if err == nil && handshake != startup {
		err = fmt.Errorf("handshake chunk outside a startup packet, or session chunk inside one")
	}
	return err
}
