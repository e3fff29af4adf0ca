package rtmfp

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gsoControlSpace holds the control message that asks the kernel to cut a
// send into datagrams of one size (UDP_SEGMENT, Linux 4.18+), of
// gsoControlLen bytes.
const gsoControlSpace = 32

var gsoControlLen = unix.CmsgSpace(2)

// gsoAvailable reports whether the kernel segments UDP sends on conn's
// socket (UDP GSO).
func gsoAvailable(conn PacketConn) bool {
	rc := rawConnOf(conn)
	if rc == nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		_, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	}); err != nil {
		return false
	}
	return serr == nil
}

// putGSOControl writes into b (gsoControlLen bytes) the control message of
// a send cut into datagrams of size bytes, and returns it.
func putGSOControl(b []byte, size int) []byte {
	b = b[:gsoControlLen]
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(size))
	return b
}

// isGSOError reports whether a send failed because the path cannot segment
// (a device without checksum offload answers EIO).
func isGSOError(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL)
}
