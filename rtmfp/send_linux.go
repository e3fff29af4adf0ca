package rtmfp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawSocket sends on the endpoint's UDP socket with sendmmsg and sendto
// made as raw system calls, outside Go's poller.
//
// Two costs of the poller's path (x/net's WriteBatch, net.UDPConn's
// WriteTo) weigh on a server whose sends are small and frequent: every
// send locks the socket's write mutex, so the receive goroutine and a
// worker sending at the same time wake each other through a semaphore; and
// every system call made through the scheduler's entersyscall wakes the
// runtime's monitor thread when the process was idle, which then polls
// every 20 µs for a while: on a virtual machine those wake-ups cost more
// than the sends. The socket is non-blocking, so a send never waits in
// the kernel; one the socket cannot take at once (EAGAIN) goes back to the
// poller's path, which waits for room. The endpoint's close takes mu for
// writing before it closes the socket, so a raw send never reaches a
// descriptor that was closed (or reused).
type rawSocket struct {
	fd     int
	v6     bool // an AF_INET6 socket (IPv4 destinations as mapped addresses)
	mu     sync.RWMutex
	closed bool
}

// newRawSocket returns the raw sender of conn's socket, or nil when conn is
// not a UDP socket.
func newRawSocket(conn PacketConn, v6 bool) *rawSocket {
	rc := rawConnOf(conn)
	if rc == nil {
		return nil
	}
	r := &rawSocket{fd: -1, v6: v6}
	if rc.Control(func(fd uintptr) { r.fd = int(fd) }) != nil || r.fd < 0 {
		return nil
	}
	return r
}

// rawConnOf returns the raw connection of conn's socket, or nil when conn
// is not a UDP socket.
func rawConnOf(conn PacketConn) syscall.RawConn {
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return nil
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// close marks the socket closed for raw sends; the caller closes it next.
func (r *rawSocket) close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

// rawScratch is an outBatch's space for one sendmmsg.
type rawScratch struct {
	hdrs  [maxBatch]mmsghdr
	iovs  [maxBatch]unix.Iovec
	names [maxBatch]unix.RawSockaddrInet6
}

// putSockaddr writes to's socket address for this socket into sa and
// returns its length, or 0 when it cannot be sent raw (a zoned IPv6
// address: its interface index would have to be looked up).
func (r *rawSocket) putSockaddr(sa *unix.RawSockaddrInet6, to netip.AddrPort) uint32 {
	ip := to.Addr()
	port := to.Port()
	if r.v6 {
		if ip.Zone() != "" {
			return 0
		}
		*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ip.As16()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], port)
		return unix.SizeofSockaddrInet6
	}
	ip = ip.Unmap()
	if !ip.Is4() {
		return 0
	}
	sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
	*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip.As4()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:], port)
	return unix.SizeofSockaddrInet4
}

// sendBatch sends the batch's first k messages, message m being datagrams
// b.runs[m] (several cut by UDP GSO when the run is longer than one), in
// as few sendmmsg calls as the socket takes. It returns how many messages
// were sent; with fewer than k, err says why (EAGAIN: the socket is full).
func (r *rawSocket) sendBatch(b *outBatch, k int) (int, error) {
	sc := &b.raw
	for m := range k {
		i, j := b.runs[m][0], b.runs[m][1]
		h := &sc.hdrs[m].hdr
		nl := r.putSockaddr(&sc.names[m], b.to[i])
		if nl == 0 {
			return 0, errNotRaw
		}
		for x := i; x < j; x++ {
			iov := &sc.iovs[x]
			iov.Base = &b.bufs[x][0]
			iov.SetLen(len(b.bufs[x]))
		}
		h.Name = (*byte)(unsafe.Pointer(&sc.names[m]))
		h.Namelen = nl
		h.Iov = &sc.iovs[i]
		h.SetIovlen(j - i)
		h.Control = nil
		h.SetControllen(0)
		if j-i > 1 {
			oob := putGSOControl(b.oobs[m][:], len(b.bufs[i]))
			h.Control = &oob[0]
			h.SetControllen(len(oob))
		}
		h.Flags = 0
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return 0, net.ErrClosed
	}
	sent := 0
	for sent < k {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&sc.hdrs[sent])),
			uintptr(k-sent), unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return sent, errno
		}
		if n == 0 {
			return sent, unix.EAGAIN
		}
		sent += int(n)
	}
	return sent, nil
}

// sendTo sends one datagram; it reports false when it could not be sent
// raw (EAGAIN, a zoned address), and the caller sends it through the poller.
func (r *rawSocket) sendTo(p []byte, to netip.AddrPort) (sent bool, err error) {
	var sa unix.RawSockaddrInet6
	nl := r.putSockaddr(&sa, to)
	if nl == 0 || len(p) == 0 {
		return false, nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return false, net.ErrClosed
	}
	for {
		_, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(r.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
			unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&sa)), uintptr(nl))
		switch errno {
		case 0:
			return true, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false, nil
		default:
			return false, errno
		}
	}
}

// isWouldBlock reports whether a send failed because the socket was full.
func isWouldBlock(err error) bool { return err == unix.EAGAIN }
