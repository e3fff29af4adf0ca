package traceflow

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rtmfpd/rtmfpd/internal/tracefile"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// FlowMessage is one complete user message reassembled from the User Data
// and Next User Data chunks of a recorded session (RFC 7016 §3.6.3).
type FlowMessage struct {
	Scenario    string
	SessionName string // Session.Name of the keys file
	FromRole    string // role of the sender
	ToRole      string // role of the receiver
	FlowID      uint64 // the sender's flow ID
	// Metadata is the flow's metadata option value (user data option 0x00,
	// without its type), e.g. "TC\x04\x00" or "GR\x1c"; nil when the flow
	// never carried one.
	Metadata []byte
	// ReturnAssociation is the receiver's flow ID this flow answers
	// (option 0x0A), valid when HasAssociation is set.
	ReturnAssociation uint64
	HasAssociation    bool
	// Seq is the sequence number of the message's first fragment.
	Seq  uint64
	Data []byte
	// DatagramIndex is the index of the datagram that completed the message.
	DatagramIndex int
}

// flowKey names one direction of one flow of one session.
type flowKey struct {
	session  string
	fromRole string
	flowID   uint64
}

// fragment is one received sequence number of a flow.
type fragment struct {
	fra       byte
	abandoned bool
	consumed  bool
	data      []byte
}

// flowState is the reassembly state of one flow direction.
type flowState struct {
	meta     []byte
	assoc    uint64
	hasAssoc bool
	frags    map[uint64]*fragment
	fsn      uint64 // highest forward sequence number seen
}

// sessionDir identifies the session a datagram belongs to: the receiving
// process (by role) and the session ID that process chose.
type sessionDir struct {
	toRole string
	id     uint32
}

// ExtractFlowMessages reassembles every user message of a scenario. A
// datagram belongs to the session whose receiving endpoint has the role of
// the datagram's destination and chose the datagram's session ID.
// Duplicated and retransmitted fragments are ignored; fragments abandoned by
// the sender (ABN flag, or below the forward sequence number) break the
// message they belong to, which is then not returned. Messages are returned
// in the capture order of the datagram holding their completing fragment,
// then in sequence order.
func ExtractFlowMessages(scenario string) ([]FlowMessage, error) {
	ds, err := tracefile.LoadDatagrams(scenario)
	if err != nil {
		return nil, err
	}
	keys, err := tracefile.LoadKeys(scenario)
	if err != nil {
		return nil, err
	}
	return extractFlowMessages(scenario, ds, keys)
}

func extractFlowMessages(scenario string, ds []tracefile.Datagram, keys *tracefile.Keys) ([]FlowMessage, error) {
	sessions := map[sessionDir]string{}
	for _, s := range keys.Sessions {
		sessions[sessionDir{s.Responder.Role, s.Responder.SessionID}] = s.Name
		sessions[sessionDir{s.Initiator.Role, s.Initiator.SessionID}] = s.Name
	}
	flows := map[flowKey]*flowState{}
	var out []FlowMessage
	for i := range ds {
		d := &ds[i]
		if !d.IsRTMFP() || d.SessionID == 0 {
			continue
		}
		name, ok := sessions[sessionDir{d.RoleDst, d.SessionID}]
		if !ok {
			continue
		}
		var prev wire.UserData
		havePrev := false
		for _, c := range d.Chunks {
			var ud wire.UserData
			var err error
			switch c.Type {
			case wire.TypeUserData:
				ud, err = wire.ParseUserData(c.Value)
				if err != nil {
					return nil, fmt.Errorf("%s #%d: user data: %w", scenario, d.Index, err)
				}
			case wire.TypeNextUserData:
				if !havePrev {
					return nil, fmt.Errorf("%s #%d: next user data without a previous user data", scenario, d.Index)
				}
				nd, err := wire.ParseNextUserData(c.Value)
				if err != nil {
					return nil, fmt.Errorf("%s #%d: next user data: %w", scenario, d.Index, err)
				}
				ud = nd.Expand(prev)
			default:
				havePrev = false
				continue
			}
			prev, havePrev = ud, true
			k := flowKey{name, d.RoleSrc, ud.FlowID}
			st := flows[k]
			if st == nil {
				st = &flowState{frags: map[uint64]*fragment{}}
				flows[k] = st
			}
			if err := st.options(ud.Options); err != nil {
				return nil, fmt.Errorf("%s #%d: flow %d options: %w", scenario, d.Index, ud.FlowID, err)
			}
			for _, m := range st.add(ud) {
				out = append(out, FlowMessage{
					Scenario: scenario, SessionName: name,
					FromRole: d.RoleSrc, ToRole: d.RoleDst, FlowID: ud.FlowID,
					Metadata: st.meta, ReturnAssociation: st.assoc, HasAssociation: st.hasAssoc,
					Seq: m.seq, Data: m.data, DatagramIndex: d.Index,
				})
			}
		}
	}
	return out, nil
}

// options records the flow's metadata and association the first time they
// appear (senders repeat them until the flow is acknowledged).
func (st *flowState) options(list []byte) error {
	if len(list) == 0 {
		return nil
	}
	o, err := wire.ParseUserDataOptions(list)
	if err != nil {
		return err
	}
	if st.meta == nil && o.Metadata != nil {
		st.meta = append([]byte{}, o.Metadata...)
	}
	if !st.hasAssoc && o.HasReturnAssociation {
		st.assoc, st.hasAssoc = o.ReturnAssociation, true
	}
	return nil
}

type assembled struct {
	seq  uint64
	data []byte
}

// add records one chunk and returns the messages it completes.
func (st *flowState) add(ud wire.UserData) []assembled {
	f := st.frags[ud.Seq]
	if f != nil {
		return nil // retransmission
	}
	// A sequence number first seen at or below the forward sequence number
	// was abandoned by the sender (RFC 7016 §3.6.3.2).
	late := ud.Seq <= st.fsn
	if fsn, ok := ud.FSN(); ok && fsn > st.fsn {
		st.fsn = fsn
	}
	f = &fragment{fra: ud.Fragment(), abandoned: late || ud.Flags&wire.FlagAbandon != 0, data: ud.Data}
	st.frags[ud.Seq] = f
	if f.abandoned {
		return nil
	}
	// Walk back to the first fragment.
	first := ud.Seq
	for cur := f; cur.fra == wire.FragMiddle || cur.fra == wire.FragLast; {
		if first == 0 {
			return nil
		}
		p := st.frags[first-1]
		if p == nil || p.abandoned || p.consumed || p.fra == wire.FragWhole || p.fra == wire.FragLast {
			return nil
		}
		first--
		cur = p
	}
	// Walk forward to the last fragment.
	last := ud.Seq
	for cur := f; cur.fra == wire.FragFirst || cur.fra == wire.FragMiddle; {
		n := st.frags[last+1]
		if n == nil || n.abandoned || n.consumed || n.fra == wire.FragWhole || n.fra == wire.FragFirst {
			return nil
		}
		last++
		cur = n
	}
	var data []byte
	for s := first; ; s++ {
		p := st.frags[s]
		p.consumed = true
		data = append(data, p.data...)
		if s == last {
			break
		}
	}
	if data == nil {
		data = []byte{}
	}
	return []assembled{{seq: first, data: data}}
}

// MetadataCounts counts messages per flow metadata signature, written as
// printable text with other bytes in hex (e.g. "GR\x1c" → "GR 1c"), for
// logging.
func MetadataCounts(ms []FlowMessage) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[SignatureString(m.Metadata)]++
	}
	return out
}

// SignatureString renders a flow metadata signature: runs of letters as
// text, other bytes as hex, separated by spaces ("TC 04 00", "GR 1c").
func SignatureString(meta []byte) string {
	if meta == nil {
		return "(none)"
	}
	var toks []string
	for i := 0; i < len(meta); {
		j := i
		for j < len(meta) && isLetter(meta[j]) {
			j++
		}
		if j > i {
			toks = append(toks, string(meta[i:j]))
			i = j
			continue
		}
		toks = append(toks, fmt.Sprintf("%02x", meta[i]))
		i++
	}
	return strings.Join(toks, " ")
}

func isLetter(b byte) bool { return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' }

// SortedKeys returns a map's keys in order, for stable logs.
func SortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
