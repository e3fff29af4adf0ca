package netns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// rtnl is a minimal rtnetlink client: enough to set link flags and add
// routes and addresses inside the private namespace. Messages use the host
// byte order, as netlink does.
type rtnl struct {
	fd  int
	seq uint32
	buf []byte
}

func dialRTNL() (*rtnl, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &rtnl{fd: fd, buf: make([]byte, 1<<16)}, nil
}

func (c *rtnl) close() { syscall.Close(c.fd) }

// request sends one message with NLM_F_REQUEST|NLM_F_ACK added to flags and
// waits for the kernel's acknowledgement, returning its errno.
func (c *rtnl) request(typ, flags uint16, body []byte) error {
	c.seq++
	msg := make([]byte, syscall.SizeofNlMsghdr, syscall.SizeofNlMsghdr+len(body))
	msg = append(msg, body...)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:4], uint32(len(msg)))
	ne.PutUint16(msg[4:6], typ)
	ne.PutUint16(msg[6:8], flags|syscall.NLM_F_REQUEST|syscall.NLM_F_ACK)
	ne.PutUint32(msg[8:12], c.seq)
	ne.PutUint32(msg[12:16], 0)
	if err := syscall.Sendto(c.fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	for {
		n, _, err := syscall.Recvfrom(c.fd, c.buf, 0)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(c.buf[:n])
		if err != nil {
			return fmt.Errorf("netlink parse: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != c.seq || m.Header.Type != syscall.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return errors.New("netlink: short acknowledgement")
			}
			if code := int32(ne.Uint32(m.Data[:4])); code != 0 {
				return syscall.Errno(-code)
			}
			return nil
		}
	}
}

// attr appends one rtattr (length, type, value, padding to 4 bytes).
func attr(b []byte, typ uint16, val []byte) []byte {
	l := syscall.SizeofRtAttr + len(val)
	b = binary.NativeEndian.AppendUint16(b, uint16(l))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// setLinkFlags sets (or clears) the bits in change to their value in flags
// on interface index.
func (c *rtnl) setLinkFlags(index int, flags, change uint32) error {
	b := make([]byte, 0, syscall.SizeofIfInfomsg)
	b = append(b, syscall.AF_UNSPEC, 0)
	b = binary.NativeEndian.AppendUint16(b, 0)
	b = binary.NativeEndian.AppendUint32(b, uint32(int32(index)))
	b = binary.NativeEndian.AppendUint32(b, flags)
	b = binary.NativeEndian.AppendUint32(b, change)
	return c.request(syscall.RTM_NEWLINK, 0, b)
}

// route describes one route to add through the loopback device.
type route struct {
	dst   netip.Prefix
	table uint8
	typ   uint8 // RTN_*
	scope uint8 // RT_SCOPE_*
}

// addRoute adds r through interface index (0: none, for reject routes); an
// existing identical route is not an error (the setup is idempotent for
// re-entry, e.g. fuzz workers).
func (c *rtnl) addRoute(index int, r route) error {
	fam := uint8(syscall.AF_INET)
	if r.dst.Addr().Is6() {
		fam = syscall.AF_INET6
	}
	b := make([]byte, 0, 64)
	b = append(b, fam, uint8(r.dst.Bits()), 0, 0, r.table, syscall.RTPROT_STATIC, r.scope, r.typ)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = attr(b, syscall.RTA_DST, r.dst.Addr().AsSlice())
	if index != 0 {
		b = attr(b, syscall.RTA_OIF, u32(uint32(index)))
	}
	b = attr(b, syscall.RTA_TABLE, u32(uint32(r.table)))
	err := c.request(syscall.RTM_NEWROUTE, syscall.NLM_F_CREATE|syscall.NLM_F_EXCL, b)
	if errors.Is(err, syscall.EEXIST) {
		return nil
	}
	return err
}

// addAddr assigns a host address (full-length prefix, no DAD) to index.
func (c *rtnl) addAddr(index int, a netip.Addr) error {
	fam := uint8(syscall.AF_INET)
	if a.Is6() {
		fam = syscall.AF_INET6
	}
	b := make([]byte, 0, 48)
	b = append(b, fam, uint8(a.BitLen()), syscall.IFA_F_NODAD, syscall.RT_SCOPE_UNIVERSE)
	b = binary.NativeEndian.AppendUint32(b, uint32(index))
	b = attr(b, syscall.IFA_LOCAL, a.AsSlice())
	b = attr(b, syscall.IFA_ADDRESS, a.AsSlice())
	err := c.request(syscall.RTM_NEWADDR, syscall.NLM_F_CREATE|syscall.NLM_F_EXCL, b)
	if errors.Is(err, syscall.EEXIST) {
		return nil
	}
	return err
}
