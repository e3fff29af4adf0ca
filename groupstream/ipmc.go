package groupstream

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/rtmfpd/rtmfpd/ipmulticast"
	"github.com/rtmfpd/rtmfpd/multicast"
	"github.com/rtmfpd/rtmfpd/rtmfp/profile/flash"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
	"github.com/rtmfpd/rtmfpd/vlu"
)

// Native IP multicast ("fusion" with P2P multicast).
//
// The datagram format Flash and FMS use on IP multicast is not documented
// and no capture of it is available (rtmfp-facts §8). rtmfpd uses the
// closest documented form, the hypothesis of the fact sheet: an RTMFP
// startup packet (session ID 0, the default key "Adobe Systems 02", the
// simple checksum, flags 0x0B with a timestamp) whose single chunk, of type
// ipmcChunk, holds
//
//	VLU(len(name)) name | 32-byte stream key | fragment message
//
// where the fragment message is exactly what goes on a GR 12 flow (types
// 0x20/0x30/0x10/0x00 with the publisher's fragment IDs), so that receivers
// merge IP multicast and P2P fragments in one buffer. One fragment per
// datagram. Everything about this format is in this file, to be corrected
// from a capture. Member updates over IP multicast (Flash's
// ipMulticastMemberUpdatesEnabled: members announcing themselves on the
// address) are not sent or read: their format is unknown too.
const ipmcChunk byte = 0x2A

// ipmcCodec is the startup codec (safe for concurrent use).
var ipmcCodec, _ = flash.NewCodec([]byte(flash.DefaultKey), flash.Integrity{})

// encodeIPMC builds one datagram.
func encodeIPMC(dst []byte, name string, key multicast.StreamKey, frag []byte) []byte {
	body := make([]byte, 0, 16+len(name)+len(key)+len(frag))
	h := wire.Header{Flags: wire.ModeStartup | wire.HeaderTimestamp, Timestamp: uint16(time.Now().UnixMilli() / 4)}
	body = h.Append(body)
	val := vlu.Append(nil, uint64(len(name)))
	val = append(val, name...)
	val = append(val, key[:]...)
	val = append(val, frag...)
	body = wire.AppendChunk(body, ipmcChunk, val)
	pkt := ipmcCodec.Seal(append(dst, 0, 0, 0, 0), body)
	for i := range 4 {
		pkt[len(dst)+i] = pkt[len(dst)+4+i] ^ pkt[len(dst)+8+i] // scrambled session ID 0
	}
	return pkt
}

// errIPMC is returned for a datagram that is not one of ours.
var errIPMC = errors.New("groupstream: not an IP multicast fragment datagram")

// decodeIPMC parses one datagram in place. The returned slices alias pkt.
func decodeIPMC(pkt []byte) (name string, key multicast.StreamKey, frag []byte, err error) {
	if len(pkt) < 20 {
		return "", key, nil, errIPMC
	}
	body, err := ipmcCodec.Open(pkt[4:])
	if err != nil {
		return "", key, nil, errIPMC
	}
	_, n, err := wire.ParseHeader(body)
	if err != nil {
		return "", key, nil, errIPMC
	}
	r := wire.NewChunkReader(body[n:])
	if !r.Next() || r.Type() != ipmcChunk {
		return "", key, nil, errIPMC
	}
	v := r.Value()
	l, k, err := vlu.Parse(v)
	if err != nil || l > 255 || uint64(len(v)-k) < l+uint64(len(key))+2 {
		return "", key, nil, errIPMC
	}
	name = string(v[k : k+int(l)])
	copy(key[:], v[k+int(l):])
	frag = v[k+int(l)+len(key):]
	if _, err := multicast.ParseFragment(frag); err != nil {
		return "", key, nil, errIPMC
	}
	return name, key, frag, nil
}

// ErrIPMulticastChange is returned when the IP multicast address of a
// stream that is publishing is changed: Flash raises an Error then (the
// address is set before publish(); see IPMulticastPublishAddress).
var ErrIPMulticastChange = errors.New("groupstream: the IP multicast address cannot change while publishing")

// IPMulticastOptions configure the socket of an IP multicast publication.
type IPMulticastOptions = ipmulticast.SenderOptions

// ipmcSender is a publication's native IP multicast output.
type ipmcSender struct {
	s      *ipmulticast.Sender
	name   string
	drop   func(id uint64) bool // tests: simulate loss
	buf    []byte
	errors atomic.Uint64
	// failing is whether the latest send failed (loop goroutine only).
	failing bool
}

// IPMulticastPublishAddress is the option of Publish that sends the
// publication's fragments to native IP multicast as well, as
// NetStream.setIPMulticastPublishAddress before publish() does: address is
// "224.0.0.254", "224.0.0.254:30000", "ff03::ffff" or "[ff03::ffff]:30000"
// and port may be given separately; an empty address sends none. An
// invalid address or port makes Publish fail.
func IPMulticastPublishAddress(address, port string, opts IPMulticastOptions) PublishOption {
	return func(p *Publication) error {
		g, err := ipmulticast.ParsePublishAddress(address, port)
		if err != nil || !g.IsValid() {
			return err
		}
		if g.Source.IsValid() && !opts.Source.IsValid() {
			opts.Source = g.Source
		}
		snd, err := ipmulticast.NewSender(g.Addr, opts)
		if err != nil {
			return fmt.Errorf("groupstream: IP multicast sender: %w", err)
		}
		if old := p.ipmc.Swap(&ipmcSender{s: snd, name: p.s.name}); old != nil {
			old.s.Close()
		}
		return nil
	}
}

// SetIPMulticastPublishAddress is NetStream.setIPMulticastPublishAddress on
// a stream that is publishing: setting the address it already has (or none
// when it has none) does nothing, any change is ErrIPMulticastChange (give
// the address to Publish with IPMulticastPublishAddress). An invalid
// address or port is an error too.
func (p *Publication) SetIPMulticastPublishAddress(address, port string, opts IPMulticastOptions) error {
	g, err := ipmulticast.ParsePublishAddress(address, port)
	if err != nil {
		return err
	}
	cur := p.ipmc.Load()
	if cur == nil && !g.IsValid() || cur != nil && g.IsValid() && cur.s.Group() == g.Addr {
		return nil
	}
	return ErrIPMulticastChange
}

// sendIPMC is the engine's OnPublished tap (loop goroutine).
func (p *Publication) sendIPMC(key multicast.StreamKey, raw []byte) {
	x := p.ipmc.Load()
	if x == nil {
		return
	}
	if x.drop != nil {
		if f, err := multicast.ParseFragment(raw); err == nil && x.drop(f.ID) {
			return
		}
	}
	x.buf = encodeIPMC(x.buf[:0], x.name, key, raw)
	err := x.s.Send(x.buf)
	if err != nil {
		x.errors.Add(1)
	}
	if failing := err != nil; failing != x.failing {
		x.failing = failing
		if f := p.onIPMCErr.Load(); f != nil {
			(*f)(err)
		}
	}
}

// OnIPMulticastSendError calls f when sending to native IP multicast starts
// failing (with the error, e.g. ENETUNREACH on a host with no multicast
// route) and with nil when sends succeed again, so a server can say it
// once instead of once per datagram; [Publication.IPMulticastStats] has the
// counts. f runs on the group's goroutine and must not block.
func (p *Publication) OnIPMulticastSendError(f func(err error)) {
	p.onIPMCErr.Store(&f)
}

// IPMulticastStats returns the IP multicast sender's counters.
func (p *Publication) IPMulticastStats() ipmulticast.SenderStats {
	if x := p.ipmc.Load(); x != nil {
		return x.s.Stats()
	}
	return ipmulticast.SenderStats{}
}

// closeIPMC releases the sender.
func (p *Publication) closeIPMC() {
	if x := p.ipmc.Swap(nil); x != nil {
		x.s.Close()
	}
}

// IPMulticastCounters count what a player's IP multicast receivers saw.
type IPMulticastCounters struct {
	Datagrams uint64 // fragments handed to the engine
	Foreign   uint64 // datagrams that were not fragments of this stream
	Receivers []ipmulticast.ReceiverStats
}

// ListenIPMulticast makes the player take fragments from native IP
// multicast too (the addresses a groupspec lists, for instance): fragments
// arriving there and over P2P are merged, and what IP multicast misses is
// pulled from neighbours ("fusion"). Datagrams of other streams or other
// senders on the same group are dropped and counted.
func (pb *Playback) ListenIPMulticast(groups []netip.AddrPort, opts ipmulticast.ReceiverOptions) error {
	for _, ga := range groups {
		r, err := ipmulticast.NewReceiver(ga, opts)
		if err != nil {
			return err
		}
		pb.mu.Lock()
		pb.receivers = append(pb.receivers, r)
		pb.mu.Unlock()
		go pb.readIPMC(r)
	}
	return nil
}

func (pb *Playback) readIPMC(r *ipmulticast.Receiver) {
	buf := make([]byte, 65536)
	for {
		n, _, err := r.Read(buf)
		if err != nil {
			return
		}
		name, key, frag, err := decodeIPMC(buf[:n])
		if err != nil || name != pb.s.name {
			pb.foreign.Add(1)
			continue
		}
		ev := event{kind: evIngest, s: pb.s, msg: append([]byte(nil), frag...), source: multicast.SourceIPMulticast, key: key}
		if !pb.s.g.post(ev) {
			return
		}
		pb.ingested.Add(1)
	}
}

// IPMulticastStats returns the player's IP multicast counters.
func (pb *Playback) IPMulticastStats() IPMulticastCounters {
	c := IPMulticastCounters{Datagrams: pb.ingested.Load(), Foreign: pb.foreign.Load()}
	pb.mu.Lock()
	for _, r := range pb.receivers {
		c.Receivers = append(c.Receivers, r.Stats())
	}
	pb.mu.Unlock()
	return c
}

// closeReceivers stops the player's IP multicast receivers.
func (pb *Playback) closeReceivers() {
	pb.mu.Lock()
	rs := pb.receivers
	pb.receivers = nil
	pb.mu.Unlock()
	for _, r := range rs {
		r.Close()
	}
}
