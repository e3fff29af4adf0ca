package rtmp

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawReader reads with read(2) on the connection's non-blocking descriptor
// as a raw system call, waiting for data through the runtime's poller as
// net.Conn.Read does (and under the same deadlines).
//
// The point is the Go scheduler: a system call made through syscall.Read
// enters the runtime's syscall state, and the first one after the process
// was idle wakes sysmon, which then polls every 20 µs for as long as any
// goroutine runs. On a host where a context switch is expensive (a
// paravirtualized guest) those wake-ups cost more than the reads: a fan-out
// whose publisher's reader wakes a few dozen times a second spent most of
// its context switches in sysmon. A read of a non-blocking descriptor never
// blocks, so it needs none of that (see rawWriter.writev).
type rawReader struct {
	nc   net.Conn
	rc   syscall.RawConn
	p    []byte
	n    int
	err  error
	read func(fd uintptr) bool // r.readOnce, made once
}

// newRawReader returns a rawReader for nc, or nil when nc has no descriptor
// to read from (net.Pipe, say): the Conn then reads through nc.Read.
func newRawReader(nc net.Conn) *rawReader {
	rc := rawConn(nc)
	if rc == nil {
		return nil
	}
	r := &rawReader{nc: nc, rc: rc}
	r.read = r.readOnce
	return r
}

// Read reads into p as net.Conn.Read does: it waits until some bytes
// arrive, the peer closes (io.EOF), or the read deadline passes.
func (r *rawReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.err = p, 0, nil
	err := r.rc.Read(r.read)
	r.p = nil
	if err == nil {
		err = r.err
	}
	if err != nil {
		return r.n, r.opError(err)
	}
	if r.n == 0 {
		return 0, io.EOF
	}
	return r.n, nil
}

// readOnce makes one read(2); it reports false when the socket has nothing
// yet (RawConn.Read then waits for it and calls again).
func (r *rawReader) readOnce(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(r.p))), uintptr(len(r.p)))
		switch e {
		case 0:
			r.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			r.err = os.NewSyscallError("read", e)
			return true
		}
	}
}

// opError gives err the form net.Conn.Read gives its errors.
func (r *rawReader) opError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err // RawConn's "raw-read"
	}
	return &net.OpError{Op: "read", Net: r.nc.LocalAddr().Network(), Source: r.nc.LocalAddr(), Addr: r.nc.RemoteAddr(), Err: err}
}
