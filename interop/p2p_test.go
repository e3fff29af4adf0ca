package interop

import (
	"bytes"
	"crypto/sha256"
	"net/netip"
	"testing"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// chunksOf returns the parsed chunks of type typ sent from one role to
// another, with the index of their datagram.
func chunksOf[T any](t *testing.T, tr *trace, from, to string, typ byte, parse func([]byte) (T, error)) ([]T, []int) {
	t.Helper()
	var out []T
	var at []int
	for i := range tr.ds {
		d := &tr.ds[i]
		if d.RoleSrc != from || d.RoleDst != to {
			continue
		}
		for _, c := range d.Chunks {
			if c.Type != typ {
				continue
			}
			v, err := parse(c.Value)
			if err != nil {
				t.Fatalf("#%d: chunk %#x: %v", i, typ, err)
			}
			out, at = append(out, v), append(at, i)
		}
	}
	return out, at
}

// TestP2PIntroduction: the playing TestClient asked rtmfpd for the
// publishing one by peer ID (IHello with a fingerprint EPD, RFC 7425 §4.4).
// rtmfpd answered with a Redirect to the publisher's address as it observes
// it, and sent the publisher a Forwarded IHello with the player's observed
// address, in the publisher's session and with the IHello's tag (RFC 7016
// §3.5.1.4, §3.5.1.5). The publisher answered the player directly, from the
// address in the Redirect, with a certificate that hashes to the peer ID
// asked for; the direct session that followed ran between those two
// addresses.
func TestP2PIntroduction(t *testing.T) {
	tr := loadRecording(t, p2pScenario, 3)
	pubS := tr.sessionNamed(t, rolePeerPublisher+"->"+roleServer)
	playS := tr.sessionNamed(t, rolePeerPlayer+"->"+roleServer)
	direct := tr.sessionNamed(t, rolePeerPlayer+"->"+rolePeerPublisher)
	pubAddr := netip.MustParseAddrPort(pubS.Initiator.Addr)
	playAddr := netip.MustParseAddrPort(playS.Initiator.Addr)

	ihellos, at := chunksOf(t, tr, rolePeerPlayer, roleServer, wire.TypeIHello, wire.ParseIHello)
	var ih wire.IHello
	asked := -1
	for k, c := range ihellos {
		epd, err := flash.ParseEPD(c.EPD)
		if err != nil {
			t.Fatalf("#%d: %v", at[k], err)
		}
		if epd.HasPeerID {
			if !bytes.Equal(epd.PeerID[:], pubS.InitiatorPeerID) {
				t.Fatalf("#%d: player asked for %s, the publisher is %x", at[k], epd.PeerID, pubS.InitiatorPeerID)
			}
			ih, asked = c, at[k]
			break
		}
	}
	if asked < 0 {
		t.Fatal("the player never asked rtmfpd for a peer")
	}

	redirects, rat := chunksOf(t, tr, roleServer, rolePeerPlayer, wire.TypeRedirect, wire.ParseRedirect)
	if len(redirects) != 1 || rat[0] <= asked || tr.ds[rat[0]].SessionID != 0 {
		t.Fatalf("%d Redirects to the player (at %v), want one startup packet after the IHello #%d", len(redirects), rat, asked)
	}
	rd := redirects[0]
	if !bytes.Equal(rd.Tag, ih.Tag) {
		t.Errorf("Redirect tag %x, IHello tag %x", rd.Tag, ih.Tag)
	}
	// The publisher announced no addresses of its own (setPeerInfo is
	// empty on a host with only a loopback interface): the Redirect holds
	// its observed address alone.
	if len(rd.Addresses) != 1 || rd.Addresses[0].AddrPort != pubAddr || rd.Addresses[0].Origin != wire.OriginObserved {
		t.Fatalf("Redirect addresses %v, want the publisher's observed %v", rd.Addresses, pubAddr)
	}

	fihellos, fat := chunksOf(t, tr, roleServer, rolePeerPublisher, wire.TypeFIHello, wire.ParseFIHello)
	if len(fihellos) != 1 || fat[0] <= asked {
		t.Fatalf("%d Forwarded IHellos to the publisher (at %v)", len(fihellos), fat)
	}
	fi := fihellos[0]
	if d := tr.ds[fat[0]]; d.SessionID != pubS.Initiator.SessionID || d.Dst != pubS.Initiator.Addr {
		t.Fatalf("Forwarded IHello sent to %s in session ID %#x, not in the publisher's session", d.Dst, d.SessionID)
	}
	if !bytes.Equal(fi.EPD, ih.EPD) || !bytes.Equal(fi.Tag, ih.Tag) {
		t.Error("Forwarded IHello does not carry the IHello's EPD and tag")
	}
	if fi.ReplyAddress.AddrPort != playAddr || fi.ReplyAddress.Origin != wire.OriginObserved {
		t.Errorf("Forwarded IHello reply address %v, want the player's observed %v", fi.ReplyAddress, playAddr)
	}

	// The publisher answered the player directly with the tag; the
	// direct session joined the two observed addresses.
	rhellos, hat := chunksOf(t, tr, rolePeerPublisher, rolePeerPlayer, wire.TypeRHello, wire.ParseRHello)
	if len(rhellos) == 0 || hat[0] <= fat[0] || !bytes.Equal(rhellos[0].Tag, ih.Tag) {
		t.Fatalf("publisher's RHellos %v: none after the Forwarded IHello with the tag", hat)
	}
	if d := tr.ds[hat[0]]; d.Src != pubAddr.String() || d.Dst != playAddr.String() {
		t.Errorf("publisher's RHello went %s → %s", d.Src, d.Dst)
	}
	if id := sha256.Sum256(rhellos[0].Certificate); !bytes.Equal(id[:], pubS.InitiatorPeerID) {
		t.Error("the peer that answered is not the one asked for")
	}
	if direct.Initiator.Addr != playAddr.String() || direct.Responder.Addr != pubAddr.String() {
		t.Errorf("direct session %s → %s", direct.Initiator.Addr, direct.Responder.Addr)
	}
	t.Logf("IHello #%d, Redirect #%d, Forwarded IHello #%d, publisher's RHello #%d, direct IIKeying #%d",
		asked, rat[0], fat[0], hat[0], direct.IIKeyingDatagramIndex)
}

// TestP2PMedia: the stream went over the direct session, not through
// rtmfpd. The player sent play("test") to the publisher, which answered
// Stream Begin, Play.Reset and Play.Start and sent the whole of
// test_6s.flv, tag for tag (90 video and 131 audio frames with the
// sequence headers and the AVC end of sequence). The server sessions carried
// only NetConnection commands.
func TestP2PMedia(t *testing.T) {
	ms, other := tcMessages(t, p2pScenario)
	if len(other) > 0 {
		t.Fatalf("%d messages on flows that are not TC", len(other))
	}
	for _, m := range ms {
		if (m.FromRole == roleServer || m.ToRole == roleServer) && (m.Msg.Type == media.TypeAudio || m.Msg.Type == media.TypeVideo) {
			t.Fatalf("%v: media through rtmfpd", m)
		}
	}
	up, down := between(ms, rolePeerPlayer, rolePeerPublisher), between(ms, rolePeerPublisher, rolePeerPlayer)
	if len(up) == 0 {
		t.Fatal("nothing from the player to the publisher")
	}
	play := wantCommand(t, up[0], up[0].Stream, "play")
	if name, _ := play.ArgString(0); name != "test" {
		t.Fatalf("player asked for %q", name)
	}
	var status []tcMessage
	for _, m := range control(down) {
		if m.Cmd != nil || m.Msg.Type == media.TypeUserControl {
			status = append(status, m)
		}
	}
	if len(status) < 3 {
		t.Fatalf("publisher's answers %v", status)
	}
	// librtmfp numbers its P2P NetStreams from 2000001 and writes the
	// info object in the command object's place (no null before it).
	id := up[0].Stream
	wantUserControl(t, status[0], id, eventStreamBegin, id)
	for k, code := range []string{netstream.PlayReset, netstream.PlayStart} {
		m := status[k+1]
		c := wantCommand(t, m, id, "onStatus")
		info, _ := amf.AsObject(c.Object)
		if got, _ := info.Get("code"); got != code || len(c.Args) != 0 {
			t.Fatalf("%v: %v %v, want %s", m, c.Object, c.Args, code)
		}
	}

	src := sourceMedia(t)
	for _, typ := range []uint8{media.TypeAudio, media.TypeVideo} {
		want, got := mediaOfMessages(src, typ), mediaOf(down, typ)
		if len(got) != len(want) {
			t.Fatalf("type %d: %d messages over the direct session, test_6s.flv has %d", typ, len(got), len(want))
		}
		for i := range want {
			if !sameMessage(got[i], want[i]) {
				t.Fatalf("type %d: message %d differs from the file's", typ, i)
			}
		}
		t.Logf("type %d: %d messages, as in the file", typ, len(got))
	}
}

// mediaOfMessages returns the messages of one type.
func mediaOfMessages(ms []media.Message, typ uint8) []media.Message {
	var out []media.Message
	for _, m := range ms {
		if m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}
