package chunk

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/rtmfpd/rtmfpd/budget"
)

// extendedMark is the 3-byte timestamp field value that announces an
// extended timestamp (§5.3.1.3).
const extendedMark = 0xFFFFFF

// Message types the chunk layer acts on.
const (
	typeSetChunkSize = 1
	typeAbort        = 2
)

// inStream is the receive state of one chunk stream: the fields of the last
// message header, which compressed headers (fmt 1–3) inherit, and the
// message being reassembled.
type inStream struct {
	timestamp uint32 // absolute timestamp of the current or last message
	delta     uint32 // last timestamp field: absolute after fmt 0, delta after fmt 1/2
	length    uint32
	typ       uint8
	streamID  uint32
	ext       bool // the last fmt 0–2 header had an extended timestamp
	partial   bool // a message is incomplete
	buf       []byte
}

// Reader reassembles messages from a chunk stream. It is not safe for
// concurrent use.
type Reader struct {
	r         *bufio.Reader
	lim       Limits
	chunkSize uint32
	streams   map[uint32]*inStream
	partial   int // incomplete messages
	held      int // capacity of their buffers
	hdr       [11]byte
	ext       [4]byte
	err       error // sticky: the stream is out of sync
	clean     bool  // the last error came before any byte of a chunk
	acct      *budget.Account
}

// NewReader returns a Reader reading chunks from r with the default chunk
// size of 128 bytes. It reads through r directly if r is a *bufio.Reader.
func NewReader(r io.Reader, lim Limits) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &Reader{
		r:         br,
		lim:       lim.withDefaults(),
		chunkSize: DefaultChunkSize,
		streams:   make(map[uint32]*inStream),
	}
}

// ChunkSize returns the peer's current chunk size.
func (r *Reader) ChunkSize() int { return int(r.chunkSize) }

// Held returns the payload memory held by incomplete messages.
func (r *Reader) Held() int { return r.held }

// SetAccount charges the memory held by incomplete messages to a (a peer's
// share of a server-wide budget): reading fails with ErrReassemblyLimit
// when the account goes over its own limit.
func (r *Reader) SetAccount(a *budget.Account) {
	r.acct.Add(-r.held)
	r.acct = a
	a.Add(r.held)
}

// hold changes the memory held by incomplete messages by n bytes.
func (r *Reader) hold(n int) error {
	r.held += n
	if err := r.acct.Add(n); err != nil && n > 0 {
		return fmt.Errorf("%w: %w", ErrReassemblyLimit, err)
	}
	return nil
}

// SetChunkSize sets the peer's chunk size, as a Set Chunk Size message
// does. The Reader calls it itself when it reads one.
func (r *Reader) SetChunkSize(n int) error {
	if n < 1 || n > r.lim.MaxChunkSize {
		return fmt.Errorf("%w: %d (accepted: 1..%d)", ErrChunkSize, n, r.lim.MaxChunkSize)
	}
	r.chunkSize = uint32(n)
	return nil
}

// Abort discards the incomplete message of chunk stream csid, as an Abort
// message does. The Reader calls it itself when it reads one.
func (r *Reader) Abort(csid uint32) {
	if st := r.streams[csid]; st != nil && st.partial {
		r.drop(st)
	}
}

func (r *Reader) drop(st *inStream) {
	r.hold(-cap(st.buf))
	r.partial--
	st.buf = nil
	st.partial = false
}

// ReadMessage reads chunks until a message is complete and returns it. The
// payload is newly allocated and belongs to the caller. At the end of the
// input it returns io.EOF if the input ended between messages and
// io.ErrUnexpectedEOF if it ended inside a chunk or an incomplete message.
// An error of the underlying reader (such as a timeout) before the first
// byte of a chunk leaves the Reader usable; any other error is returned
// again by every later call, since the stream is then out of sync.
func (r *Reader) ReadMessage() (Message, error) {
	if r.err != nil {
		return Message{}, r.err
	}
	for {
		m, done, err := r.readChunk()
		if err != nil {
			if !r.clean {
				r.err = err
			}
			return Message{}, err
		}
		if !done {
			continue
		}
		if err := r.control(m); err != nil {
			return Message{}, err
		}
		return m, nil
	}
}

// control applies Set Chunk Size and Abort.
func (r *Reader) control(m Message) error {
	switch m.Type {
	case typeSetChunkSize:
		if len(m.Payload) < 4 {
			return fmt.Errorf("%w: Set Chunk Size of %d bytes", ErrProtocol, len(m.Payload))
		}
		v := binary.BigEndian.Uint32(m.Payload)
		if v > MaxChunkSize {
			return fmt.Errorf("%w: %#x has the reserved top bit set", ErrChunkSize, v)
		}
		return r.SetChunkSize(int(v))
	case typeAbort:
		if len(m.Payload) < 4 {
			return fmt.Errorf("%w: Abort of %d bytes", ErrProtocol, len(m.Payload))
		}
		r.Abort(binary.BigEndian.Uint32(m.Payload))
	}
	return nil
}

// headerSize is the message header size of each fmt.
var headerSize = [4]int{11, 7, 3, 0}

// readChunk reads one chunk. done reports that it completed a message.
func (r *Reader) readChunk() (m Message, done bool, err error) {
	b0, err := r.r.ReadByte()
	if err != nil {
		if err == io.EOF && r.partial > 0 {
			return m, false, io.ErrUnexpectedEOF
		}
		r.clean = err != io.EOF
		return m, false, err // io.EOF between messages
	}
	r.clean = false
	format := b0 >> 6
	csid := uint32(b0 & 0x3f)
	switch csid {
	case 0:
		b, err := r.r.ReadByte()
		if err != nil {
			return m, false, unexpected(err)
		}
		csid = 64 + uint32(b)
	case 1:
		if _, err := io.ReadFull(r.r, r.hdr[:2]); err != nil {
			return m, false, unexpected(err)
		}
		csid = 64 + uint32(r.hdr[0]) + uint32(r.hdr[1])<<8
	}
	st := r.streams[csid]
	if st == nil {
		if format >= 2 {
			return m, false, fmt.Errorf("%w: chunk stream %d starts with a type %d header", ErrProtocol, csid, format)
		}
		if len(r.streams) >= r.lim.MaxChunkStreams {
			return m, false, fmt.Errorf("%w: chunk stream %d would be number %d (limit %d)",
				ErrTooManyChunkStreams, csid, len(r.streams)+1, r.lim.MaxChunkStreams)
		}
		st = &inStream{}
		r.streams[csid] = st
	}
	if format != 3 && st.partial {
		return m, false, fmt.Errorf("%w: type %d header on chunk stream %d while its message has %d of %d bytes",
			ErrProtocol, format, csid, len(st.buf), st.length)
	}
	h := r.hdr[:headerSize[format]]
	if _, err := io.ReadFull(r.r, h); err != nil {
		return m, false, unexpected(err)
	}
	var field uint32
	if format < 3 {
		field = uint24(h)
		st.ext = field == extendedMark
	}
	if st.ext {
		if _, err := io.ReadFull(r.r, r.ext[:]); err != nil {
			return m, false, unexpected(err)
		}
		field = binary.BigEndian.Uint32(r.ext[:])
	}
	if !st.partial {
		if format <= 1 {
			length := uint24(h[3:])
			if int(length) > r.lim.MaxMessageSize {
				return m, false, fmt.Errorf("%w: %d bytes on chunk stream %d (limit %d)",
					ErrMessageTooLarge, length, csid, r.lim.MaxMessageSize)
			}
			st.length, st.typ = length, h[6]
		}
		switch format {
		case 0:
			st.streamID = binary.LittleEndian.Uint32(h[7:])
			st.timestamp, st.delta = field, field
		case 1, 2:
			st.delta = field
			st.timestamp += field
		case 3:
			if st.ext {
				st.delta = field
			}
			st.timestamp += st.delta
		}
		if st.length > 0 {
			if r.partial >= r.lim.MaxPartialMessages {
				return m, false, fmt.Errorf("%w: limit %d", ErrTooManyPartial, r.lim.MaxPartialMessages)
			}
			r.partial++
			st.partial = true
		}
	}
	if st.partial {
		if err := r.readPayload(csid, st); err != nil {
			return m, false, err
		}
		if len(st.buf) < int(st.length) {
			return m, false, nil
		}
	}
	m = Message{CSID: csid, Type: st.typ, Timestamp: st.timestamp, StreamID: st.streamID, Payload: st.buf}
	if st.partial {
		r.hold(-cap(st.buf))
		r.partial--
		st.partial = false
		st.buf = nil
	}
	return m, true, nil
}

// readPayload reads one chunk's payload into the message of st, growing
// its buffer with the bytes that actually arrive.
func (r *Reader) readPayload(csid uint32, st *inStream) error {
	k := min(int(r.chunkSize), int(st.length)-len(st.buf))
	for k > 0 {
		step := min(k, readStep)
		n := len(st.buf)
		if n+step > cap(st.buf) {
			want := min(int(st.length), max(n+step, 2*cap(st.buf), min(int(st.length), readStep)))
			if r.held-cap(st.buf)+want > r.lim.MaxReassemblyBytes {
				return fmt.Errorf("%w: %d bytes held, chunk stream %d needs %d (limit %d)",
					ErrReassemblyLimit, r.held, csid, want, r.lim.MaxReassemblyBytes)
			}
			nb := make([]byte, n, want)
			copy(nb, st.buf)
			grow := want - cap(st.buf)
			st.buf = nb
			if err := r.hold(grow); err != nil {
				return err
			}
		}
		if _, err := io.ReadFull(r.r, st.buf[n:n+step]); err != nil {
			return unexpected(err)
		}
		st.buf = st.buf[:n+step]
		k -= step
	}
	return nil
}

func uint24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

// unexpected turns an end of input inside a chunk into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
