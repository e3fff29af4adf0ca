package ipmulticast

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// DefaultTTL is the IPv4 TTL and IPv6 hop limit of a [Sender] when
// [SenderOptions.TTL] is 0: 1, which keeps datagrams on the local link (the
// host's own default for multicast, and the safe choice: a larger value
// must be asked for, as a multicast router will forward it).
const DefaultTTL = 1

// DefaultSendBatch is the number of datagrams handed to the kernel in one
// system call by [Sender.SendBatch] when [SenderOptions.BatchSize] is 0.
const DefaultSendBatch = 64

// SenderOptions configures a [Sender]. The zero value sends from a port
// chosen by the kernel, on the interface the routing table picks, with
// TTL 1 and without local loopback.
type SenderOptions struct {
	// Interface names the outgoing interface ("eth0"); InterfaceIndex
	// gives it by index. Either may be used; if both are set they must
	// name the same interface. Neither: the routing table decides.
	Interface      string
	InterfaceIndex int
	// TTL is the IPv4 TTL or IPv6 hop limit, 1 to 255; 0 means
	// [DefaultTTL].
	TTL int
	// Loopback asks the kernel to deliver a copy of each datagram to
	// receivers on this host (IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP).
	// Meant for tests and single-host setups.
	Loopback bool
	// Source is the local address to send from. Receivers of a
	// source-specific group (SSM, RFC 4607) join (group, Source), so an
	// SSM publisher must set it to an address of this host. Zero: the
	// kernel picks the source address.
	Source netip.Addr
	// LocalPort is the local UDP port; 0 picks an ephemeral one.
	LocalPort uint16
	// WriteBuffer sets SO_SNDBUF when positive.
	WriteBuffer int
	// BatchSize bounds the datagrams per system call in SendBatch, 1 to
	// 1024; 0 means [DefaultSendBatch].
	BatchSize int
}

// SenderStats are a [Sender]'s counters since it was created.
type SenderStats struct {
	Datagrams uint64 // datagrams handed to the kernel
	Bytes     uint64 // their payload bytes
	Errors    uint64 // failed send calls
	// LastError describes the latest failed send ("" when none failed),
	// e.g. "sendto: network is unreachable" on a host with no multicast
	// route.
	LastError string
}

// Sender sends datagrams to one IP multicast group over a UDP socket. Its
// methods are safe for concurrent use.
type Sender struct {
	group netip.AddrPort
	uc    *net.UDPConn
	fc    famConn
	dst   *net.UDPAddr

	mu       sync.Mutex // guards the batch scratch below
	msgs     []message
	iov      [][1][]byte
	noBatch  bool // sendmmsg was refused: send one by one
	batchMax int

	datagrams, bytes, errs atomic.Uint64
	lastErr                atomic.Pointer[string]
}

// failed counts a failed send and keeps its error.
func (s *Sender) failed(err error) {
	s.errs.Add(1)
	msg := err.Error()
	s.lastErr.Store(&msg)
}

// NewSender opens a socket sending to group (a multicast address and a
// non-zero port) with the given options.
func NewSender(group netip.AddrPort, opts SenderOptions) (*Sender, error) {
	if _, err := parseGroupIP(group.Addr().String()); err != nil {
		return nil, err
	}
	if group.Port() == 0 {
		return nil, fmt.Errorf("%w: port 0", ErrInvalidPort)
	}
	ttl := opts.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 1 || ttl > 255 {
		return nil, fmt.Errorf("ipmulticast: TTL %d out of range 1 to 255", opts.TTL)
	}
	batch := opts.BatchSize
	if batch == 0 {
		batch = DefaultSendBatch
	}
	if batch < 1 || batch > 1024 {
		return nil, fmt.Errorf("ipmulticast: batch size %d out of range 1 to 1024", opts.BatchSize)
	}
	local := wildcard(group.Addr())
	if opts.Source.IsValid() {
		if err := checkSource(opts.Source, group.Addr()); err != nil {
			return nil, fmt.Errorf("%w: %v: %s", ErrInvalidSource, opts.Source, err)
		}
		local = opts.Source
	}
	ifi, err := interfaceByNameOrIndex(opts.Interface, opts.InterfaceIndex)
	if err != nil {
		return nil, err
	}
	uc, err := listenUDP(netip.AddrPortFrom(local, opts.LocalPort), opts.LocalPort != 0, 0, opts.WriteBuffer)
	if err != nil {
		return nil, fmt.Errorf("ipmulticast: sender socket: %w", err)
	}
	fc := newFamConn(uc, group.Addr().Is4())
	fail := func(what string, err error) (*Sender, error) {
		uc.Close()
		return nil, fmt.Errorf("ipmulticast: sender: %s: %w", what, err)
	}
	if ifi != nil {
		if err := fc.setMulticastInterface(ifi); err != nil {
			return fail("setting the interface "+ifi.Name, err)
		}
	}
	if err := fc.setHops(ttl); err != nil {
		return fail("setting the TTL", err)
	}
	if err := fc.setLoopback(opts.Loopback); err != nil {
		return fail("setting loopback", err)
	}
	s := &Sender{
		group:    group,
		uc:       uc,
		fc:       fc,
		dst:      net.UDPAddrFromAddrPort(group),
		msgs:     make([]message, batch),
		iov:      make([][1][]byte, batch),
		batchMax: batch,
	}
	for i := range s.msgs {
		s.msgs[i].Buffers = s.iov[i][:]
		s.msgs[i].Addr = s.dst
	}
	return s, nil
}

// Group returns the destination group and port.
func (s *Sender) Group() netip.AddrPort { return s.group }

// LocalAddr returns the socket's local address.
func (s *Sender) LocalAddr() netip.AddrPort { return s.uc.LocalAddr().(*net.UDPAddr).AddrPort() }

// Send sends b as one datagram to the group.
func (s *Sender) Send(b []byte) error {
	n, err := s.uc.WriteToUDPAddrPort(b, s.group)
	if err != nil {
		s.failed(err)
		return err
	}
	s.datagrams.Add(1)
	s.bytes.Add(uint64(n))
	return nil
}

// SendBatch sends each element of bufs as one datagram, in order, using as
// few system calls as the platform allows (sendmmsg on Linux; elsewhere,
// or if the kernel refuses it, one call per datagram). It returns the
// number of datagrams sent; if that is less than len(bufs) the error says
// why.
func (s *Sender) SendBatch(bufs [][]byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sent := 0
	for sent < len(bufs) {
		if s.noBatch {
			if err := s.Send(bufs[sent]); err != nil {
				return sent, err
			}
			sent++
			continue
		}
		chunk := bufs[sent:min(len(bufs), sent+s.batchMax)]
		ms := s.msgs[:len(chunk)]
		for i, b := range chunk {
			s.iov[i][0] = b
		}
		n, err := s.fc.WriteBatch(ms, 0)
		for i := range chunk {
			s.iov[i][0] = nil // do not retain the caller's buffers
		}
		for i := 0; i < n; i++ {
			s.bytes.Add(uint64(len(chunk[i])))
		}
		s.datagrams.Add(uint64(n))
		sent += n
		switch {
		case err != nil && n == 0 && errors.Is(err, errors.ErrUnsupported):
			s.noBatch = true
		case err != nil:
			s.failed(err)
			return sent, err
		case n == 0:
			s.failed(io.ErrShortWrite)
			return sent, io.ErrShortWrite
		}
	}
	return sent, nil
}

// Stats returns the counters.
func (s *Sender) Stats() SenderStats {
	st := SenderStats{Datagrams: s.datagrams.Load(), Bytes: s.bytes.Load(), Errors: s.errs.Load()}
	if p := s.lastErr.Load(); p != nil {
		st.LastError = *p
	}
	return st
}

// Close closes the socket. Later sends fail with [net.ErrClosed].
func (s *Sender) Close() error { return s.uc.Close() }
