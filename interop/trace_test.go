// Package interop checks rtmfpd against RTMFP implementations written
// elsewhere by replaying traffic recorded with them (see
// testdata/rtmfp-traces/SOURCE.md, scenarios e to h): librtmfp's TestClient
// publishing to rtmfpd and playing from it (e), two TestClients introduced
// to each other by rtmfpd for a direct P2P stream (f), two TestClients
// joining a NetGroup through rtmfpd (g), and a TestClient playing a stream
// rtmfpd republished into a NetGroup (h). The replay needs no peer: every
// datagram is decrypted with its recorded key (RFC 7425 §4.6), its chunks
// are parsed (RFC 7016 §2.3), the flows are reassembled (RFC 7016 §3.6) and
// the TC, group and multicast messages decoded (RFC 7425 §5), and the tests
// check that the answers rtmfpd sent are the ones the clients went on with.
package interop

import (
	"bytes"
	"testing"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
)

// scenario is the recording of librtmfp's TestClient against rtmfpd.
const scenario = "e_librtmfp_rtmfpd"

// Roles of the processes in the recording.
const (
	roleServer    = "server"
	rolePublisher = "client-publisher"
	rolePlayer    = "client-player"
)

// trace is the loaded recording.
type trace struct {
	ds   []tracefile.Datagram
	keys *tracefile.Keys
}

func loadTrace(t *testing.T) *trace { return loadRecording(t, scenario, 2) }

// loadRecording loads a scenario that must hold the given number of
// sessions.
func loadRecording(t *testing.T, name string, sessions int) *trace {
	t.Helper()
	ds, err := tracefile.LoadDatagrams(name)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tracefile.LoadKeys(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) == 0 || len(keys.Sessions) != sessions {
		t.Fatalf("%s: %d datagrams, %d sessions; want a recording with %d sessions", name, len(ds), len(keys.Sessions), sessions)
	}
	return &trace{ds: ds, keys: keys}
}

// sessionNamed returns the recorded session called name ("initiator->responder").
func (tr *trace) sessionNamed(t *testing.T, name string) *tracefile.Session {
	t.Helper()
	for i := range tr.keys.Sessions {
		if tr.keys.Sessions[i].Name == name {
			return &tr.keys.Sessions[i]
		}
	}
	t.Fatalf("no session %s", name)
	return nil
}

// session returns the recorded session whose initiator has role.
func (tr *trace) session(t *testing.T, role string) *tracefile.Session {
	t.Helper()
	for i := range tr.keys.Sessions {
		if tr.keys.Sessions[i].Initiator.Role == role {
			return &tr.keys.Sessions[i]
		}
	}
	t.Fatalf("no session initiated by %s", role)
	return nil
}

// sessionOf returns the session a datagram belongs to: the one whose
// receiving end has the datagram's destination role and chose its session
// ID. Startup datagrams (session ID 0) belong to none.
func (tr *trace) sessionOf(d *tracefile.Datagram) *tracefile.Session {
	for i := range tr.keys.Sessions {
		s := &tr.keys.Sessions[i]
		if s.Responder.Role == d.RoleDst && s.Responder.SessionID == d.SessionID ||
			s.Initiator.Role == d.RoleDst && s.Initiator.SessionID == d.SessionID {
			return s
		}
	}
	return nil
}

// expectedKey is the key the sender must have used for d: the startup key
// for startup packets, including the RIKeying (a startup packet sent in the
// initiator's session ID before the session keys are in force, RFC 7016
// §3.5.1), else the session key of the sender's direction.
func (tr *trace) expectedKey(d *tracefile.Datagram) []byte {
	if d.SessionID == 0 {
		return tr.keys.DefaultKey
	}
	s := tr.sessionOf(d)
	switch {
	case s == nil:
		return nil
	case d.Index == s.RIKeyingDatagramIndex:
		return tr.keys.DefaultKey
	case d.RoleSrc == s.Initiator.Role:
		return s.InitiatorToResponderKey
	default:
		return s.ResponderToInitiatorKey
	}
}

// TestTraceIsComplete checks the recording's bookkeeping: roles, the
// default key, and that each session's keying exchange is in it.
func TestTraceIsComplete(t *testing.T) {
	tr := loadTrace(t)
	if string(tr.keys.DefaultKey) != "Adobe Systems 02" {
		t.Fatalf("default key %q", tr.keys.DefaultKey)
	}
	roles := map[string]int{}
	for _, r := range tr.keys.Roles {
		roles[r]++
	}
	if roles[roleServer] != 1 || roles[rolePublisher] != 1 || roles[rolePlayer] != 1 {
		t.Fatalf("roles %v, want one server, publisher and player address", tr.keys.Roles)
	}
	for _, role := range []string{rolePublisher, rolePlayer} {
		s := tr.session(t, role)
		if s.Responder.Role != roleServer || s.Initiator.Software != "librtmfp" || s.Responder.Software != "rtmfpd" {
			t.Fatalf("%s: session %+v / %+v", role, s.Initiator, s.Responder)
		}
		ik, rk := s.IIKeyingDatagramIndex, s.RIKeyingDatagramIndex
		if ik < 0 || rk <= ik || rk >= len(tr.ds) {
			t.Fatalf("%s: IIKeying #%d, RIKeying #%d", role, ik, rk)
		}
		if tr.ds[ik].RoleSrc != role || tr.ds[rk].RoleDst != role {
			t.Fatalf("%s: keying datagrams go %s→%s and %s→%s", role,
				tr.ds[ik].RoleSrc, tr.ds[ik].RoleDst, tr.ds[rk].RoleSrc, tr.ds[rk].RoleDst)
		}
	}
	for i := range tr.ds {
		d := &tr.ds[i]
		if !d.IsRTMFP() {
			t.Fatalf("#%d is not RTMFP (%s)", i, d.Note)
		}
		if d.RoleSrc == d.RoleDst || (d.RoleSrc != roleServer && d.RoleDst != roleServer) {
			t.Fatalf("#%d goes %s→%s; only client↔server traffic was recorded", i, d.RoleSrc, d.RoleDst)
		}
		if tr.expectedKey(d) == nil {
			t.Fatalf("#%d (%s→%s, session ID %#x) belongs to no recorded session", i, d.RoleSrc, d.RoleDst, d.SessionID)
		}
		if !bytes.Equal(d.Key, tr.expectedKey(d)) {
			t.Fatalf("#%d recorded with key %x, its session's key is %x", i, d.Key, tr.expectedKey(d))
		}
	}
}
