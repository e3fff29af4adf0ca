package rtmp

import (
	"net"
	"os"
	"syscall"
	"unsafe"
)

// maxIovecs is IOV_MAX on Linux: the most pieces one writev takes.
const maxIovecs = 1024

// rawWriter writes batches with writev(2) on the connection's descriptor:
// without waiting when the socket cannot take everything (the caller keeps
// the rest), or waiting for it under the connection's write deadline.
type rawWriter struct {
	rc    syscall.RawConn
	iov   []syscall.Iovec
	bufs  net.Buffers // what is left to write
	n     int         // bytes written by the current call
	wait  bool        // wait for the socket (Write) or not (Control)
	err   error
	write func(fd uintptr) bool // w.writev, made once
	try   func(fd uintptr)
}

// newRawWriter returns a rawWriter for nc, or nil when nc has no descriptor
// to write to (net.Pipe, say): the Conn then writes through nc.Write.
func newRawWriter(nc net.Conn) *rawWriter {
	rc := rawConn(nc)
	if rc == nil {
		return nil
	}
	w := &rawWriter{rc: rc}
	w.write = w.writev
	w.try = func(fd uintptr) { w.writev(fd) }
	return w
}

// rawConn returns nc's descriptor, or nil when it has none.
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// send writes bufs, all of them when wait is set (or fails), else what the
// socket takes now. It returns the bytes written and leaves the rest in
// w.bufs.
func (w *rawWriter) send(bufs net.Buffers, wait bool) (int, error) {
	w.bufs, w.n, w.wait, w.err = bufs, 0, wait, nil
	var err error
	if wait {
		err = w.rc.Write(w.write)
	} else {
		err = w.rc.Control(w.try)
	}
	if err == nil {
		err = w.err
	}
	return w.n, err
}

// writev writes w.bufs until they are done or the socket is full; it
// reports whether the call is over (RawConn.Write waits for the socket
// and calls it again otherwise).
func (w *rawWriter) writev(fd uintptr) bool {
	for len(w.bufs) > 0 {
		iov := w.iov[:0]
		for _, b := range w.bufs[:min(len(w.bufs), maxIovecs)] {
			v := syscall.Iovec{Base: unsafe.SliceData(b)}
			v.SetLen(len(b))
			iov = append(iov, v)
		}
		w.iov = iov
		// The descriptor is non-blocking, so the call never waits: a raw
		// system call spares the scheduler's hand-off of the P (sysmon
		// retakes Ps from long system calls), which costs more than the
		// call itself on a busy fan-out.
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(unsafe.SliceData(iov))), uintptr(len(iov)))
		clear(iov) // no references to payloads between calls
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return !w.wait
		default:
			w.err = os.NewSyscallError("writev", e)
			return true
		}
		w.n += int(n)
		consume(&w.bufs, int(n))
	}
	return true
}

// consume drops the first n bytes of v.
func consume(v *net.Buffers, n int) {
	for len(*v) > 0 {
		b := (*v)[0]
		if n < len(b) {
			(*v)[0] = b[n:]
			return
		}
		n -= len(b)
		(*v)[0] = nil
		*v = (*v)[1:]
	}
}
