package rtmfp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"math/big"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// fakeClient speaks to an endpoint over a real loopback socket with
// recorded bytes.
type fakeClient struct {
	t    *testing.T
	conn *net.UDPConn
	to   netip.AddrPort
}

func newFakeClient(t *testing.T, to netip.AddrPort) *fakeClient {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fakeClient{t: t, conn: c, to: to}
}

// sendStartup seals body with the startup key under session ID ssid.
func (c *fakeClient) send(codec *flash.Codec, ssid uint32, body []byte) {
	pkt := codec.Seal(make([]byte, 4), body)
	scramble(pkt, ssid)
	if _, err := c.conn.WriteToUDPAddrPort(pkt, c.to); err != nil {
		c.t.Fatal(err)
	}
}

// recv returns the body of the next datagram opened with codec.
func (c *fakeClient) recv(codec *flash.Codec) (uint32, []byte) {
	buf := make([]byte, 4096)
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := c.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		c.t.Fatal(err)
	}
	ssid := unscramble(buf[:n])
	body, err := codec.Open(buf[4:n])
	if err != nil {
		c.t.Fatalf("reply does not open: %v", err)
	}
	return ssid, body
}

// chunksOf returns the chunks of a packet body.
func chunksOf(t *testing.T, body []byte) map[byte][]byte {
	_, n, err := wire.ParseHeader(body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[byte][]byte{}
	r := wire.NewChunkReader(body[n:])
	for r.Next() {
		out[r.Type()] = append([]byte(nil), r.Value()...)
	}
	return out
}

func startupBody(chunk []byte) []byte {
	h := wire.Header{Flags: wire.ModeStartup | wire.HeaderTimestamp, Timestamp: 1}
	return append(h.Append(nil), chunk...)
}

func hmac256(key []byte, msg ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, b := range msg {
		m.Write(b)
	}
	return m.Sum(nil)
}

// TestRespondToRecordedClients feeds the handshake of real clients
// (librtmfp in a_unicast, rtmfp-cpp in d_rtmfpcpp) to our responder. The
// recorded IHello is sent as is; the recorded IIKeying is sent with our
// cookie in place of the recorded one (everything else as the client sent
// it). The answers must have the form those clients accept, and the session
// keys the client derives from our RIKeying with its recorded DH key must
// work: a ping sealed with them is answered.
func TestRespondToRecordedClients(t *testing.T) {
	for _, sc := range []string{"a_unicast", "d_rtmfpcpp"} {
		t.Run(sc, func(t *testing.T) {
			ds, err := tracefile.LoadDatagrams(sc)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := tracefile.LoadKeys(sc)
			if err != nil {
				t.Fatal(err)
			}
			rec := keys.Sessions[0]
			srv := udpEndpoint(t, Config{})
			c := newFakeClient(t, addrOf(srv))
			startup, _ := flash.NewCodec([]byte(flash.DefaultKey), flash.Integrity{})

			// IHello, as recorded.
			var ihello, iikeying []byte
			for _, d := range ds[:rec.IIKeyingDatagramIndex+1] {
				for _, ch := range d.Chunks {
					if ch.Type == wire.TypeIHello && d.RoleSrc == rec.Initiator.Role && ihello == nil {
						ihello = wire.AppendChunk(nil, ch.Type, ch.Value)
					}
				}
			}
			for _, ch := range ds[rec.IIKeyingDatagramIndex].Chunks {
				if ch.Type == wire.TypeIIKeying {
					iikeying = ch.Value
				}
			}
			c.send(startup, 0, startupBody(ihello))
			_, body := c.recv(startup)
			rh, err := wire.ParseRHello(chunksOf(t, body)[wire.TypeRHello])
			if err != nil {
				t.Fatal(err)
			}
			if len(rh.Cookie) != 64 || len(rh.Certificate) != 77 {
				t.Fatalf("RHello cookie %d bytes, certificate %d bytes; librtmfp needs 64 and 77", len(rh.Cookie), len(rh.Certificate))
			}

			// IIKeying, as recorded but with our cookie.
			ik, err := wire.ParseIIKeying(iikeying)
			if err != nil {
				t.Fatal(err)
			}
			ik.Cookie = rh.Cookie
			c.send(startup, 0, startupBody(ik.Append(nil)))
			ssid, body := c.recv(startup)
			if ssid != ik.InitiatorSessionID {
				t.Fatalf("RIKeying sent to session %#x, want %#x", ssid, ik.InitiatorSessionID)
			}
			rk, err := wire.ParseRIKeying(chunksOf(t, body)[wire.TypeRIKeying])
			if err != nil {
				t.Fatal(err)
			}
			skrc := rk.SKRC
			// A repeated IIKeying gets the same RIKeying, not a new session.
			c.send(startup, 0, startupBody(ik.Append(nil)))
			if _, again := c.recv(startup); !bytes.Equal(chunksOf(t, again)[wire.TypeRIKeying], chunksOf(t, body)[wire.TypeRIKeying]) {
				t.Fatal("repeated IIKeying answered differently")
			}
			if srv.Stats().HandshakesResponder != 1 {
				t.Fatalf("%d sessions for one repeated IIKeying", srv.Stats().HandshakesResponder)
			}

			// The client's side of the key agreement, from recorded values.
			var serverPub []byte
			var hmacFlags byte
			hmacLen := 0
			seq := false
			it := vlu.NewOptions(skrc)
			for it.Next() {
				o := it.Option()
				switch o.Type {
				case 0x0d:
					_, n, _ := vlu.Parse(o.Value)
					serverPub = o.Value[n:]
				case 0x1a:
					hmacFlags = o.Value[0]
					l, _, _ := vlu.Parse(o.Value[1:])
					hmacLen = int(l)
				case 0x1e:
					seq = o.Value[0]&0x06 != 0
				}
			}
			if sc == "a_unicast" && !bytes.HasPrefix(skrc, []byte{0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00, 0x81, 0x02, 0x0d, 0x02}) {
				t.Fatalf("SKRC %x lacks the prefix librtmfp checks", skrc[:11])
			}
			p := new(big.Int).SetBytes(rec.DHPrime)
			k := new(big.Int).Exp(new(big.Int).SetBytes(serverPub), new(big.Int).SetBytes(rec.InitiatorDHPrivate), p).Bytes()
			skic := ik.SKIC
			i2r := hmac256(k, hmac256(skrc, skic))
			r2i := hmac256(k, hmac256(skic, skrc))
			var sendInt, recvInt flash.Integrity
			if hmacFlags&0x06 != 0 {
				// We send HMACs: the client checks them with this key.
				recvInt = flash.Integrity{HMACKey: hmac256(k, r2i), HMACLength: hmacLen, Sequence: seq}
				// The client (rtmfp-cpp) sends HMAC-16 and sequence numbers.
				sendInt = flash.Integrity{HMACKey: hmac256(k, i2r), HMACLength: 16, Sequence: true}
			}
			if sc == "d_rtmfpcpp" && hmacFlags&0x06 == 0 {
				t.Fatal("rtmfp-cpp asked for HMAC and did not get it")
			}
			cEnc, err := flash.NewCodec(i2r[:16], sendInt)
			if err != nil {
				t.Fatal(err)
			}
			cDec, err := flash.NewCodec(r2i[:16], recvInt)
			if err != nil {
				t.Fatal(err)
			}
			h := wire.Header{Flags: wire.ModeInitiator | wire.HeaderTimestamp, Timestamp: 7}
			ping := wire.Ping{Data: []byte("are you there")}.Append(h.Append(nil))
			c.send(cEnc, rk.ResponderSessionID, ping)
			ssid, body = c.recv(cDec)
			if ssid != ik.InitiatorSessionID {
				t.Fatalf("session packet to %#x", ssid)
			}
			reply, err := wire.ParsePingReply(chunksOf(t, body)[wire.TypePingReply])
			if err != nil || string(reply.Data) != "are you there" {
				t.Fatalf("ping reply %q %v", reply.Data, err)
			}
		})
	}
}
