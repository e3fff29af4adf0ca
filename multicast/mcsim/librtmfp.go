package mcsim

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/rtmfpd/rtmfpd/media"
	"github.com/rtmfpd/rtmfpd/multicast"
)

// libPlayer models a librtmfp member playing a multicast stream, after
// librtmfp 787eb39's GroupMedia, PeerMedia and GroupBuffer, which the
// interop runs with TestClient (interop/netgroup-load.sh) exercise for
// real. It speaks the wire messages of package multicast, so it meets the
// engine's nodes in a simulation, and it keeps librtmfp's behaviours the
// publisher has to live with:
//
//   - it records a map only when its newest fragment grows (any peer), pulls
//     up to the newest recorded map a fetch period old, and pauses pulling
//     when no map was recorded for a fetch period;
//   - its first pull asks for the newest such fragment and the one before,
//     and it never pulls below them;
//   - it delivers from the first fragment in its buffer once that first
//     pull is answered, in ID order, and stalls at a hole until the window
//     evicts it, after which it restarts at the next message start that
//     arrives;
//   - it asks one peer for one more push bit every 2 s and keeps the faster
//     of two pushers of a bit; it pushes what it adds to at most push limit
//   - 1 peers;
//   - it sends its map to one peer per update period, in turn, and once it
//     knows the end of stream, names the end in its maps with its own
//     newest fragment's bitmap (GroupMedia::updateFragmentMap).
//
// It adopts the window, fetch and update periods of the first stream info
// it gets; its push limit and relay margin are its own.
type libPlayer struct {
	s     *Sim
	self  int32
	rng   *rand.Rand
	name  string
	known bool
	key   multicast.StreamKey
	cfg   multicast.Config // window, fetch, update, send-to-all: adopted
	push  int              // its push limit
	relay time.Duration    // its relay margin

	peers     map[multicast.NeighborID]*libPeer // subscribed (GroupMedia::_mapPeers)
	neighbors []multicast.NeighborID            // sessions (to announce the stream to)
	list      []multicast.NeighborID            // push order (_listPeers)
	infoSent  map[multicast.NeighborID]bool

	frags     map[uint64]libFrag // _fragments
	lo, hi    uint64             // their ID range
	fragTimes []libEntry         // _mapTime2Fragment
	mapTimes  []libEntry         // _mapPullTime2Fragment
	lastMapID uint64

	currentPull    uint64
	waiting        map[uint64]time.Time
	pullPaused     bool
	firstPull      bool // _firstPullReceived
	startedPush    bool
	pushMask       uint8
	pushIt, pullIt int // iterators over the sorted peers (-1: end)
	mapIt          int
	pushers        map[uint8]libPusher
	lastFragment   time.Time
	endFragment    uint64
	lastMap        time.Time
	lastPull       time.Time
	lastPush       time.Time
	nextManage     time.Time

	// GroupBuffer.
	started bool
	current uint64
	buf     map[uint64]libFrag
}

type libPeer struct {
	mapIn   uint64 // _idFragmentsMapIn
	bitmap  []byte
	mapOut  uint64 // _idFragmentsMapOut
	pushIn  uint8  // bits we asked it for
	pushOut uint8  // bits it asked us for
}

type libFrag struct {
	raw []byte
	f   multicast.Fragment
}

type libEntry struct {
	at time.Time
	id uint64
}

type libPusher struct {
	peer multicast.NeighborID
	last uint64
}

// libManage is how often the model's timers run (librtmfp's manage loop).
const libManage = 20 * time.Millisecond

func newLibPlayer(s *Sim, self int32, pushLimit int, seed uint64) *libPlayer {
	return &libPlayer{
		s: s, self: self, rng: rand.New(rand.NewPCG(seed, 0x6c6962)), name: "sim",
		cfg: multicast.DefaultConfig(), push: pushLimit, relay: 2 * time.Second,
		peers: map[multicast.NeighborID]*libPeer{}, infoSent: map[multicast.NeighborID]bool{},
		frags: map[uint64]libFrag{}, waiting: map[uint64]time.Time{}, pushers: map[uint8]libPusher{},
		buf: map[uint64]libFrag{}, pushIt: -1, pullIt: -1, mapIt: -1,
		lastMap: s.now, lastPull: s.now, lastPush: s.now,
	}
}

func (p *libPlayer) send(to multicast.NeighborID, flow multicast.Flow, msg []byte) {
	transport{p.s, p.self}.Send(to, flow, msg)
}

func (p *libPlayer) report(to multicast.NeighborID, m multicast.Message) {
	p.send(to, multicast.FlowReport, m.Append(nil))
}

// AddNeighbor implements engine: a P2P session with the group handshake.
func (p *libPlayer) AddNeighbor(id multicast.NeighborID, now time.Time) error {
	if !slices.Contains(p.neighbors, id) {
		p.neighbors = append(p.neighbors, id)
		if p.known {
			p.sendInfo(id)
		}
	}
	if p.nextManage.IsZero() {
		p.nextManage = now.Add(libManage)
	}
	return nil
}

// NextDeadline implements engine.
func (p *libPlayer) NextDeadline() (time.Time, bool) {
	return p.nextManage, !p.nextManage.IsZero()
}

// sendInfo sends the stream info and the map (GroupMedia::sendGroupMedia).
func (p *libPlayer) sendInfo(id multicast.NeighborID) {
	if p.infoSent[id] {
		return
	}
	p.infoSent[id] = true
	p.report(id, multicast.NewStreamInfo(p.name, p.key, p.cfg))
	if last, m := p.fragmentsMap(); last != 0 {
		if pr := p.peers[id]; pr != nil {
			pr.mapOut = last
		}
		p.report(id, m)
	}
}

// HandleMessage implements engine (the GR 11 flow).
func (p *libPlayer) HandleMessage(from multicast.NeighborID, msg []byte, now time.Time) error {
	m, err := multicast.DecodeReport(msg)
	if err != nil {
		return err
	}
	switch m := m.(type) {
	case multicast.StreamInfo:
		if m.Name != p.name {
			return nil
		}
		if !p.known {
			c := m.Config()
			p.key, p.known = m.Key, true
			p.cfg.Window, p.cfg.FetchPeriod, p.cfg.UpdatePeriod, p.cfg.SendToAll = c.Window, c.FetchPeriod, c.UpdatePeriod, c.SendToAll
			for _, id := range p.neighbors {
				if id != from {
					p.sendInfo(id)
				}
			}
		}
		if m.Key != p.key {
			return nil
		}
		if p.peers[from] == nil {
			p.peers[from] = &libPeer{}
			p.list = append(p.list, from)
		}
		p.sendInfo(from)
	case multicast.StreamEnd:
		p.endFragment = m.LastFragment
		if p.current+1 >= p.endFragment {
			p.s.nodes[p.self].ended = true
		}
	case multicast.FragmentsMap:
		pr := p.peers[from]
		if pr == nil {
			return nil
		}
		if m.Last > p.lastMapID {
			p.mapTimes = append(p.mapTimes, libEntry{now, m.Last})
			p.lastMapID = m.Last
			p.pullPaused = false
		}
		if p.pushMask == 0 && !p.startedPush {
			p.sendPushRequests()
			p.startedPush = true
		}
		if m.Last <= pr.mapIn {
			return nil
		}
		pr.mapIn = m.Last
		pr.bitmap = append(pr.bitmap[:0], m.Bitmap...)
	case multicast.Push:
		if pr := p.peers[from]; pr != nil {
			pr.pushOut = m.Mask
		}
	case multicast.Pull:
		if f, ok := p.frags[m.ID]; ok && p.peers[from] != nil {
			p.send(from, multicast.FlowMedia, f.raw)
		}
	}
	return nil
}

// hasFragment is PeerMedia::hasFragment.
func (pr *libPeer) hasFragment(id uint64) bool {
	switch {
	case pr.mapIn == 0 || pr.mapIn < id:
		return false
	case pr.mapIn == id:
		return true
	}
	off, bit := (pr.mapIn-id-1)/8, (pr.mapIn-id-1)%8
	return off < uint64(len(pr.bitmap)) && pr.bitmap[off]&(1<<bit) != 0
}

// HandleFragment implements engine (GroupMedia _onFragment).
func (p *libPlayer) HandleFragment(from multicast.NeighborID, raw []byte, now time.Time) error {
	f, err := multicast.ParseFragment(raw)
	if err != nil {
		return err
	}
	pr := p.peers[from]
	if pr == nil {
		return nil
	}
	p.lastFragment = now
	startProcess := false
	if _, ok := p.waiting[f.ID]; ok {
		delete(p.waiting, f.ID)
		if !p.firstPull {
			startProcess, p.firstPull = true, true
		}
	} else if mask := uint8(1) << (f.ID % 8); pr.pushIn&mask != 0 {
		rec, ok := p.pushers[mask]
		switch {
		case !ok:
			rec = libPusher{from, f.ID}
		case rec.peer != from && rec.last < f.ID:
			if old := p.peers[rec.peer]; old != nil {
				p.sendPushMode(rec.peer, old, old.pushIn&^mask)
			}
			rec.peer = from
		case rec.peer != from:
			p.sendPushMode(from, pr, pr.pushIn&^mask)
		}
		rec.last = max(rec.last, f.ID)
		p.pushers[mask] = rec
	}
	_, have := p.frags[f.ID]
	tooOld := len(p.fragTimes) > 2 && p.fragTimes[len(p.fragTimes)-1].at.Sub(p.fragTimes[0].at) > p.cfg.Window && p.fragTimes[0].id > f.ID
	if !have && !tooOld {
		p.addFragment(from, f, raw, now)
	}
	if startProcess {
		p.startProcessing()
	}
	return nil
}

func (p *libPlayer) sendPushMode(id multicast.NeighborID, pr *libPeer, mask uint8) {
	if pr.pushIn != mask {
		pr.pushIn = mask
		p.report(id, multicast.Push{Mask: mask})
	}
}

// addFragment stores a fragment, relays it to at most push limit + 1
// peers whose mask asks for it, and gives it to the buffer.
func (p *libPlayer) addFragment(from multicast.NeighborID, f multicast.Fragment, raw []byte, now time.Time) {
	p.frags[f.ID] = libFrag{raw, f}
	if p.lo == 0 || f.ID < p.lo {
		p.lo = f.ID
	}
	p.hi = max(p.hi, f.ID)
	if (f.Marker == multicast.TypeFragmentWhole || f.Marker == multicast.TypeFragmentFirst) &&
		(len(p.fragTimes) == 0 || f.ID > p.fragTimes[len(p.fragTimes)-1].id) {
		p.fragTimes = append(p.fragTimes, libEntry{now, f.ID})
	}
	n := p.push + 1
	for _, id := range p.list {
		if pr := p.peers[id]; id != from && pr != nil && pr.pushOut&(1<<(f.ID%8)) != 0 {
			p.send(id, multicast.FlowMedia, raw)
			if n--; n == 0 {
				break
			}
		}
	}
	p.buf[f.ID] = libFrag{raw, f}
	if p.started {
		p.processFrom(f.ID)
	}
}

// processFrom processes from id on while messages come out; after one, the
// buffer's next fragment (its std::map iterator) can only be processed if
// it is the next ID, so that is all that is looked at.
func (p *libPlayer) processFrom(id uint64) {
	for {
		last, ok := p.process(id)
		if !ok {
			return
		}
		id = last + 1
	}
}

func (p *libPlayer) startProcessing() {
	p.started = true
	if len(p.buf) > 0 {
		p.processFrom(p.lowestInBuffer(0))
	}
}

// lowestInBuffer returns the lowest buffered ID at or above from.
func (p *libPlayer) lowestInBuffer(from uint64) uint64 {
	low := uint64(0)
	for id := range p.buf {
		if id >= from && (low == 0 || id < low) {
			low = id
		}
	}
	return low
}

// process is GroupBuffer::processFragment: it reports whether it delivered
// a message, and the last ID it took.
func (p *libPlayer) process(id uint64) (uint64, bool) {
	fr, ok := p.buf[id]
	if !ok {
		return 0, false
	}
	f := fr.f
	if f.Marker == multicast.TypeFragmentWhole || f.Marker == multicast.TypeFragmentLast && id == p.current+1 {
		if p.current == 0 || id == p.current+1 {
			p.current = id
			p.deliver(id, media.Message{Type: f.MediaType, Timestamp: f.Time, Payload: f.Payload})
			return id, true
		}
		return 0, false
	}
	if p.current == 0 {
		if f.Marker != multicast.TypeFragmentFirst {
			delete(p.buf, id)
			return 0, false
		}
		p.current = id - 1
	}
	start := id
	for {
		s, ok := p.buf[start]
		if !ok {
			return 0, false
		}
		if s.f.Marker == multicast.TypeFragmentFirst {
			break
		}
		start--
	}
	if start != p.current+1 {
		return 0, false
	}
	first := p.buf[start].f
	n := uint8(first.Count + 1) // librtmfp's byte: a count of 255 makes 0
	var payload []byte
	payload = append(payload, first.Payload...)
	end := start
	for i := 1; i < int(n); i++ {
		x, ok := p.buf[start+uint64(i)]
		if !ok {
			return 0, false
		}
		payload = append(payload, x.f.Payload...)
		end = start + uint64(i)
	}
	for k := start; k <= end; k++ {
		delete(p.buf, k)
	}
	p.current = end
	p.deliver(start, media.Message{Type: first.MediaType, Timestamp: first.Time, Payload: payload})
	return end, true
}

func (p *libPlayer) deliver(id uint64, m media.Message) {
	delete(p.buf, id)
	p.s.onDeliver(p.self, id, m)
	if p.endFragment != 0 && p.current+1 >= p.endFragment {
		p.s.nodes[p.self].ended = true
	}
}

// removeFragments is GroupBuffer REMOVE_FRAGMENTS: the window dropped
// everything below id.
func (p *libPlayer) removeFragments(id uint64) {
	for k := range p.buf {
		if k < id {
			delete(p.buf, k)
		}
	}
	if p.current < id {
		p.current = 0
		if k := p.lowestInBuffer(id); k != 0 && p.started {
			p.processFrom(k)
		}
	}
}

// Tick implements engine (GroupMedia::manage).
func (p *libPlayer) Tick(now time.Time) {
	if now.Before(p.nextManage) {
		return
	}
	p.nextManage = now.Add(libManage)
	if !p.known {
		return
	}
	if now.Sub(p.lastMap) > p.cfg.UpdatePeriod {
		p.sendFragmentsMap()
		p.lastMap = now
	}
	if now.Sub(p.lastPull) > PullPeriodLibrtmfp {
		p.sendPullRequests(now)
		p.lastPull = now
	}
	if p.startedPush && now.Sub(p.lastPush) > PushPeriodLibrtmfp {
		p.sendPushRequests()
		p.lastPush = now
	}
}

// librtmfp's NETGROUP_PULL_DELAY and NETGROUP_PUSH_DELAY.
const (
	PullPeriodLibrtmfp = 100 * time.Millisecond
	PushPeriodLibrtmfp = 2 * time.Second
)

// fragmentsMap is GroupMedia::updateFragmentMap (after eraseOldFragments):
// Last is the end of stream once known, the bits are those of its own
// newest fragment.
func (p *libPlayer) fragmentsMap() (uint64, multicast.FragmentsMap) {
	p.eraseOld(p.s.now)
	if len(p.frags) == 0 && p.endFragment == 0 {
		return 0, multicast.FragmentsMap{}
	}
	first, last := p.lo, p.hi
	if len(p.frags) == 0 {
		first, last = p.endFragment, p.endFragment
	}
	m := multicast.FragmentsMap{Last: last}
	if p.endFragment != 0 {
		m.Last = p.endFragment
	}
	for index := last - 1; last > 0 && index >= first && index >= 8; index -= 8 {
		var b byte
		for k := uint64(0); k < 8 && index-k >= first; k++ {
			if _, ok := p.frags[index-k]; ok {
				b |= 1 << k
			}
		}
		m.Bitmap = append(m.Bitmap, b)
	}
	return last, m
}

// sorted returns the subscribed peers in librtmfp's map order.
func (p *libPlayer) sorted() []multicast.NeighborID {
	ids := make([]multicast.NeighborID, 0, len(p.peers))
	for id := range p.peers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// nextPeer is GroupMedia::getNextPeer: from *it, the next (ascending) or
// previous peer that has fragment id (0: any) and does not push mask
// (0: any).
func (p *libPlayer) nextPeer(ids []multicast.NeighborID, it *int, ascending bool, id uint64, mask uint8) (multicast.NeighborID, bool) {
	n := len(ids)
	if n == 0 {
		return 0, false
	}
	ok := func(x multicast.NeighborID) bool {
		pr := p.peers[x]
		return (id == 0 || pr.hasFragment(id)) && (mask == 0 || pr.pushIn&mask == 0)
	}
	if *it < 0 || *it >= n {
		*it = 0
		if !ascending {
			*it = n - 1
		}
		if ok(ids[*it]) {
			return ids[*it], true
		}
	}
	for range n {
		if ascending {
			*it = (*it + 1) % n
		} else {
			*it = (*it - 1 + n) % n
		}
		if ok(ids[*it]) {
			return ids[*it], true
		}
	}
	return 0, false
}

// randomPeer picks a random peer among those ok accepts.
func (p *libPlayer) randomPeer(ids []multicast.NeighborID, ok func(*libPeer) bool) (int, bool) {
	var c []int
	for i, id := range ids {
		if ok(p.peers[id]) {
			c = append(c, i)
		}
	}
	if len(c) == 0 {
		return -1, false
	}
	return c[p.rng.IntN(len(c))], true
}

func (p *libPlayer) sendFragmentsMap() {
	last, m := p.fragmentsMap()
	if last == 0 {
		return
	}
	ids := p.sorted()
	send := func(id multicast.NeighborID) {
		if pr := p.peers[id]; pr.mapOut != last {
			pr.mapOut = last
			p.report(id, m)
		}
	}
	if p.cfg.SendToAll {
		for _, id := range ids {
			send(id)
		}
		return
	}
	if p.mapIt < 0 {
		if i, ok := p.randomPeer(ids, func(*libPeer) bool { return true }); ok {
			p.mapIt = i
			send(ids[i])
		}
		return
	}
	if id, ok := p.nextPeer(ids, &p.mapIt, false, 0, 0); ok {
		send(id)
	}
}

func (p *libPlayer) sendPushRequests() {
	ids := p.sorted()
	if len(ids) == 0 {
		return
	}
	if p.pushMask == 0 {
		p.pushMask = 1 << p.rng.IntN(8)
	} else if p.pushMask == 0x80 {
		p.pushMask = 1
	} else {
		p.pushMask <<= 1
	}
	mask := p.pushMask
	var id multicast.NeighborID
	found := false
	if p.pushIt < 0 {
		if i, ok := p.randomPeer(ids, func(pr *libPeer) bool { return pr.pushIn&mask == 0 }); ok {
			p.pushIt, id, found = i, ids[i], true
		}
	} else {
		id, found = p.nextPeer(ids, &p.pushIt, false, 0, mask)
	}
	if found {
		pr := p.peers[id]
		p.sendPushMode(id, pr, pr.pushIn|mask)
	}
}

// lowerBound is the index of the first entry at or after t.
func lowerBound(es []libEntry, t time.Time) int {
	i, _ := slices.BinarySearchFunc(es, t, func(e libEntry, t time.Time) int {
		if e.at.Before(t) {
			return -1
		}
		return 1
	})
	return i
}

func (p *libPlayer) sendPullRequests(now time.Time) {
	if len(p.peers) == 0 || len(p.mapTimes) == 0 || p.pullPaused ||
		!p.lastFragment.IsZero() && now.Sub(p.lastFragment) > p.cfg.Window+p.relay {
		return
	}
	timeMax := now.Add(-p.cfg.FetchPeriod)
	i := lowerBound(p.mapTimes, timeMax)
	if i == 0 || i == len(p.mapTimes) {
		if now.Sub(p.mapTimes[0].at) > p.cfg.FetchPeriod {
			p.pullPaused = true
			if !p.firstPull {
				p.startProcessing()
			}
		}
		return
	}
	lastFragment := p.mapTimes[i-1].id
	ids := p.sorted()
	if p.currentPull == 0 {
		p.currentPull = max(lastFragment-1, 1)
		for k := range 2 {
			want := p.currentPull
			if k == 1 {
				want++
			}
			j, ok := p.randomPeer(ids, func(pr *libPeer) bool { return pr.hasFragment(want) })
			if !ok {
				if k == 1 {
					p.currentPull = 0
				}
				continue
			}
			if k == 1 {
				p.pullIt = j
				p.currentPull++
			}
			if _, have := p.frags[want]; have {
				p.firstPull = true
				p.startProcessing()
			} else {
				p.report(ids[j], multicast.Pull{ID: want})
				p.waiting[want] = now
			}
		}
		return
	}
	// Pulls unanswered for a fetch period go to the next peer.
	if j := lowerBound(p.mapTimes, timeMax.Add(-p.cfg.FetchPeriod)); j > 0 && j < len(p.mapTimes) {
		lastOld := p.mapTimes[j-1].id
		var ws []uint64
		for id := range p.waiting {
			if id <= lastOld {
				ws = append(ws, id)
			}
		}
		slices.Sort(ws)
		for _, id := range ws {
			if now.Sub(p.waiting[id]) > p.cfg.FetchPeriod {
				if to, ok := p.nextPeer(ids, &p.pullIt, true, id, 0); ok {
					p.report(to, multicast.Pull{ID: id})
					p.waiting[id] = now
				}
			}
		}
	}
	for ; p.currentPull < lastFragment; p.currentPull++ {
		id := p.currentPull + 1
		if _, have := p.frags[id]; have {
			continue
		}
		to, ok := p.nextPeer(ids, &p.pullIt, true, id, 0)
		if !ok {
			break
		}
		p.report(to, multicast.Pull{ID: id})
		p.waiting[id] = now
	}
}

// eraseOld is GroupMedia::eraseOldFragments.
func (p *libPlayer) eraseOld(now time.Time) {
	if len(p.frags) == 0 || len(p.fragTimes) == 0 {
		return
	}
	keep := now.Add(-(p.cfg.Window + p.relay))
	i := lowerBound(p.fragTimes, keep)
	if i == 0 || i == len(p.fragTimes) {
		return
	}
	ref := p.fragTimes[i].id
	// The fragment before the reference one is kept, as librtmfp does.
	cut := ref
	for k := ref - 1; k >= p.lo && k > 0; k-- {
		if _, ok := p.frags[k]; ok {
			cut = k
			break
		}
	}
	for k := p.lo; k < cut; k++ {
		delete(p.frags, k)
	}
	p.lo = cut
	p.fragTimes = p.fragTimes[i:]
	for id := range p.waiting {
		if id < cut {
			delete(p.waiting, id)
		}
	}
	p.currentPull = max(p.currentPull, cut)
	if j := lowerBound(p.mapTimes, keep); j > 0 && j < len(p.mapTimes) {
		p.mapTimes = p.mapTimes[j:]
	}
	p.removeFragments(cut)
}

var _ engine = (*libPlayer)(nil)
