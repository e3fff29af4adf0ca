package rtmfp

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is Linux's struct mmsghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// mmsgReader receives up to maxBatch datagrams per recvmmsg system call,
// into buffers it keeps pointing at, without allocating: the sources are
// parsed from its own sockaddr array.
type mmsgReader struct {
	rc     syscall.RawConn
	hdrs   [maxBatch]mmsghdr
	iovs   [maxBatch]unix.Iovec
	names  [maxBatch]unix.RawSockaddrInet6
	n      int
	errno  syscall.Errno
	waited bool // a receive found the socket empty
	fn     func(fd uintptr) bool
	try    func(fd uintptr) bool // recv that does not wait
}

// newDatagramReader returns a recvmmsg reader for conn's socket, or nil.
func newDatagramReader(conn PacketConn) datagramReader {
	rc := rawConnOf(conn)
	if rc == nil {
		return nil
	}
	r := &mmsgReader{rc: rc}
	r.fn = r.recv
	r.try = func(fd uintptr) bool {
		r.recv(fd)
		return true
	}
	return r
}

func (r *mmsgReader) recv(fd uintptr) bool {
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), 0, 0, 0)
	if errno == unix.EAGAIN || errno == unix.EINTR {
		r.waited = true
		return false
	}
	r.n, r.errno = int(n), errno
	return true
}

// read receives datagrams into bufs (len(bufs) ≤ maxBatch): their lengths
// go to ns and their sources to froms.
func (r *mmsgReader) read(bufs [][]byte, ns []int, froms []netip.AddrPort) (int, bool, error) {
	return r.receive(bufs, ns, froms, r.fn)
}

// tryRead is read without waiting: 0 datagrams when none is queued.
func (r *mmsgReader) tryRead(bufs [][]byte, ns []int, froms []netip.AddrPort) (int, error) {
	n, _, err := r.receive(bufs, ns, froms, r.try)
	return n, err
}

func (r *mmsgReader) receive(bufs [][]byte, ns []int, froms []netip.AddrPort, fn func(uintptr) bool) (int, bool, error) {
	for i, b := range bufs {
		iov := &r.iovs[i]
		iov.Base = &b[0]
		iov.SetLen(len(b))
		h := &r.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Namelen = uint32(unsafe.Sizeof(r.names[i]))
		h.Iov = iov
		h.SetIovlen(1)
		h.Control = nil
		h.SetControllen(0)
		h.Flags = 0
	}
	r.n, r.errno, r.waited = 0, 0, false
	if err := r.rc.Read(fn); err != nil {
		return 0, r.waited, err
	}
	if r.errno != 0 {
		return 0, r.waited, r.errno
	}
	n := min(r.n, len(bufs))
	for i := range n {
		ns[i] = int(r.hdrs[i].len)
		sa := &r.names[i]
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		switch sa.Family {
		case unix.AF_INET:
			sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
			froms[i] = netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
		case unix.AF_INET6:
			a := netip.AddrFrom16(sa.Addr).Unmap()
			if sa.Scope_id != 0 && a.Is6() {
				a = a.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
			}
			froms[i] = netip.AddrPortFrom(a, port)
		default:
			froms[i] = netip.AddrPort{}
		}
	}
	return n, r.waited, nil
}
