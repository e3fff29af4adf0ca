package interop

import (
	"bytes"
	"testing"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// Stream events of RTMP user control messages (RFC 7425 §5.3.4 carries
// them in TC messages of type 4).
const (
	eventStreamBegin  = 0
	eventSetKeepalive = 0x29
)

// mediaOf returns the audio or video messages of a list.
func mediaOf(ms []tcMessage, typ uint8) []media.Message {
	var out []media.Message
	for _, m := range ms {
		if m.Msg.Type == typ {
			out = append(out, m.Msg)
		}
	}
	return out
}

func sameMessage(a, b media.Message) bool {
	return a.Type == b.Type && a.Timestamp == b.Timestamp && bytes.Equal(a.Payload, b.Payload)
}

// isSequenceHeader reports an AVC or AAC sequence header (the codec
// configuration a player needs first).
func isSequenceHeader(m media.Message) bool {
	p := m.Payload
	switch m.Type {
	case media.TypeVideo:
		return len(p) >= 2 && p[0] == 0x17 && p[1] == 0
	case media.TypeAudio:
		return len(p) >= 2 && p[0]>>4 == 10 && p[1] == 0
	}
	return false
}

// TestTracePublish: rtmfpd answered librtmfp's publish with Stream Begin
// and NetStream.Publish.Start; TestClient only then started sending media,
// and sent the whole file (6 s, 90 video and 131 audio frames, plus the
// sequence headers, the AVC end of sequence and @setDataFrame), then
// closeStream.
func TestTracePublish(t *testing.T) {
	ms := loadMessages(t)
	up, down := between(ms, rolePublisher, roleServer), between(ms, roleServer, rolePublisher)
	var status []tcMessage
	for _, m := range control(down) {
		if m.Stream == 1 {
			status = append(status, m)
		}
	}
	if len(status) < 2 {
		t.Fatalf("%d messages on stream 1 to the publisher", len(status))
	}
	wantUserControl(t, status[0], 1, eventStreamBegin, 1)
	wantStatus(t, status[1], 1, "onStatus", netstream.PublishStart)
	start := status[1].DatagramIndex
	// Unpublish.Success never went out: librtmfp closed the session right
	// after closeStream (rtmfpd logged "send failed").
	if len(status) != 2 {
		t.Errorf("more status messages to the publisher: %v", status[2:])
	}

	audio, video := mediaOf(up, media.TypeAudio), mediaOf(up, media.TypeVideo)
	if len(audio) != 132 || len(video) != 92 {
		t.Errorf("publisher sent %d audio and %d video messages, want 132 and 92", len(audio), len(video))
	}
	if !isSequenceHeader(audio[0]) || !isSequenceHeader(video[0]) {
		t.Error("publisher's first audio or video message is no sequence header")
	}
	var meta, closing *tcMessage
	for i := range up {
		m := &up[i]
		if m.Msg.Type == media.TypeAudio || m.Msg.Type == media.TypeVideo || isMetadata(*m) {
			if m.Stream != 1 || m.DatagramIndex <= start {
				t.Fatalf("%v before Publish.Start (#%d) or off stream 1", m, start)
			}
		}
		if isMetadata(*m) && meta == nil {
			meta = m
		}
		if m.Cmd != nil && m.Cmd.Name == "closeStream" {
			closing = m
		}
	}
	if meta == nil || meta.Data[0] != "@setDataFrame" || meta.Data[1] != "onMetaData" {
		t.Fatalf("publisher metadata %v", meta)
	}
	if closing == nil || closing.Stream != 1 || closing != &up[len(up)-1] {
		t.Fatal("publisher did not end with closeStream on stream 1")
	}
}

// TestTracePlay: the second TestClient joined about a second into the
// publication. rtmfpd answered play with Stream Begin, Play.Reset,
// Play.Start and |RtmpSampleAccess, sent the metadata without
// @setDataFrame and the sequence headers, then the publisher's media from
// the join on, unchanged and without a gap, up to the publisher's last
// frame, and Play.UnpublishNotify after the publisher's closeStream.
func TestTracePlay(t *testing.T) {
	ms := loadMessages(t)
	pubUp := between(ms, rolePublisher, roleServer)
	down := between(ms, roleServer, rolePlayer)
	var status []tcMessage
	for _, m := range control(down) {
		if m.Stream == 1 {
			status = append(status, m)
		}
	}
	if len(status) != 5 {
		t.Fatalf("player got %d control messages on stream 1, want 5: %v", len(status), status)
	}
	wantUserControl(t, status[0], 1, eventStreamBegin, 1)
	wantStatus(t, status[1], 1, "onStatus", netstream.PlayReset)
	wantStatus(t, status[2], 1, "onStatus", netstream.PlayStart)
	if d := status[3].Data; len(d) != 3 || d[0] != "|RtmpSampleAccess" || d[1] != true || d[2] != true {
		t.Fatalf("got %v, want |RtmpSampleAccess(true, true)", status[3])
	}
	wantStatus(t, status[4], 1, "onStatus", netstream.PlayUnpublishNotify)
	var closeStream int
	for _, m := range pubUp {
		if m.Cmd != nil && m.Cmd.Name == "closeStream" {
			closeStream = m.DatagramIndex
		}
	}
	if status[4].DatagramIndex <= closeStream {
		t.Fatalf("UnpublishNotify in #%d, the publisher's closeStream in #%d", status[4].DatagramIndex, closeStream)
	}

	// Metadata: the publisher's onMetaData, with @setDataFrame removed.
	var pubMeta, playMeta []byte
	for _, m := range pubUp {
		if isMetadata(m) {
			pubMeta = m.Msg.Payload
		}
	}
	for _, m := range down {
		if isMetadata(m) {
			if m.Data[0] != "onMetaData" || playMeta != nil {
				t.Fatalf("player metadata %v", m)
			}
			playMeta = m.Msg.Payload
		}
	}
	setDataFrame := []byte("\x02\x00\x0d@setDataFrame")
	if !bytes.HasPrefix(pubMeta, setDataFrame) || !bytes.Equal(pubMeta[len(setDataFrame):], playMeta) {
		t.Fatal("player's onMetaData is not the publisher's without @setDataFrame")
	}

	for _, typ := range []uint8{media.TypeAudio, media.TypeVideo} {
		pub, play := mediaOf(pubUp, typ), mediaOf(down, typ)
		if len(play) < 2 || !sameMessage(play[0], pub[0]) || !isSequenceHeader(play[0]) {
			t.Fatalf("type %d: player's first message is not the publisher's sequence header", typ)
		}
		k := 1
		for k < len(pub) && !sameMessage(pub[k], play[1]) {
			k++
		}
		tail := pub[k:]
		if len(tail) != len(play)-1 {
			t.Fatalf("type %d: player got %d messages after the sequence header, the publisher sent %d from the join on",
				typ, len(play)-1, len(tail))
		}
		for i := range tail {
			if !sameMessage(tail[i], play[i+1]) {
				t.Fatalf("type %d: player message %d differs from the publisher's", typ, i+1)
			}
		}
		if typ == media.TypeVideo && play[1].Payload[0]>>4 != 1 {
			t.Errorf("player's first video frame is not a keyframe (%#x)", play[1].Payload[0])
		}
		t.Logf("type %d: joined at %d ms, %d of %d messages", typ, play[1].Timestamp, len(play), len(pub))
	}
}

// TestTraceTeardown: each TestClient ended its session with a bare
// Session Close Acknowledgement (0x4C, librtmfp's abrupt close) and no
// Close Request; rtmfpd sent nothing more to it (RFC 7016 §3.5.5.2).
func TestTraceTeardown(t *testing.T) {
	tr := loadTrace(t)
	for _, role := range []string{rolePublisher, rolePlayer} {
		closeAt, last := -1, -1
		for i := range tr.ds {
			d := &tr.ds[i]
			if d.RoleSrc == role {
				for _, c := range d.Chunks {
					if c.Type == wire.TypeCloseRequest {
						t.Errorf("%s sent a Close Request in #%d", role, i)
					}
					if c.Type == wire.TypeCloseAck && closeAt < 0 {
						closeAt = i
					}
				}
				last = i
			}
		}
		if closeAt < 0 || closeAt != last {
			t.Fatalf("%s: close acknowledgement in #%d, last datagram #%d", role, closeAt, last)
		}
		for i := closeAt + 1; i < len(tr.ds); i++ {
			if tr.ds[i].RoleDst == role {
				t.Errorf("%s: rtmfpd still sent #%d after the client's abrupt close #%d", role, i, closeAt)
			}
		}
	}
}
