package wire

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// integrityPrefix returns the length of the integrity prefix of a recorded
// datagram's plaintext: the 2-byte checksum, or rtmfp-cpp's session sequence
// number VLU (HMAC mode, see testdata/rtmfp-traces/SOURCE.md).
func integrityPrefix(t *testing.T, d *tracefile.Datagram) int {
	t.Helper()
	switch d.Integrity {
	case "checksum":
		return 2
	case "hmac-sha256":
		if d.SSeq == nil {
			return 0
		}
		v, n, err := vlu.Parse(d.Plain)
		if err != nil || v != *d.SSeq {
			t.Fatalf("#%d: sseq %d, %v, recorded %d", d.Index, v, err, *d.SSeq)
		}
		return n
	}
	t.Fatalf("#%d: unknown integrity %q", d.Index, d.Integrity)
	return 0
}

// TestTraces is the known-answer test over every recorded RTMFP datagram:
// header, chunk loop and a byte-exact re-encoding of every known chunk.
func TestTraces(t *testing.T) {
	total := map[byte]int{}
	for _, s := range tracefile.Scenarios {
		ds := loadTrace(t, s)
		counts := map[byte]int{}
		var opts, expanded, datagrams int
		for i := range ds {
			d := &ds[i]
			if !d.IsRTMFP() {
				continue
			}
			datagrams++
			body := d.Plain[integrityPrefix(t, d):]
			hdr, n, err := ParseHeader(body)
			if err != nil {
				t.Fatalf("%s #%d: header: %v", s, d.Index, err)
			}
			flags, _ := strconv.ParseUint(strings.TrimPrefix(d.Flags, "0x"), 16, 8)
			if hdr.Flags != byte(flags) {
				t.Errorf("%s #%d: flags %#x, recorded %s", s, d.Index, hdr.Flags, d.Flags)
			}
			if (d.Timestamp != nil) != hdr.HasTimestamp() || (d.Timestamp != nil && *d.Timestamp != hdr.Timestamp) {
				t.Errorf("%s #%d: timestamp %v %d, recorded %v", s, d.Index, hdr.HasTimestamp(), hdr.Timestamp, d.Timestamp)
			}
			if (d.TimestampEcho != nil) != hdr.HasEcho() || (d.TimestampEcho != nil && *d.TimestampEcho != hdr.Echo) {
				t.Errorf("%s #%d: echo %v %d, recorded %v", s, d.Index, hdr.HasEcho(), hdr.Echo, d.TimestampEcho)
			}
			if hdr.Len() != n || !bytes.Equal(hdr.Append(nil), body[:n]) {
				t.Errorf("%s #%d: header re-encodes to %x, want %x", s, d.Index, hdr.Append(nil), body[:n])
			}

			r := NewChunkReader(body[n:])
			k := 0
			var prev UserData
			havePrev := false
			for r.Next() {
				if k >= len(d.Chunks) {
					t.Fatalf("%s #%d: extra chunk %#x", s, d.Index, r.Type())
				}
				want := d.Chunks[k]
				k++
				if r.Type() != want.Type || !bytes.Equal(r.Value(), want.Value) {
					t.Fatalf("%s #%d: chunk %d is %#x %x, recorded %#x %x", s, d.Index, k, r.Type(), r.Value(), want.Type, want.Value)
				}
				counts[r.Type()]++
				c, known, err := parseChunk(r.Type(), r.Value())
				if !known {
					havePrev = false
					continue
				}
				if err != nil {
					t.Fatalf("%s #%d: chunk %#x: %v", s, d.Index, r.Type(), err)
				}
				wantBytes := AppendChunk(nil, r.Type(), r.Value())
				got := c.Append(nil)
				if !bytes.Equal(got, wantBytes) {
					t.Errorf("%s #%d: chunk %#x re-encodes to\n%x\nwant\n%x", s, d.Index, r.Type(), got, wantBytes)
				}
				if c.Len() != len(got) {
					t.Errorf("%s #%d: chunk %#x Len %d, wrote %d", s, d.Index, r.Type(), c.Len(), len(got))
				}
				if counts[r.Type()] == 1 { // every truncation of one real chunk of each type per trace
					checkPrefixes(t, r.Type(), r.Value())
				}
				// User data: options decode and re-encode; Next User Data
				// expands from the chunk before it.
				var ud UserData
				switch cc := c.(type) {
				case UserData:
					ud = cc
				case NextUserData:
					if !havePrev {
						t.Fatalf("%s #%d: Next User Data without a User Data before it", s, d.Index)
					}
					ud = cc.Expand(prev)
					if nx, ok := ud.AsNext(prev); !ok || !bytes.Equal(nx.Append(nil), got) {
						t.Errorf("%s #%d: AsNext does not give back the Next User Data", s, d.Index)
					}
					expanded++
				case AckRanges:
					// The same ack written as a bitmap reads back the same.
					a := Ack(cc)
					bm := a.AppendBitmap(nil)
					back, err := ParseAckBitmap(bm[ChunkHeaderLen:])
					if err != nil || !ackEqual(back, a) || len(bm) != a.BitmapLen() {
						t.Errorf("%s #%d: ack %+v as bitmap %x reads back %+v, %v", s, d.Index, a, bm, back, err)
					}
					havePrev = false
					continue
				default:
					havePrev = false
					continue
				}
				prev, havePrev = ud, true
				if ud.Options != nil {
					o, err := ParseUserDataOptions(ud.Options)
					if err != nil {
						t.Fatalf("%s #%d: options %x: %v", s, d.Index, ud.Options, err)
					}
					if o.Metadata == nil || o.UnknownMandatory || !bytes.Equal(o.Append(nil), ud.Options) || o.Len() != len(ud.Options) {
						t.Errorf("%s #%d: options %x decode to %+v, re-encode to %x", s, d.Index, ud.Options, o, o.Append(nil))
					}
					opts++
				}
			}
			if r.Err() != nil {
				t.Errorf("%s #%d: %v", s, d.Index, r.Err())
			}
			if k != len(d.Chunks) {
				t.Errorf("%s #%d: %d chunks, recorded %d", s, d.Index, k, len(d.Chunks))
			}
			if pad := r.Rest(); len(pad) != d.PaddingLen || len(bytes.Trim(pad, "\xff")) != 0 {
				t.Errorf("%s #%d: rest %x, recorded padding %d", s, d.Index, pad, d.PaddingLen)
			}
		}
		for typ, c := range counts {
			total[typ] += c
		}
		t.Logf("%s: %d datagrams, chunks %s, %d option lists, %d Next User Data expanded", s, datagrams, fmtCounts(counts), opts, expanded)
	}
	t.Logf("all: chunks %s", fmtCounts(total))
}

func fmtCounts(m map[byte]int) string {
	var keys []int
	for k := range m {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, " %#02x:%d", k, m[byte(k)])
	}
	return sb.String()
}
