package rtmp

import (
	"context"
	"fmt"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/rtmp/internal/chunk"
)

// The write path. Messages are framed into c.batch — chunk headers in the
// batch's own bytes, payloads by reference, never copied — and written with
// one vectored write (writev) per batch. A payload of a few chunks is cut
// by iovecs; a longer one, when the message carries the shared body of its
// chunk size (media.Encodings, made by Prepare once per fan-out), is written
// as that body behind the connection's own first header: one serialization
// for all the players of a stream (see maxCutChunks).
//
// A write first gives the socket what it takes without waiting; only the
// rest waits for the peer, under the write deadline. TryWriteMessages never
// waits: what the socket does not take at once is finished by a goroutine
// that holds the writer lock meanwhile.

// csidFor chooses the outgoing chunk stream of a message.
func csidFor(streamID uint32, typ uint8) uint32 {
	switch typ {
	case media.TypeSetChunkSize, media.TypeAbort, media.TypeAck, media.TypeUserControl,
		media.TypeWindowAckSize, media.TypeSetPeerBW:
		return csidControl
	case media.TypeAudio:
		return csidAudio
	case media.TypeVideo:
		return csidVideo
	case media.TypeAggregate:
		return csidAggregate
	}
	if streamID == 0 {
		return csidCommand
	}
	return csidStreamCommand
}

// ready runs the handshake if it has not run yet.
func (c *Conn) ready() error {
	if c.hsOK.Load() {
		return nil
	}
	return c.Handshake(context.Background())
}

// writeLocked frames one message into the batch; c.wmu is held. Nothing is
// written before flushLocked.
func (c *Conn) writeLocked(streamID uint32, m media.Message) error {
	if c.werr != nil {
		return c.werr
	}
	csid := csidFor(streamID, m.Type)
	var body []byte
	if cs := c.fr.ChunkSize(); shareBody(len(m.Payload), cs) && m.Encoded != nil {
		body = m.Encoded.Form(chunk.Key(cs, csid), m.Payload, chunk.Body)
	}
	err := c.fr.Append(&c.batch, csid, chunk.Message{
		Type: m.Type, Timestamp: m.Timestamp, StreamID: streamID, Payload: m.Payload,
	}, body)
	if err != nil {
		return err // nothing was framed
	}
	switch m.Type {
	case media.TypeSetChunkSize:
		if v, err := controlValue(m, "Set Chunk Size"); err == nil && c.fr.SetChunkSize(int(v)) == nil {
			c.outChunk.Store(int32(v))
		}
	case media.TypeWindowAckSize:
		if v, err := controlValue(m, "Window Acknowledgement Size"); err == nil {
			c.sentWindow.Store(v)
		}
	}
	return nil
}

// flushLocked writes the batch, waiting for the peer if it must. A write
// error is sticky and closes the connection, whose chunk stream is then out
// of sync.
func (c *Conn) flushLocked() error {
	if c.werr != nil {
		return c.werr
	}
	if c.batch.Len() == 0 {
		return nil
	}
	if c.raw == nil {
		bufs := c.batch.Bufs
		_, err := bufs.WriteTo(c.dc) // counted, under deadlines
		c.batch.Reset()
		if err != nil {
			return c.failWrite(err)
		}
		return nil
	}
	done, err := c.sendNow()
	if err != nil || done {
		return err
	}
	return c.finishLocked()
}

// sendNow writes what the socket takes of the batch without waiting and
// reports whether that was all of it; the rest stays in c.raw.bufs.
func (c *Conn) sendNow() (done bool, err error) {
	n, err := c.raw.send(c.batch.Bufs, false)
	c.rawSent.Add(uint64(n))
	if err != nil {
		c.batch.Reset()
		return false, c.failWrite(err)
	}
	if len(c.raw.bufs) > 0 {
		return false, nil
	}
	c.batch.Reset()
	return true, nil
}

// finishLocked writes the rest of the batch after sendNow, waiting for the
// peer under the write deadline. What it waits with is charged to the
// connection's account meanwhile: the peer makes the server hold it.
func (c *Conn) finishLocked() error {
	held := 0
	for _, b := range c.raw.bufs {
		held += len(b)
	}
	c.wacct.Add(held)
	c.dc.armWrite()
	n, err := c.raw.send(c.raw.bufs, true)
	c.rawSent.Add(uint64(n))
	c.wacct.Add(-held)
	c.raw.bufs = nil
	c.batch.Reset()
	if err != nil {
		return c.failWrite(err)
	}
	return nil
}

func (c *Conn) failWrite(err error) error {
	c.errMu.Lock()
	if c.firstErr == nil {
		c.firstErr = err
	}
	c.errMu.Unlock()
	c.werr = fmt.Errorf("rtmp: writing to %s: %w", c.nc.RemoteAddr(), err)
	c.Close()
	return c.werr
}

// WriteFailure returns the error of the first write that failed, as the
// network gave it (a timeout, a reset), or nil: the reader of a connection
// that a failed write closed sees only that it is closed.
func (c *Conn) WriteFailure() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.firstErr
}

// WriteMessage writes one message on message stream streamID and waits
// until it is written. Set Chunk Size messages written here also change the
// chunk size of the following messages.
func (c *Conn) WriteMessage(streamID uint32, m media.Message) error {
	return c.WriteMessages(streamID, m)
}

// WriteMessages writes messages on message stream streamID with one write,
// holding the writer lock for all of them, and waits until they are
// written: the payloads are not copied, and may be reused once it returns.
func (c *Conn) WriteMessages(streamID uint32, msgs ...media.Message) error {
	if err := c.ready(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for _, m := range msgs {
		if err := c.writeLocked(streamID, m); err != nil {
			if ferr := c.flushLocked(); ferr != nil {
				return ferr
			}
			return err
		}
	}
	return c.flushLocked()
}

// TryWriteMessages writes messages on message stream streamID without ever
// waiting. It returns false, having written nothing, when it cannot take
// them at once: the handshake is not done, the connection has no descriptor
// to write to without waiting, or another write holds the writer lock (one
// waiting for the peer to read, typically). Otherwise the messages are
// taken: what the socket accepts now is written, and a goroutine of the
// Conn writes the rest, holding the writer lock (so that later writes follow
// in order) until it is done or the write deadline passes. The payloads
// must not change afterwards (fan-out payloads never do).
func (c *Conn) TryWriteMessages(streamID uint32, msgs []media.Message) (bool, error) {
	if !c.hsOK.Load() || c.raw == nil || !c.wmu.TryLock() {
		return false, nil
	}
	if c.werr != nil {
		c.wmu.Unlock()
		return false, c.werr
	}
	var ferr error
	for _, m := range msgs {
		if ferr = c.writeLocked(streamID, m); ferr != nil {
			// Nothing of m was framed; what came before goes out, as
			// with WriteMessages, and the caller hears of the error.
			break
		}
	}
	done, err := c.sendNow()
	if err != nil || done {
		c.wmu.Unlock()
		if err == nil {
			err = ferr
		}
		return err == nil || ferr != nil, err
	}
	go func() {
		c.finishLocked()
		c.wmu.Unlock()
	}()
	return true, ferr
}

// maxCutChunks is the most chunks a message is cut into by iovecs, each
// connection framing it itself: its payload by reference, a header of a few
// bytes before each chunk, nothing copied. A message of more chunks (a key
// frame, or a small chunk size) is written as the body of its chunk size,
// made once for the fan-out: one copy of the payload instead of hundreds of
// iovecs per connection.
const maxCutChunks = 16

// shareBody tells whether a payload of n bytes is written as a shared body
// with chunk size cs.
func shareBody(n, cs int) bool { return n > maxCutChunks*cs }

// PrepareAbove returns the length up to which Prepare does nothing at the
// current chunk size. A fan-out that skips Prepare for those saves a call
// per message and connection; one that skips it for a longer message (the
// chunk size shrank since) only makes the Conn cut that message by iovecs.
func (c *Conn) PrepareAbove() int { return maxCutChunks * int(c.outChunk.Load()) }

// Prepare readies m, a message about to be written on message stream
// streamID by this connection and others of a fan-out: when its payload
// spans more than maxCutChunks chunks, the body of its chunks at this
// connection's chunk size is made once and attached to m (m.Encoded) for
// every connection using that size, so that writing m costs each only its
// own first header.
// It returns the bytes that body holds. Call it from the goroutine that
// owns m, before m is shared.
func (c *Conn) Prepare(streamID uint32, m *media.Message) int {
	cs := int(c.outChunk.Load())
	if !shareBody(len(m.Payload), cs) {
		return 0
	}
	if !m.Encoded.For(m.Payload) {
		m.Encoded = media.NewEncodings(m.Payload)
	}
	return len(m.Encoded.Form(chunk.Key(cs, csidFor(streamID, m.Type)), m.Payload, chunk.Body))
}
