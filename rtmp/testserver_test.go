package rtmp

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
)

// testServer is a minimal live server built on the server Conn, for tests
// only (the real application layer is netstream's): it accepts connect,
// createStream, publish and play, keeps everything published, and plays a
// stream to subscribers from its start, live until it is unpublished.
type testServer struct {
	t  testing.TB
	ln *Listener

	mu      sync.Mutex
	streams map[string]*liveStream
	wg      sync.WaitGroup
	digest  []bool // handshake form of each connection, in accept order
	errs    []error
}

// liveStream is a published stream: every message so far, and a channel
// closed (and replaced) when a message arrives or the stream ends.
type liveStream struct {
	mu      sync.Mutex
	msgs    []media.Message
	done    bool
	changed chan struct{}
	// published is closed when the publisher has published.
	published chan struct{}
}

func newLiveStream() *liveStream {
	return &liveStream{changed: make(chan struct{}), published: make(chan struct{})}
}

func (s *liveStream) add(m media.Message) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *liveStream) end() {
	s.mu.Lock()
	if !s.done {
		s.done = true
		close(s.changed)
		s.changed = make(chan struct{})
	}
	s.mu.Unlock()
}

// from returns the messages from index i, whether the stream ended, and
// the channel to wait on for more.
func (s *liveStream) from(i int) ([]media.Message, bool, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgs[i:], s.done, s.changed
}

func startTestServer(t testing.TB, cfg *Config) *testServer {
	ln, err := Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, ln: ln, streams: map[string]*liveStream{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *testServer) url(path string) string { return "rtmp://" + s.ln.Addr().String() + "/" + path }

// stream returns (creating it) the stream named name.
func (s *testServer) stream(name string) *liveStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[name]
	if st == nil {
		st = newLiveStream()
		s.streams[name] = st
	}
	return st
}

func (s *testServer) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

// serve runs one connection.
func (s *testServer) serve(c *Conn) {
	defer c.Close()
	if err := c.Handshake(s.t.Context()); err != nil {
		s.fail(err)
		return
	}
	s.mu.Lock()
	s.digest = append(s.digest, c.Digest())
	s.mu.Unlock()
	var pub *liveStream
	var pubID uint32
	nextID := uint32(1)
	var players sync.WaitGroup
	stop := make(chan struct{})
	defer func() {
		if pub != nil {
			pub.end()
		}
		close(stop)
		c.Close()
		players.Wait()
	}()
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return
		}
		if cmd := m.Command; cmd != nil {
			switch cmd.Name {
			case "connect":
				err = c.AcceptConnect(cmd)
			case "createStream":
				err = c.WriteResult(0, cmd.TxnID, nil, float64(nextID))
				nextID++
			case "releaseStream", "FCPublish", "FCUnpublish":
				err = c.WriteResult(0, cmd.TxnID, nil, amf.Undefined{})
			case "publish":
				name, _ := cmd.ArgString(0)
				pub, pubID = s.stream(name), m.StreamID
				err = c.WriteUserControl(UserControl{Event: EventStreamBegin, StreamID: pubID})
				if err == nil {
					err = c.WriteStatus(pubID, LevelStatus, CodePublishStart, name+" is now published.")
				}
				close(pub.published)
			case "play":
				name, _ := cmd.ArgString(0)
				st := s.stream(name)
				players.Add(1)
				go func() {
					defer players.Done()
					if err := play(c, m.StreamID, name, st, stop); err != nil {
						s.fail(fmt.Errorf("playing %s: %w", name, err))
					}
				}()
			case "deleteStream", "closeStream":
				if pub != nil {
					pub.end()
					pub = nil
				}
			}
			if err != nil {
				s.fail(err)
				return
			}
			continue
		}
		if pub == nil || m.StreamID != pubID {
			continue
		}
		switch m.Type {
		case media.TypeAudio, media.TypeVideo:
			pub.add(m.Message)
		case media.TypeDataAMF0:
			// @setDataFrame(name, value) is stored as name(value), as
			// servers do.
			vs, err := DecodeData(m.Message)
			if err == nil && len(vs) >= 2 && vs[0] == "@setDataFrame" {
				name, _ := vs[1].(string)
				dm, err := DataMessage(m.Timestamp, name, vs[2:]...)
				if err == nil {
					pub.add(dm)
				}
				continue
			}
			pub.add(m.Message)
		}
	}
}

// play sends a stream to a player: the usual status sequence, then every
// message from the start, then the end-of-stream events.
func play(c *Conn, sid uint32, name string, st *liveStream, stop <-chan struct{}) error {
	if err := c.WriteUserControl(UserControl{Event: EventStreamBegin, StreamID: sid}); err != nil {
		return err
	}
	if err := c.WriteStatus(sid, LevelStatus, CodePlayReset, "Playing and resetting "+name+"."); err != nil {
		return err
	}
	if err := c.WriteStatus(sid, LevelStatus, CodePlayStart, "Started playing "+name+"."); err != nil {
		return err
	}
	access, _ := DataMessage(0, "|RtmpSampleAccess", true, true)
	if err := c.WriteMessage(sid, access); err != nil {
		return err
	}
	for i := 0; ; {
		msgs, done, changed := st.from(i)
		if len(msgs) > 0 {
			if err := c.WriteMessages(sid, msgs...); err != nil {
				return err
			}
			i += len(msgs)
			continue
		}
		if done {
			break
		}
		select {
		case <-changed:
		case <-stop:
			return errors.New("player left")
		}
	}
	if err := c.WriteUserControl(UserControl{Event: EventStreamEOF, StreamID: sid}); err != nil {
		return err
	}
	if err := c.WriteStatus(sid, LevelStatus, CodePlayStop, "Stopped playing "+name+"."); err != nil {
		return err
	}
	return c.WriteStatus(sid, LevelStatus, CodePlayUnpublishNotify, name+" is now unpublished.")
}
