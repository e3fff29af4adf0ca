package amf

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// traceMsg is one whole TC message carrying AMF, taken from a recorded trace.
type traceMsg struct {
	where string // scenario, datagram index and direction
	typ   byte   // TC message type: 0x14, 0x12, 0x11 or 0x0F
	body  []byte // AMF0 values (after the type, timestamp and, for AMF3 types, the 0x00 byte)
}

// traceUserData returns the flags and message bytes of a User Data (0x10) or
// Next User Data (0x11) chunk value (RFC 7016 §2.3.11–2.3.12). It is a
// test-only extractor, not a flow reassembler.
func traceUserData(typ byte, v []byte) (flags byte, data []byte, err error) {
	if len(v) < 1 {
		return 0, nil, fmt.Errorf("empty user data chunk")
	}
	flags, v = v[0], v[1:]
	if typ == 0x10 {
		for range 3 { // flow ID, sequence number, fsnOffset
			_, n, err := vlu.Parse(v)
			if err != nil {
				return 0, nil, err
			}
			v = v[n:]
		}
	}
	if flags&0x80 != 0 { // option list, ended by a 0 length
		for {
			l, n, err := vlu.Parse(v)
			if err != nil {
				return 0, nil, err
			}
			v = v[n:]
			if l == 0 {
				break
			}
			if l > uint64(len(v)) {
				return 0, nil, fmt.Errorf("option of %d bytes, %d left", l, len(v))
			}
			v = v[l:]
		}
	}
	return flags, v, nil
}

// traceMessages extracts the whole AMF messages of a scenario and counts the
// fragmented messages it skipped, and among them those whose first fragment
// starts with an AMF message type.
func traceMessages(t testing.TB, scenario string) (msgs []traceMsg, fragments, amfFragments int) {
	t.Helper()
	ds, err := tracefile.LoadDatagrams(scenario)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		for _, c := range d.Chunks {
			if c.Type != 0x10 && c.Type != 0x11 {
				continue
			}
			flags, data, err := traceUserData(c.Type, c.Value)
			if err != nil {
				t.Fatalf("%s #%d: %v", scenario, d.Index, err)
			}
			if flags&0x30 != 0 {
				if flags&0x30 == 0x10 { // count each fragmented message once
					fragments++
					if len(data) > 0 && isAMFType(data[0]) {
						amfFragments++
					}
				}
				continue
			}
			if flags&0x02 != 0 || len(data) < 5 {
				continue
			}
			m := traceMsg{where: fmt.Sprintf("%s #%d %s->%s", scenario, d.Index, d.RoleSrc, d.RoleDst), typ: data[0]}
			switch data[0] {
			case 0x14, 0x12: // AMF0 command, AMF0 data
				m.body = data[5:]
			case 0x11, 0x0F: // AMF3 command, AMF3 data
				if len(data) < 6 || data[5] != 0 {
					t.Errorf("%s: AMF3 message without its 0x00 byte: % x", m.where, data[:min(len(data), 8)])
					continue
				}
				m.body = data[6:]
			default:
				continue
			}
			msgs = append(msgs, m)
		}
	}
	return msgs, fragments, amfFragments
}

func isAMFType(t byte) bool { return t == 0x14 || t == 0x12 || t == 0x11 || t == 0x0F }

func TestTraceMessages(t *testing.T) {
	keep := Decoder{KeepAVMPlus: true}
	for _, s := range []string{"a_unicast", "b_p2p", "d_rtmfpcpp"} {
		t.Run(s, func(t *testing.T) {
			msgs, frags, amfFrags := traceMessages(t, s)
			if len(msgs) == 0 {
				t.Fatal("no AMF message found")
			}
			names := map[string]int{}
			switched := 0
			for _, m := range msgs {
				vs, err := keep.DecodeAll(m.body)
				if err != nil {
					t.Errorf("%s: %v\n% x", m.where, err, m.body)
					continue
				}
				out, err := AppendAMF0(nil, vs...)
				if err != nil {
					t.Errorf("%s: re-encode: %v", m.where, err)
				} else if !bytes.Equal(out, m.body) {
					t.Errorf("%s: re-encoded bytes differ\n got % x\nwant % x", m.where, out, m.body)
				}
				// The default decoder looks through the switch marker.
				plain, err := DecodeAll(m.body)
				if err != nil || len(plain) != len(vs) {
					t.Errorf("%s: default decoder: %d values, %v", m.where, len(plain), err)
				}
				for _, v := range vs {
					if _, ok := v.(AVMPlus); ok {
						switched++
					}
				}
				name, _ := plain[0].(string)
				names[fmt.Sprintf("0x%02x %s", m.typ, name)]++
			}
			var list []string
			for _, k := range slices.Sorted(maps.Keys(names)) {
				list = append(list, fmt.Sprintf("%s×%d", k, names[k]))
			}
			t.Logf("%d whole AMF messages decoded and re-encoded identically (%d AMF3-switched values), %d fragmented messages skipped (%d of them AMF)", len(msgs), switched, frags, amfFrags)
			t.Logf("messages: %s", strings.Join(list, ", "))
		})
	}
}
