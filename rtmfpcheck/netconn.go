package rtmfpcheck

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rtmfpd/rtmfpd/amf"
	"github.com/rtmfpd/rtmfpd/client"
	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/netstream"
)

const idConnect = "netconnection.connect"

func netConnectionChecks() category {
	connected := []string{idConnect}
	return category{name: "netconnection", checks: []check{
		{id: idConnect, title: "connect (objectEncoding 3, as Flash) is answered with _result: level status, NetConnection.Connect.Success, objectEncoding 3",
			ref: "RFC 7425 §5.3, Flash Player (rtmfp-facts §5.4)", run: connectCheck(false)},
		{id: "netconnection.connect-amf0", title: "connect with objectEncoding 0 is answered with objectEncoding 0",
			ref: "Flash Player (NetConnection.objectEncoding), rtmfp-facts §5.4", run: connectCheck(true)},
		{id: "netconnection.keepalive", title: "the server sets the keepalive periods (user control event 41) on the NetConnection",
			ref: "RFC 7425 §5.3.4", needs: connected, run: checkKeepalive},
		{id: "netconnection.call-error", title: "a call of a method the server does not have gets _error NetConnection.Call.Failed",
			ref: "Flash Player, FMS (rtmfp-facts §5.5)", needs: connected, run: checkCallError},
		{id: "netconnection.amf3-command", title: "a command in an AMF3 command message (type 17, as Flash sends them) is answered",
			ref: "RFC 7425 §5.1, Flash Player", needs: connected, run: checkAMF3Command},
		{id: "netconnection.setpeerinfo", title: "setPeerInfo (transaction 0, the client's addresses) is taken without an error or a close",
			ref: "RFC 7425 §5.3.3", needs: connected, run: checkSetPeerInfo},
	}}
}

// messageLog keeps the TC messages a connection received.
type messageLog struct {
	mu   sync.Mutex
	msgs []loggedMessage
	wire *wireLog
}

type loggedMessage struct {
	stream uint32
	m      media.Message
}

// maxLogged bounds what a message log keeps of a chatty server.
const maxLogged = 4096

func (l *messageLog) add(id uint32, m media.Message) {
	l.wire.add("← stream %d %s", id, describeMessage(m))
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.msgs) < maxLogged {
		m.Payload = append([]byte(nil), m.Payload...)
		l.msgs = append(l.msgs, loggedMessage{id, m})
	}
}

func (l *messageLog) all() []loggedMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loggedMessage(nil), l.msgs...)
}

// describeMessage names a TC message for the wire log.
func describeMessage(m media.Message) string {
	switch m.Type {
	case media.TypeCommandAMF0, media.TypeCommandAMF3:
		if cmd, err := netstream.DecodeCommand(m); err == nil {
			s := fmt.Sprintf("command %q txn %v", cmd.Name, cmd.TxnID)
			for _, a := range cmd.Args {
				if o, ok := amf.AsObject(a); ok {
					if code, ok := o.GetString("code"); ok {
						s += " " + code
					}
				}
			}
			return s
		}
	case media.TypeUserControl:
		if len(m.Payload) >= 2 {
			return fmt.Sprintf("user control event %d, %d bytes", binary.BigEndian.Uint16(m.Payload), len(m.Payload))
		}
	case media.TypeDataAMF0, media.TypeDataAMF3:
		if vs, err := netstream.DecodeData(m); err == nil && len(vs) > 0 {
			return fmt.Sprintf("data %v", vs[0])
		}
	case media.TypeAudio:
		return fmt.Sprintf("audio %d bytes at %d ms", len(m.Payload), m.Timestamp)
	case media.TypeVideo:
		return fmt.Sprintf("video %d bytes at %d ms", len(m.Payload), m.Timestamp)
	}
	return fmt.Sprintf("message type %d, %d bytes", m.Type, len(m.Payload))
}

// connect dials with a message log.
func (e *env) connect(ctx context.Context, r *rec, opts client.Options) (*client.Conn, *messageLog, bool) {
	l := &messageLog{wire: r.wire}
	opts.OnMessage = l.add
	c, t, err := e.dial(ctx, r, opts)
	if err != nil {
		e.dialFailure(ctx, r, t, err)
		return nil, l, false
	}
	return c, l, true
}

func connectCheck(amf0 bool) func(context.Context, *env, *rec) {
	return func(ctx context.Context, e *env, r *rec) {
		c, _, ok := e.connect(ctx, r, client.Options{AMF0: amf0})
		if !ok {
			return
		}
		st := c.ConnectResult
		want := 3.0
		if amf0 {
			want = 0
		}
		for _, k := range infoKeys(st.Info) {
			v, _ := st.Info.Get(k)
			r.fact(k, "%s", short(v))
		}
		oe, hasOE := st.Info.GetNumber("objectEncoding")
		switch {
		case st.Code != netstream.ConnectSuccess:
			r.failf("_result carries code %q", st.Code)
		case st.Level != netstream.LevelStatus:
			r.failf("_result carries level %q, not status", st.Level)
		case !hasOE:
			r.failf("_result has no objectEncoding (Flash takes it for %v)", 0)
		case oe != want:
			r.failf("objectEncoding %v answers a connect with %v", oe, want)
		default:
			r.passf("%s, objectEncoding %v", st.Code, oe)
		}
	}
}

// infoKeys lists an info object's keys in order.
func infoKeys(o *amf.Object) []string {
	if o == nil {
		return nil
	}
	var ks []string
	for k := range o.All() {
		ks = append(ks, k)
	}
	return ks
}

// short prints an AMF value in a line.
func short(v amf.Value) string {
	s := fmt.Sprint(v)
	if o, ok := amf.AsObject(v); ok {
		ks := infoKeys(o)
		sort.Strings(ks)
		s = "{" + strings.Join(ks, ", ") + "}"
	}
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// barrier makes a request every server answers, createStream: once it is
// answered, everything the server sent before on the NetConnection flow
// has arrived, and what this end sent before it was read. It waits at most
// barrierWait.
func barrier(ctx context.Context, c *client.Conn) error {
	bctx, cancel := context.WithTimeout(ctx, barrierWait)
	defer cancel()
	_, err := c.CreateStream(bctx)
	var se *client.StatusError
	if errors.As(err, &se) {
		return nil // refused, but answered
	}
	if err != nil && bctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("createStream went unanswered for %v", barrierWait)
	}
	return err
}

// barrierWait bounds a barrier.
const barrierWait = 5 * time.Second

func checkKeepalive(ctx context.Context, e *env, r *rec) {
	c, l, ok := e.connect(ctx, r, client.Options{})
	if !ok {
		return
	}
	// Cumulus sends the periods when setPeerInfo comes, MonaServer2 and
	// rtmfpd right after connect.
	if err := c.SetPeerInfo(ctx, e.localAddrs(c.Session().Endpoint())...); err != nil {
		r.failf("setPeerInfo: %s", plain(err))
		return
	}
	if err := barrier(ctx, c); err != nil {
		r.failf("%s", e.noAnswer(ctx, "a call after setPeerInfo", err))
		return
	}
	for _, lm := range l.all() {
		p := lm.m.Payload
		if lm.m.Type != media.TypeUserControl || len(p) < 2 || binary.BigEndian.Uint16(p) != netstream.EventSetKeepalive {
			continue
		}
		if lm.stream != 0 || len(p) != 10 {
			r.failf("Set Keepalive Timers on stream %d with %d bytes (want stream 0, two 32-bit periods)", lm.stream, len(p)-2)
			return
		}
		server, peer := binary.BigEndian.Uint32(p[2:]), binary.BigEndian.Uint32(p[6:])
		r.fact("server keepalive", "%d ms", server)
		r.fact("peer keepalive", "%d ms", peer)
		r.passf("server %d ms, peer %d ms", server, peer)
		return
	}
	r.failf("no Set Keepalive Timers before the answer to a later call: clients keep their default periods")
}

func checkCallError(ctx context.Context, e *env, r *rec) {
	c, _, ok := e.connect(ctx, r, client.Options{})
	if !ok {
		return
	}
	res, err := c.Call(ctx, "rtmfpcheckNoSuchMethod", "argument")
	var se *client.StatusError
	switch {
	case err == nil:
		r.failf("answered _result %s", short(res))
	case errors.As(err, &se):
		r.fact("code", "%s", se.Status.Code)
		r.fact("level", "%s", se.Status.Level)
		r.fact("description", "%s", se.Status.Description)
		if se.Status.Code != netstream.CallFailed || se.Status.Level != netstream.LevelError {
			swapped := ""
			if se.Status.Level == netstream.CallFailed {
				swapped = ": code and level swapped"
			}
			r.failf("_error's info object has code %q and level %q%s", se.Status.Code, se.Status.Level, swapped)
			return
		}
		r.passf("%s", se.Status)
	default:
		r.failf("%s", e.noAnswer(ctx, "the call", err))
	}
}

func checkAMF3Command(ctx context.Context, e *env, r *rec) {
	c, _, ok := e.connect(ctx, r, client.Options{CommandsAMF3: true})
	if !ok {
		return
	}
	st, err := c.CreateStream(ctx)
	if err != nil {
		r.failf("%s", e.noAnswer(ctx, "createStream in an AMF3 command message", err))
		return
	}
	r.passf("createStream answered: stream %d", st.ID)
}

func checkSetPeerInfo(ctx context.Context, e *env, r *rec) {
	c, _, ok := e.connect(ctx, r, client.Options{})
	if !ok {
		return
	}
	addrs := e.localAddrs(c.Session().Endpoint())
	if err := c.SetPeerInfo(ctx, addrs...); err != nil {
		r.failf("setPeerInfo: %s", plain(err))
		return
	}
	r.fact("announced", "%v", addrs)
	// Two requests after it: a server that closes because of setPeerInfo
	// has closed by the time the second would be answered.
	for range 2 {
		if err := barrier(ctx, c); err != nil {
			r.failf("%s", e.noAnswer(ctx, "a request after setPeerInfo", err))
			return
		}
	}
	if err := c.Session().Err(); err != nil {
		r.failf("the session ended: %s", plain(err))
		return
	}
	r.passf("%d addresses announced, the connection goes on", len(addrs))
}
