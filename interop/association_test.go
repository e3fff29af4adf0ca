package interop

import (
	"testing"

	"github.com/rtmfpd/rtmfpd/netstream/tcflow"
)

// TestClientFlowAssociations checks, on the recorded bytes of three client
// implementations (librtmfp against MonaTiny in a and against rtmfpd in e,
// rtmfp-cpp's tcpublish and tcconn against tcserver in d), the return flow
// associations a client puts on its flows (RFC 7016 §2.3.11.1.2, RFC 7425
// §5.3.2): the NetConnection flow (TC, stream 0) carries none, and every
// other flow it opens to the server (NetStream flows TC 1…, the NetGroup
// GC flow) is associated with the server's NetConnection return flow. The
// Go client does the same (client.TestStreamFlowsAssociated); tcserver
// rejects a NetStream flow without it (interop/FINDINGS.md).
func TestClientFlowAssociations(t *testing.T) {
	for _, name := range []string{"a_unicast", "d_rtmfpcpp", "e_librtmfp_rtmfpd", "g_librtmfp_netgroup_rtmfpd"} {
		t.Run(name, func(t *testing.T) {
			fms := flowMessages(t, name)
			// The server's NetConnection return flow in each session.
			serverNC := map[string]uint64{}
			for _, fm := range fms {
				if fm.FromRole != "server" {
					continue
				}
				if id, ok := tcflow.ParseMetadata(fm.Metadata); ok && id == 0 {
					serverNC[fm.SessionName] = fm.FlowID
				}
			}
			type flowKey struct {
				session string
				flow    uint64
			}
			checked := map[flowKey]bool{}
			for _, fm := range fms {
				if fm.ToRole != "server" {
					continue
				}
				key := flowKey{fm.SessionName, fm.FlowID}
				if checked[key] {
					continue
				}
				checked[key] = true
				id, isTC := tcflow.ParseMetadata(fm.Metadata)
				nc, ok := serverNC[fm.SessionName]
				if !ok {
					t.Fatalf("%s: the server opened no NetConnection flow", fm.SessionName)
				}
				switch {
				case isTC && id == 0:
					if fm.HasAssociation {
						t.Errorf("#%d %s: the client's NetConnection flow %d is associated with %d", fm.DatagramIndex, fm.SessionName, fm.FlowID, fm.ReturnAssociation)
					}
				case !fm.HasAssociation || fm.ReturnAssociation != nc:
					t.Errorf("#%d %s: client flow %d (metadata %q) associated=%v with %d, want the server's NetConnection flow %d",
						fm.DatagramIndex, fm.SessionName, fm.FlowID, fm.Metadata, fm.HasAssociation, fm.ReturnAssociation, nc)
				}
			}
			if len(checked) < 2*len(serverNC) {
				t.Fatalf("%d client flows in %d sessions: the recording lost its NetStream or group flows", len(checked), len(serverNC))
			}
		})
	}
}

// TestDirectPlayFlowAssociation checks the direct P2P case of recording f:
// a direct session has no NetConnection, so librtmfp's player opens its
// NetStream flow (stream 2000001) without association, and the publisher
// associates its answers with that flow. client.PlayDirect does the same.
func TestDirectPlayFlowAssociation(t *testing.T) {
	var play uint64
	found := false
	for _, fm := range flowMessages(t, "f_librtmfp_p2p_rtmfpd") {
		if fm.FromRole != "peer-player" || fm.ToRole != "peer-publisher" {
			continue
		}
		if id, ok := tcflow.ParseMetadata(fm.Metadata); !ok || id != 2000001 {
			t.Fatalf("#%d: direct play flow metadata %x", fm.DatagramIndex, fm.Metadata)
		}
		if fm.HasAssociation {
			t.Fatalf("#%d: the direct play flow is associated with %d", fm.DatagramIndex, fm.ReturnAssociation)
		}
		play, found = fm.FlowID, true
	}
	if !found {
		t.Fatal("no play flow from the player to the publisher")
	}
	answers := 0
	for _, fm := range flowMessages(t, "f_librtmfp_p2p_rtmfpd") {
		if fm.FromRole == "peer-publisher" && fm.ToRole == "peer-player" {
			if !fm.HasAssociation || fm.ReturnAssociation != play {
				t.Fatalf("#%d: publisher flow %d associated=%v with %d, want the play flow %d", fm.DatagramIndex, fm.FlowID, fm.HasAssociation, fm.ReturnAssociation, play)
			}
			answers++
		}
	}
	if answers == 0 {
		t.Fatal("the publisher answered nothing")
	}
}
