package chunk

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
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
}

// Writer splits messages into chunks, choosing the most compressed header
// the previous message on the same chunk stream allows. It is not safe for
// concurrent use and buffers its output: call Flush.
type Writer struct {
	w         *bufio.Writer
	chunkSize uint32
	streams   map[uint32]*outStream
	hdr       [3 + 11 + 4]byte
	formats   [4]int // messages started with each header format, for tests
}

// NewWriter returns a Writer with the default chunk size of 128 bytes.
func NewWriter(w io.Writer) *Writer {
	return &Writer{
		w:         bufio.NewWriterSize(w, 64<<10),
		chunkSize: DefaultChunkSize,
		streams:   make(map[uint32]*outStream),
	}
}

// ChunkSize returns the chunk size in use.
func (w *Writer) ChunkSize() int { return int(w.chunkSize) }

// SetChunkSize changes the chunk size for the following messages. The
// caller sends the Set Chunk Size message (with the old size) first.
func (w *Writer) SetChunkSize(n int) error {
	if n < 1 || n > MaxChunkSize {
		return fmt.Errorf("%w: %d", ErrChunkSize, n)
	}
	w.chunkSize = uint32(n)
	return nil
}

// Forget drops the state of chunk stream csid, so that its next message
// gets a full header. Call it after sending an Abort for csid.
func (w *Writer) Forget(csid uint32) { delete(w.streams, csid) }

// Flush writes buffered chunks to the underlying writer.
func (w *Writer) Flush() error { return w.w.Flush() }

// Buffered returns the number of bytes waiting for Flush.
func (w *Writer) Buffered() int { return w.w.Buffered() }

// WriteMessage writes m as chunks on chunk stream csid (m.CSID is ignored).
func (w *Writer) WriteMessage(csid uint32, m Message) error {
	if csid < MinCSID || csid > MaxCSID {
		return fmt.Errorf("%w: %d", ErrInvalidCSID, csid)
	}
	if len(m.Payload) > MaxMessageLength {
		return fmt.Errorf("%w: %d bytes (the length field holds at most %d)", ErrMessageTooLarge, len(m.Payload), MaxMessageLength)
	}
	length := uint32(len(m.Payload))
	st := w.streams[csid]
	var format uint8
	var field uint32
	switch {
	case st == nil:
		st = &outStream{}
		w.streams[csid] = st
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
	*st = outStream{timestamp: m.Timestamp, delta: field, length: length, typ: m.Type, streamID: m.StreamID, format: format}
	w.formats[format]++
	ext := field >= extendedMark

	b := w.basicHeader(format, csid)
	if format < 3 {
		b = appendUint24(b, min(field, extendedMark))
	}
	if format < 2 {
		b = appendUint24(b, length)
		b = append(b, m.Type)
	}
	if format == 0 {
		b = binary.LittleEndian.AppendUint32(b, m.StreamID)
	}
	if ext {
		b = binary.BigEndian.AppendUint32(b, field)
	}
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	p := m.Payload
	for {
		n := min(len(p), int(w.chunkSize))
		if _, err := w.w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
		if len(p) == 0 {
			return nil
		}
		// Continuation chunk: type 3, repeating the extended timestamp.
		b = w.basicHeader(3, csid)
		if ext {
			b = binary.BigEndian.AppendUint32(b, field)
		}
		if _, err := w.w.Write(b); err != nil {
			return err
		}
	}
}

// basicHeader encodes the basic header (§5.3.1.1) into w.hdr.
func (w *Writer) basicHeader(format uint8, csid uint32) []byte {
	b := w.hdr[:0]
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
