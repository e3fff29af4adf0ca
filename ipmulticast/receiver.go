package ipmulticast

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for [ReceiverOptions].
const (
	DefaultReceiveBatch = 16   // datagrams per batch read
	DefaultMaxDatagram  = 2048 // bytes per datagram slot
)

// ReceiverOptions configures a [Receiver]. The zero value joins the group
// on every interface that is up and multicast-capable, accepts any sender,
// and reads up to 16 datagrams of up to 2048 bytes per system call.
type ReceiverOptions struct {
	// Interfaces names the interfaces to join the group on. Empty: every
	// interface that is up and multicast-capable, skipping those where the
	// join fails (at least one must succeed). Named interfaces must all
	// join.
	Interfaces []string
	// Source, when set, makes this a source-specific receiver (SSM, RFC
	// 4607): the group is joined with JoinSourceSpecificGroup, so the
	// kernel only delivers datagrams from Source, and Publisher defaults
	// to Source (any port).
	Source netip.Addr
	// Publisher, when set, drops (and counts in OtherSource) datagrams
	// from any other sender: the address must match, and the port too
	// unless it is 0.
	Publisher netip.AddrPort
	// BatchSize is the number of datagrams read per system call
	// (recvmmsg on Linux), 1 to 256; 0 means [DefaultReceiveBatch].
	BatchSize int
	// MaxDatagram is the size of each datagram slot, 1 to 65535 bytes; 0
	// means [DefaultMaxDatagram]. Longer datagrams are dropped and counted
	// in Truncated. Memory use is bounded by BatchSize × MaxDatagram.
	MaxDatagram int
	// ReadBuffer sets SO_RCVBUF when positive.
	ReadBuffer int
}

// ReceiverStats are a [Receiver]'s counters since it was created. Every
// datagram the socket read is counted exactly once: delivered, or in one
// of the drop counters (checked in this order).
type ReceiverStats struct {
	Datagrams uint64 // datagrams delivered by Read
	Bytes     uint64 // their payload bytes
	// Truncated: larger than MaxDatagram.
	Truncated uint64
	// NoDestination: the kernel gave no destination address.
	NoDestination uint64
	// OtherDestination: sent to another group (or unicast) on the port.
	OtherDestination uint64
	// OtherInterface: arrived on an interface the group was not joined on.
	OtherInterface uint64
	// OtherSource: not from the expected publisher.
	OtherSource uint64
	// Errors: failed reads (not counting timeouts or Close).
	Errors uint64
}

// Receiver receives the datagrams sent to one IP multicast group and port.
// It listens on the wildcard address at the group's port (SO_REUSEADDR, so
// receivers of several groups can share a port), joins the group on the
// chosen interfaces, and checks each datagram's destination address and
// arrival interface (IP_PKTINFO / IPV6_PKTINFO control messages), dropping
// those not for this group. Read is safe for concurrent use; concurrent
// readers take turns.
type Receiver struct {
	group     netip.AddrPort
	publisher netip.AddrPort
	uc        *net.UDPConn
	fc        famConn
	joined    []int // interface indexes
	names     []string

	mu   sync.Mutex // guards the batch state below
	msgs []message
	bufs [][]byte
	pos  int // next message to look at
	n    int // messages in the batch

	closed atomic.Bool
	stats  struct {
		datagrams, bytes, truncated, noDst, otherDst, otherIf, otherSrc, errs atomic.Uint64
	}
}

// NewReceiver opens a socket on group's port and joins group (a multicast
// address and a non-zero port) as the options say.
func NewReceiver(group netip.AddrPort, opts ReceiverOptions) (*Receiver, error) {
	if _, err := parseGroupIP(group.Addr().String()); err != nil {
		return nil, err
	}
	if group.Port() == 0 {
		return nil, fmt.Errorf("%w: port 0", ErrInvalidPort)
	}
	batch, size := opts.BatchSize, opts.MaxDatagram
	if batch == 0 {
		batch = DefaultReceiveBatch
	}
	if size == 0 {
		size = DefaultMaxDatagram
	}
	if batch < 1 || batch > 256 {
		return nil, fmt.Errorf("ipmulticast: batch size %d out of range 1 to 256", opts.BatchSize)
	}
	if size < 1 || size > 65535 {
		return nil, fmt.Errorf("ipmulticast: datagram size %d out of range 1 to 65535", opts.MaxDatagram)
	}
	publisher := opts.Publisher
	if opts.Source.IsValid() {
		if err := checkSource(opts.Source, group.Addr()); err != nil {
			return nil, fmt.Errorf("%w: %v: %s", ErrInvalidSource, opts.Source, err)
		}
		if !publisher.IsValid() {
			publisher = netip.AddrPortFrom(opts.Source, 0)
		} else if publisher.Addr() != opts.Source {
			return nil, fmt.Errorf("%w: publisher %v is not the SSM source %v", ErrInvalidSource, publisher, opts.Source)
		}
	}
	if publisher.IsValid() {
		if err := checkSource(publisher.Addr(), group.Addr()); err != nil {
			return nil, fmt.Errorf("%w: publisher %v: %s", ErrInvalidSource, publisher, err)
		}
	}
	ifs, explicit, err := receiveInterfaces(opts.Interfaces)
	if err != nil {
		return nil, err
	}
	uc, err := listenUDP(netip.AddrPortFrom(wildcard(group.Addr()), group.Port()), true, opts.ReadBuffer, 0)
	if err != nil {
		return nil, fmt.Errorf("ipmulticast: receiver socket: %w", err)
	}
	r := &Receiver{group: group, publisher: publisher, uc: uc, fc: newFamConn(uc, group.Addr().Is4())}
	if err := r.fc.enableControl(); err != nil {
		uc.Close()
		return nil, fmt.Errorf("ipmulticast: receiver: destination control messages unavailable: %w", err)
	}
	var joinErrs []error
	for i := range ifs {
		ifi := &ifs[i]
		if err := r.fc.join(ifi, group.Addr(), opts.Source); err != nil {
			if explicit {
				uc.Close()
				return nil, fmt.Errorf("ipmulticast: joining %v on %s: %w", group.Addr(), ifi.Name, err)
			}
			joinErrs = append(joinErrs, fmt.Errorf("%s: %w", ifi.Name, err))
			continue
		}
		r.joined = append(r.joined, ifi.Index)
		r.names = append(r.names, ifi.Name)
	}
	if len(r.joined) == 0 {
		uc.Close()
		return nil, fmt.Errorf("%w: joining %v failed everywhere: %w", ErrNoInterface, group.Addr(), errors.Join(joinErrs...))
	}
	r.msgs = make([]message, batch)
	r.bufs = make([][]byte, batch)
	space := r.fc.controlSpace()
	for i := range r.msgs {
		r.bufs[i] = make([]byte, size)
		r.msgs[i].Buffers = [][]byte{r.bufs[i]}
		r.msgs[i].OOB = make([]byte, space)
	}
	return r, nil
}

// Group returns the group and port.
func (r *Receiver) Group() netip.AddrPort { return r.group }

// Interfaces returns the names of the interfaces the group was joined on.
func (r *Receiver) Interfaces() []string { return append([]string(nil), r.names...) }

// Read waits for the next datagram for the group that passes the filters,
// copies it into b and returns its length and sender. If b is too short
// the datagram is cut to len(b) and the error is [io.ErrShortBuffer]. After
// Close, or when Close is called while Read waits, Read returns
// [net.ErrClosed]. A deadline set by SetReadDeadline gives an error for
// which [os.ErrDeadlineExceeded] holds.
func (r *Receiver) Read(b []byte) (int, netip.AddrPort, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		for r.pos < r.n {
			m := &r.msgs[r.pos]
			r.pos++
			src, ok := r.accept(m)
			if !ok {
				continue
			}
			n := copy(b, m.Buffers[0][:m.N])
			if n < m.N {
				return n, src, io.ErrShortBuffer
			}
			return n, src, nil
		}
		if r.closed.Load() {
			return 0, netip.AddrPort{}, net.ErrClosed
		}
		r.pos, r.n = 0, 0
		n, err := r.fc.ReadBatch(r.msgs, 0)
		if err != nil {
			switch {
			case r.closed.Load() || errors.Is(err, net.ErrClosed):
				return 0, netip.AddrPort{}, net.ErrClosed
			case errors.Is(err, os.ErrDeadlineExceeded):
			default:
				r.stats.errs.Add(1)
			}
			return 0, netip.AddrPort{}, err
		}
		r.n = n
	}
}

// accept applies the filters to one read message, counting it.
func (r *Receiver) accept(m *message) (netip.AddrPort, bool) {
	if msgTrunc != 0 && m.Flags&msgTrunc != 0 {
		r.stats.truncated.Add(1)
		return netip.AddrPort{}, false
	}
	dst, ifIndex, ok := r.fc.parseControl(m.OOB[:m.NN])
	if !ok {
		r.stats.noDst.Add(1)
		return netip.AddrPort{}, false
	}
	if dst != r.group.Addr() {
		r.stats.otherDst.Add(1)
		return netip.AddrPort{}, false
	}
	if !r.joinedOn(ifIndex) {
		r.stats.otherIf.Add(1)
		return netip.AddrPort{}, false
	}
	src := addrPortOf(m.Addr)
	if p := r.publisher; p.IsValid() {
		if src.Addr().WithZone("") != p.Addr() || (p.Port() != 0 && src.Port() != p.Port()) {
			r.stats.otherSrc.Add(1)
			return netip.AddrPort{}, false
		}
	}
	r.stats.datagrams.Add(1)
	r.stats.bytes.Add(uint64(m.N))
	return src, true
}

func (r *Receiver) joinedOn(ifIndex int) bool {
	for _, i := range r.joined {
		if i == ifIndex {
			return true
		}
	}
	return false
}

// SetReadDeadline sets the deadline for Read (the zero time: none).
func (r *Receiver) SetReadDeadline(t time.Time) error { return r.uc.SetReadDeadline(t) }

// Stats returns the counters.
func (r *Receiver) Stats() ReceiverStats {
	s := &r.stats
	return ReceiverStats{
		Datagrams:        s.datagrams.Load(),
		Bytes:            s.bytes.Load(),
		Truncated:        s.truncated.Load(),
		NoDestination:    s.noDst.Load(),
		OtherDestination: s.otherDst.Load(),
		OtherInterface:   s.otherIf.Load(),
		OtherSource:      s.otherSrc.Load(),
		Errors:           s.errs.Load(),
	}
}

// Close leaves the group, closes the socket and unblocks Read.
func (r *Receiver) Close() error {
	r.closed.Store(true)
	return r.uc.Close()
}
