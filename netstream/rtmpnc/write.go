package rtmpnc

import (
	"context"
	"errors"
	"fmt"

	"github.com/rtmfpd/rtmfpd/media"
)

// outItem is a message waiting for the writer. The last media item of a
// batch carries done, which receives the result of the write.
type outItem struct {
	sid   uint32
	m     media.Message
	media bool
	done  chan error
}

// errClosed is returned for writes on a closed connection.
var errClosed = errors.New("rtmpnc: connection closed")

// enqueue adds a message to the output queue and makes sure a goroutine
// writes it. Control messages (done == nil) never wait; past the queue's
// bound the peer, which is not reading, is disconnected.
func (t *transport) enqueue(it outItem) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return errClosed
	}
	if !it.media {
		if t.ctl >= t.srv.cfg.ControlQueue {
			t.mu.Unlock()
			err := peerFault("%d control messages queued: the peer does not read", t.ctl)
			t.abort(err)
			return err
		}
		t.ctl++
	}
	t.q = append(t.q, it)
	if !t.busy {
		t.busy = true
		go t.flush()
	}
	t.mu.Unlock()
	return nil
}

// writeMedia writes media messages of stream sid and waits for the write.
// When nothing is queued it writes on the calling goroutine (the stream's
// subscription), which saves a hand-off per message and per player; the
// messages go out with one flush.
func (t *transport) writeMedia(ctx context.Context, sid uint32, msgs ...media.Message) error {
	t.mu.Lock()
	if t.closed || t.closing {
		t.mu.Unlock()
		return errClosed
	}
	if !t.busy && len(t.q) == 0 {
		t.busy = true
		t.mu.Unlock()
		err := t.rc.WriteMessages(sid, msgs...)
		t.idle()
		if err != nil {
			t.failed(err)
		}
		return err
	}
	done := make(chan error, 1)
	for i, m := range msgs {
		it := outItem{sid: sid, m: m, media: true}
		if i == len(msgs)-1 {
			it.done = done
		}
		t.q = append(t.q, it)
	}
	t.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tryWriteMedia writes media messages of stream sid if it can without
// waiting: nothing queued or being written, and the rtmp Conn takes them at
// once (see rtmp.Conn.TryWriteMessages). It runs on the publisher's
// goroutine, for each player; false means the messages go through the
// subscription's goroutine.
func (t *transport) tryWriteMedia(sid uint32, msgs []media.Message) (bool, error) {
	t.mu.Lock()
	if t.closed || t.closing {
		t.mu.Unlock()
		return false, errClosed
	}
	if t.busy || len(t.q) > 0 {
		t.mu.Unlock()
		return false, nil
	}
	// TryWriteMessages never waits, so it runs under t.mu: nothing can
	// be queued meanwhile, and the queue stays as it was (empty, idle).
	ok, err := t.rc.TryWriteMessages(sid, msgs)
	t.mu.Unlock()
	if err != nil {
		t.failed(err)
	}
	return ok, err
}

// idle is called by a writer when it is done: it hands the queue to a new
// flusher, or closes the connection when Close is waiting for the queue.
func (t *transport) idle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case len(t.q) > 0 && !t.closed:
		go t.flush()
	case t.closing && !t.closed:
		t.busy = false
		t.closed = true
		go t.rc.Close()
	default:
		t.busy = false
	}
}

// flush writes the queue until it is empty, grouping consecutive messages
// of one stream into one flush.
func (t *transport) flush() {
	for {
		t.mu.Lock()
		q := t.q
		t.q, t.ctl = nil, 0
		if len(q) == 0 || t.closed {
			t.mu.Unlock()
			for _, it := range q {
				if it.done != nil {
					it.done <- errClosed
				}
			}
			t.idle()
			return
		}
		t.mu.Unlock()
		var err error
		for i := 0; i < len(q); {
			j := i + 1
			for j < len(q) && q[j].sid == q[i].sid {
				j++
			}
			if err == nil {
				msgs := make([]media.Message, j-i)
				for k := range msgs {
					msgs[k] = q[i+k].m
				}
				err = t.rc.WriteMessages(q[i].sid, msgs...)
			}
			for _, it := range q[i:j] {
				if it.done != nil {
					it.done <- err
				}
			}
			i = j
		}
		if err != nil {
			t.failed(err)
		}
	}
}

// failed ends the connection after a write error (the rtmp Conn has closed
// itself; a stalled reader shows as a deadline error).
func (t *transport) failed(err error) {
	t.mu.Lock()
	if t.reason == nil {
		t.reason = fmt.Errorf("writing: %w", err)
	}
	t.mu.Unlock()
	t.rc.Close()
}
