package chunk

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
)

// outStream is the send state of one chunk stream: the fields of the last
// message header written on it.
type outStream struct {
	timestamp uint32
	delta     uint32
	length    uint32
	typ       uint8
	streamID  uint32
	format    uint8 // of the last message's first chunk
	set       bool  // a message was written on the stream
}

// lowCSIDs is the number of chunk stream IDs whose state a Framer keeps in
// an array (every one that servers and clients use for their messages);
// others go in a map.
const lowCSIDs = 10

// Framer splits messages into chunks, choosing the most compressed header
// the previous message on the same chunk stream allows, and appends them to
// a Batch without copying payloads. It is not safe for concurrent use.
type Framer struct {
	chunkSize uint32
	low       [lowCSIDs]outStream
	streams   map[uint32]*outStream // the other chunk streams; nil until one is used
	formats   [4]int                // messages started with each header format, for tests
}

// NewFramer returns a Framer with the default chunk size of 128 bytes.
func NewFramer() *Framer {
	return &Framer{chunkSize: DefaultChunkSize}
}

// ChunkSize returns the chunk size in use.
func (f *Framer) ChunkSize() int { return int(f.chunkSize) }

// SetChunkSize changes the chunk size for the following messages. The
// caller sends the Set Chunk Size message (with the old size) first.
func (f *Framer) SetChunkSize(n int) error {
	if n < 1 || n > MaxChunkSize {
		return fmt.Errorf("%w: %d", ErrChunkSize, n)
	}
	f.chunkSize = uint32(n)
	return nil
}

// Forget drops the state of chunk stream csid, so that its next message
// gets a full header. Call it after sending an Abort for csid.
func (f *Framer) Forget(csid uint32) {
	if csid < lowCSIDs {
		f.low[csid] = outStream{}
		return
	}
	delete(f.streams, csid)
}

// stream returns the state of chunk stream csid.
func (f *Framer) stream(csid uint32) *outStream {
	if csid < lowCSIDs {
		return &f.low[csid]
	}
	st := f.streams[csid]
	if st == nil {
		if f.streams == nil {
			f.streams = make(map[uint32]*outStream)
		}
		st = &outStream{}
		f.streams[csid] = st
	}
	return st
}

// Batch is framed output waiting for one vectored write (writev): chunk
// headers in bytes of its own, payloads by reference. The zero Batch is
// empty. Its slices stay valid until Reset.
type Batch struct {
	// Bufs are the pieces to write, in order.
	Bufs net.Buffers
	hdr  []byte // the headers' bytes
	n    int
}

// Len returns the number of bytes in the batch.
func (b *Batch) Len() int { return b.n }

// Reset empties the batch, keeping its capacity; it drops its references to
// payloads.
func (b *Batch) Reset() {
	clear(b.Bufs)
	b.Bufs = b.Bufs[:0]
	b.hdr = b.hdr[:0]
	b.n = 0
}

func (b *Batch) add(p []byte) {
	if len(p) > 0 {
		b.Bufs = append(b.Bufs, p)
		b.n += len(p)
	}
}

// Key identifies the body of a message framed with a chunk size on a chunk
// stream, for sharing it between connections (see Body).
func Key(chunkSize int, csid uint32) uint64 { return uint64(chunkSize)<<32 | uint64(csid) }

// Body returns what follows the first chunk's header when a payload longer
// than one chunk is framed on chunk stream csid with the given chunk size
// and no extended timestamp: the payload cut into chunks, each after the
// first preceded by its type 3 basic header. It is the same for every
// connection using that chunk size, so a fan-out makes it once (see
// media.Encodings) and each connection writes its own first header before
// it. key is Key(chunkSize, csid).
func Body(key uint64, payload []byte) []byte {
	size, csid := int(key>>32), uint32(key)
	var hb [3]byte
	cont := basicHeader(hb[:0], 3, csid)
	chunks := (len(payload) + size - 1) / size
	out := make([]byte, 0, len(payload)+(chunks-1)*len(cont))
	for p := payload; ; {
		n := min(len(p), size)
		out = append(out, p[:n]...)
		p = p[n:]
		if len(p) == 0 {
			return out
		}
		out = append(out, cont...)
	}
}

// Append frames m as chunks on chunk stream csid (m.CSID is ignored) into
// b. body, when not nil, is Body(Key(f.ChunkSize(), csid), m.Payload): it
// is used instead of cutting the payload when the header allows (no
// extended timestamp), so the whole message is two pieces.
func (f *Framer) Append(b *Batch, csid uint32, m Message, body []byte) error {
	if csid < MinCSID || csid > MaxCSID {
		return fmt.Errorf("%w: %d", ErrInvalidCSID, csid)
	}
	if len(m.Payload) > MaxMessageLength {
		return fmt.Errorf("%w: %d bytes (the length field holds at most %d)", ErrMessageTooLarge, len(m.Payload), MaxMessageLength)
	}
	length := uint32(len(m.Payload))
	st := f.stream(csid)
	var format uint8
	var field uint32
	switch {
	case !st.set:
		format, field = 0, m.Timestamp
	case m.StreamID != st.streamID || m.Timestamp < st.timestamp:
		format, field = 0, m.Timestamp
	default:
		field = m.Timestamp - st.timestamp
		switch {
		case length != st.length || m.Type != st.typ:
			format = 1
		case st.format != 0 && field == st.delta:
			// A type 3 header repeats the last delta. After a type 0 header
			// the peers disagree on what that delta is, so never then.
			format = 3
		default:
			format = 2
		}
	}
	*st = outStream{timestamp: m.Timestamp, delta: field, length: length, typ: m.Type, streamID: m.StreamID, format: format, set: true}
	f.formats[format]++
	ext := field >= extendedMark

	// The headers go into b.hdr; growing it may move it, which leaves the
	// pieces already added pointing at the old (unchanged) bytes.
	start := len(b.hdr)
	h := basicHeader(b.hdr, format, csid)
	if format < 3 {
		h = appendUint24(h, min(field, extendedMark))
	}
	if format < 2 {
		h = appendUint24(h, length)
		h = append(h, m.Type)
	}
	if format == 0 {
		h = binary.LittleEndian.AppendUint32(h, m.StreamID)
	}
	if ext {
		h = binary.BigEndian.AppendUint32(h, field)
	}
	b.hdr = h
	b.add(h[start:])
	p := m.Payload
	size := int(f.chunkSize)
	if len(p) <= size {
		b.add(p)
		return nil
	}
	if body != nil && !ext {
		b.add(body)
		return nil
	}
	// Continuation chunks: type 3, repeating the extended timestamp.
	start = len(b.hdr)
	h = basicHeader(b.hdr, 3, csid)
	if ext {
		h = binary.BigEndian.AppendUint32(h, field)
	}
	b.hdr = h
	cont := h[start:]
	for {
		n := min(len(p), size)
		b.add(p[:n])
		p = p[n:]
		if len(p) == 0 {
			return nil
		}
		b.add(cont)
	}
}

// basicHeader appends the basic header (§5.3.1.1) to b.
func basicHeader(b []byte, format uint8, csid uint32) []byte {
	f := format << 6
	switch {
	case csid < 64:
		return append(b, f|byte(csid))
	case csid < 64+256:
		return append(b, f, byte(csid-64))
	default:
		return append(b, f|1, byte(csid-64), byte((csid-64)>>8))
	}
}

func appendUint24(b []byte, v uint32) []byte { return append(b, byte(v>>16), byte(v>>8), byte(v)) }

// Writer frames messages and writes them to an io.Writer: a Framer with a
// Batch, for peers that write whole batches at once (tests, tools). It
// buffers its output: call Flush.
type Writer struct {
	Framer
	w io.Writer
	b Batch
}

// NewWriter returns a Writer with the default chunk size of 128 bytes.
func NewWriter(w io.Writer) *Writer {
	return &Writer{Framer: *NewFramer(), w: w}
}

// WriteMessage frames m as chunks on chunk stream csid (m.CSID is ignored).
func (w *Writer) WriteMessage(csid uint32, m Message) error { return w.Append(&w.b, csid, m, nil) }

// Buffered returns the number of bytes waiting for Flush.
func (w *Writer) Buffered() int { return w.b.Len() }

// Flush writes the framed messages to the underlying writer.
func (w *Writer) Flush() error {
	bufs := w.b.Bufs
	_, err := bufs.WriteTo(w.w)
	w.b.Reset()
	return err
}
