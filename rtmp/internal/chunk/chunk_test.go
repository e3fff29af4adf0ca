package chunk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

func readAll(t testing.TB, r *Reader) ([]Message, error) {
	t.Helper()
	var out []Message
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

func TestReaderVectors(t *testing.T) {
	for _, v := range vectors() {
		t.Run(v.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(v.in), Limits{})
			if v.chunkSize > 0 {
				if err := r.SetChunkSize(v.chunkSize); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readAll(t, r)
			if err != io.EOF {
				t.Fatalf("ended with %v, want io.EOF", err)
			}
			if len(got) != len(v.want) {
				t.Fatalf("got %d messages, want %d", len(got), len(v.want))
			}
			for i := range got {
				if !equalMsg(got[i], v.want[i]) {
					t.Errorf("message %d: got %+v, want %+v", i, got[i], v.want[i])
				}
			}
			if r.Held() != 0 {
				t.Errorf("held %d bytes after complete messages", r.Held())
			}
		})
	}
}

func TestWriterVectors(t *testing.T) {
	for _, v := range vectors() {
		if !specBytes[v.name] {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			for _, m := range v.want {
				if err := w.WriteMessage(m.CSID, m); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), v.in) {
				t.Errorf("writer output differs:\n got %x\nwant %x", buf.Bytes(), v.in)
			}
		})
	}
}

// TestTruncation reads every prefix of every vector: it must end in io.EOF
// exactly at message boundaries and io.ErrUnexpectedEOF everywhere else,
// after the messages the prefix holds completely.
func TestTruncation(t *testing.T) {
	for _, v := range vectors() {
		// Offsets where a message completes and none is incomplete.
		ends := map[int]int{0: 0}
		cr := &countReader{r: bytes.NewReader(v.in)}
		r := NewReader(bufioSize1(cr), Limits{})
		if v.chunkSize > 0 {
			r.SetChunkSize(v.chunkSize)
		}
		for i := 1; ; i++ {
			if _, err := r.ReadMessage(); err != nil {
				break
			}
			if r.partial == 0 {
				ends[cr.n] = i
			}
		}
		for n := 0; n < len(v.in); n++ {
			r := NewReader(bytes.NewReader(v.in[:n]), Limits{})
			if v.chunkSize > 0 {
				r.SetChunkSize(v.chunkSize)
			}
			got, err := readAll(t, r)
			want, boundary := ends[n]
			switch {
			case boundary && err != io.EOF:
				t.Errorf("%s: prefix %d ends at a message boundary but gives %v", v.name, n, err)
			case !boundary && err != io.ErrUnexpectedEOF:
				t.Errorf("%s: prefix %d gives %v, want io.ErrUnexpectedEOF", v.name, n, err)
			}
			if boundary && len(got) != want {
				t.Errorf("%s: prefix %d gives %d messages, want %d", v.name, n, len(got), want)
			}
		}
	}
}

type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// bufioSize1 makes the Reader's buffer read one byte at a time, so that the
// count of bytes read is exact when a message completes.
func bufioSize1(r io.Reader) io.Reader { return oneByte{r} }

type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

// TestRoundTrip writes random messages with every kind of header and reads
// them back, at several chunk sizes.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	csids := []uint32{2, 3, 4, 63, 64, 300, 319, 320, 1000, 65599}
	for _, cs := range []int{1, 7, 128, 4096, 70000} {
		var msgs []Message
		ts := map[uint32]uint32{}
		for i := 0; i < 300; i++ {
			csid := csids[rng.IntN(len(csids))]
			var step uint32
			switch rng.IntN(6) {
			case 0:
				step = 0
			case 1:
				step = 0xFFFFFF + uint32(rng.IntN(3)) // extended delta
			case 2:
				step = -uint32(rng.IntN(100)) // backwards: type 0
			default:
				step = 33
			}
			ts[csid] += step
			n := []int{0, 1, 100, 129, 5000, 70001}[rng.IntN(6)]
			msgs = append(msgs, Message{
				CSID:      csid,
				Type:      []uint8{8, 9, 18, 20}[rng.IntN(4)],
				Timestamp: ts[csid],
				StreamID:  uint32(rng.IntN(2)),
				Payload:   fill(n, byte(i)),
			})
		}
		// A run of equal audio messages: type 0, type 2, then type 3 headers.
		for i := range 4 {
			msgs = append(msgs, Message{CSID: 5, Type: 8, Timestamp: 0xFFFFF0 + uint32(i)*23, StreamID: 1, Payload: fill(10, 9)})
		}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.SetChunkSize(cs)
		for _, m := range msgs {
			if err := w.WriteMessage(m.CSID, m); err != nil {
				t.Fatal(err)
			}
		}
		w.Flush()
		for f, n := range w.formats {
			if n == 0 {
				t.Errorf("chunk size %d: no type %d header written", cs, f)
			}
		}
		r := NewReader(&buf, Limits{})
		r.SetChunkSize(cs)
		got, err := readAll(t, r)
		if err != io.EOF {
			t.Fatalf("chunk size %d: %v", cs, err)
		}
		if len(got) != len(msgs) {
			t.Fatalf("chunk size %d: %d messages, want %d", cs, len(got), len(msgs))
		}
		for i := range got {
			if !equalMsg(got[i], msgs[i]) {
				t.Fatalf("chunk size %d: message %d differs: got ts %d type %d len %d, want ts %d type %d len %d",
					cs, i, got[i].Timestamp, got[i].Type, len(got[i].Payload), msgs[i].Timestamp, msgs[i].Type, len(msgs[i].Payload))
			}
		}
	}
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter(io.Discard)
	if err := w.WriteMessage(1, Message{}); !errors.Is(err, ErrInvalidCSID) {
		t.Errorf("csid 1: %v", err)
	}
	if err := w.WriteMessage(65600, Message{}); !errors.Is(err, ErrInvalidCSID) {
		t.Errorf("csid 65600: %v", err)
	}
	if err := w.WriteMessage(3, Message{Payload: make([]byte, MaxMessageLength+1)}); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("oversized message: %v", err)
	}
	for _, n := range []int{0, -1, MaxChunkSize + 1} {
		if err := w.SetChunkSize(n); !errors.Is(err, ErrChunkSize) {
			t.Errorf("chunk size %d: %v", n, err)
		}
	}
}

func setChunkSize(v uint32) chunk {
	return chunk{format: 0, csid: 2, length: 4, typ: 1, payload: binary.BigEndian.AppendUint32(nil, v)}
}

func TestReaderErrors(t *testing.T) {
	many := func(n int) []byte {
		var b []byte
		for i := 0; i < n; i++ {
			b = append(b, chunk{format: 0, csid: uint32(3 + i), length: 1, typ: 8, payload: []byte{1}}.bytes()...)
		}
		return b
	}
	manyPartial := func(n int) []byte {
		var b []byte
		for i := 0; i < n; i++ {
			b = append(b, chunk{format: 0, csid: uint32(3 + i), length: 1000, typ: 9, payload: fill(128, 0)}.bytes()...)
		}
		return b
	}
	cases := []struct {
		name string
		lim  Limits
		in   []byte
		want error
	}{
		{"chunk size 0", Limits{}, setChunkSize(0).bytes(), ErrChunkSize},
		{"chunk size top bit", Limits{}, setChunkSize(0x80000100).bytes(), ErrChunkSize},
		{"chunk size absurd", Limits{}, setChunkSize(0x7FFFFFFF).bytes(), ErrChunkSize},
		{"chunk size above limit", Limits{MaxChunkSize: 4096}, setChunkSize(4097).bytes(), ErrChunkSize},
		{"short set chunk size", Limits{}, chunk{format: 0, csid: 2, length: 3, typ: 1, payload: []byte{0, 1, 0}}.bytes(), ErrProtocol},
		{"short abort", Limits{}, chunk{format: 0, csid: 2, length: 2, typ: 2, payload: []byte{0, 1}}.bytes(), ErrProtocol},
		{"type 2 first", Limits{}, chunk{format: 2, csid: 3, ts: 1}.bytes(), ErrProtocol},
		{"type 3 first", Limits{}, chunk{format: 3, csid: 3}.bytes(), ErrProtocol},
		{"new header mid-message", Limits{}, join(
			chunk{format: 0, csid: 3, length: 200, typ: 9, payload: fill(128, 0)},
			chunk{format: 0, csid: 3, length: 200, typ: 9, payload: fill(128, 0)}), ErrProtocol},
		{"message above limit", Limits{MaxMessageSize: 1000}, chunk{format: 0, csid: 3, length: 1001, typ: 9}.bytes(), ErrMessageTooLarge},
		{"type 1 above limit", Limits{MaxMessageSize: 1000}, join(
			chunk{format: 0, csid: 3, length: 1, typ: 9, payload: []byte{0}},
			chunk{format: 1, csid: 3, length: 1001, typ: 9}), ErrMessageTooLarge},
		{"too many chunk streams", Limits{MaxChunkStreams: 10}, many(11), ErrTooManyChunkStreams},
		{"too many partial messages", Limits{MaxPartialMessages: 4}, manyPartial(5), ErrTooManyPartial},
		{"reassembly memory", Limits{MaxReassemblyBytes: 3000}, manyPartial(4), ErrReassemblyLimit},
		{"lying length", Limits{}, chunk{format: 0, csid: 3, length: 100, typ: 9, payload: fill(10, 0)}.bytes(), io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(c.in), c.lim)
			_, err := readAll(t, r)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			lim := c.lim.withDefaults()
			if r.Held() > lim.MaxReassemblyBytes {
				t.Errorf("held %d bytes, limit %d", r.Held(), lim.MaxReassemblyBytes)
			}
		})
	}
}

// TestDeclaredLengthNotAllocated sends a header announcing a maximal message
// (with a maximal chunk size) followed by 10 bytes: memory must follow the
// bytes received, not the length declared.
func TestDeclaredLengthNotAllocated(t *testing.T) {
	in := join(
		setChunkSize(DefaultMaxChunkSize),
		chunk{format: 0, csid: 3, length: MaxMessageLength, typ: 9, payload: fill(10, 0)},
	)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := NewReader(bytes.NewReader(in), Limits{})
	_, err := readAll(t, r)
	runtime.ReadMemStats(&after)
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 512<<10 {
		t.Errorf("allocated %d bytes for 10 bytes of a declared 16 MiB message", got)
	}
	if r.Held() > readStep {
		t.Errorf("held %d bytes", r.Held())
	}
}

// stepReader returns its script of reads one by one.
type stepReader struct {
	steps []any // []byte or error
}

func (s *stepReader) Read(p []byte) (int, error) {
	if len(s.steps) == 0 {
		return 0, io.EOF
	}
	x := s.steps[0]
	s.steps = s.steps[1:]
	if err, ok := x.(error); ok {
		return 0, err
	}
	return copy(p, x.([]byte)), nil
}

func TestErrorRecovery(t *testing.T) {
	errTimeout := errors.New("timeout")
	msg := chunk{format: 0, csid: 3, length: 2, typ: 8, payload: []byte{1, 2}}.bytes()
	// A timeout between chunks leaves the reader usable.
	r := NewReader(&stepReader{steps: []any{errTimeout, msg}}, Limits{})
	if _, err := r.ReadMessage(); err != errTimeout {
		t.Fatal(err)
	}
	if m, err := r.ReadMessage(); err != nil || len(m.Payload) != 2 {
		t.Fatalf("after a clean timeout: %v", err)
	}
	// A timeout inside a chunk is sticky.
	r = NewReader(&stepReader{steps: []any{msg[:3], errTimeout, msg[3:]}}, Limits{})
	if _, err := r.ReadMessage(); err != errTimeout {
		t.Fatal(err)
	}
	if _, err := r.ReadMessage(); err != errTimeout {
		t.Fatalf("after a timeout inside a chunk: %v", err)
	}
}
