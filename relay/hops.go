package relay

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/netstream"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// DefaultMaxHops is the default of Config.MaxHops.
const DefaultMaxHops = 8

// hopsArg is the key of the connect argument that carries a relay path:
// the relay's connect ends with {rtmfpdRelay: {hops: n, via: "..."}}, which
// other servers ignore as they ignore any extra argument.
const hopsArg = "rtmfpdRelay"

// LoopRefusal starts the description of a publish refused because it
// closes a relay loop; a target that answers it is not retried.
const LoopRefusal = "relay loop"

// Caps on what a peer's connect may make the server parse and keep.
const (
	maxViaEntries = 32
	maxViaEntry   = 512
)

// Hops is the path a relayed stream has travelled: how many servers
// republished it, and each republished stream as "serverID/app/instance/name",
// oldest first. A relay's connect carries the path of the stream it
// publishes, so that a server sees a loop (its own stream on the path) or
// a path grown too long, and refuses the publish.
type Hops struct {
	Count int
	Via   []string
}

// HopsOf reads the relay path of a connection (zero for a client that is
// not a relay).
func HopsOf(info netstream.ConnectInfo) Hops {
	for _, a := range info.Args {
		o, ok := amf.AsObject(a)
		if !ok {
			continue
		}
		v, ok := o.Get(hopsArg)
		if !ok {
			continue
		}
		ro, ok := amf.AsObject(v)
		if !ok {
			return Hops{}
		}
		var h Hops
		if n, ok := ro.GetNumber("hops"); ok && n > 0 && n < 1<<20 {
			h.Count = int(n)
		}
		if s, ok := ro.GetString("via"); ok && s != "" {
			for e := range strings.SplitSeq(s, "\n") {
				if len(h.Via) == maxViaEntries {
					break
				}
				if e != "" && len(e) <= maxViaEntry {
					h.Via = append(h.Via, e)
				}
			}
		}
		return h
	}
	return Hops{}
}

// arg is the connect argument carrying h.
func (h Hops) arg() *amf.Object {
	return amf.NewObject(amf.Property{Key: hopsArg, Value: amf.NewObject(
		amf.Property{Key: "hops", Value: float64(h.Count)},
		amf.Property{Key: "via", Value: strings.Join(h.Via, "\n")},
	)})
}

// nextHops is the path the targets of s carry: that of its publisher,
// one hop longer, with s added.
func (m *Manager) nextHops(s *netstream.Stream) Hops {
	var h Hops
	if p := s.Publisher(); p != nil {
		if c, ok := netstream.ConnOf(p); ok {
			h = HopsOf(c.Info())
		}
	}
	via := append(slices.Clone(h.Via), m.cfg.ServerID+"/"+s.Key())
	if len(via) > maxViaEntries {
		via = via[len(via)-maxViaEntries:]
	}
	return Hops{Count: h.Count + 1, Via: via}
}

// CheckLoop refuses (with a *netstream.Refusal) the publish of stream
// app/inst/name by a connection whose relay path already went through it
// on this server, or is longer than MaxHops.
func (m *Manager) CheckLoop(info netstream.ConnectInfo, app, inst, name string) error {
	h := HopsOf(info)
	if h.Count == 0 {
		return nil
	}
	if h.Count > m.cfg.MaxHops {
		return &netstream.Refusal{Code: netstream.PublishFailed,
			Description: fmt.Sprintf("%s: the stream was relayed %d times (relay.maxHops %d)", LoopRefusal, h.Count, m.cfg.MaxHops)}
	}
	self := m.cfg.ServerID + "/" + app + "/" + inst + "/" + name
	if slices.Contains(h.Via, self) {
		return &netstream.Refusal{Code: netstream.PublishFailed,
			Description: fmt.Sprintf("%s: %s/%s/%s was relayed here from itself", LoopRefusal, app, inst, name)}
	}
	return nil
}

// isLoop reports whether a target refused the publish as a relay loop.
func isLoop(err error) bool {
	var re *rtmp.StatusError
	if errors.As(err, &re) {
		return strings.HasPrefix(re.Description, LoopRefusal)
	}
	var ce *client.StatusError
	if errors.As(err, &ce) {
		return strings.HasPrefix(ce.Status.Description, LoopRefusal)
	}
	return false
}

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
