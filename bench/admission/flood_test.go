package admission

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// honestAddr is the i-th address of honest clients other than 127.0.0.1,
// 127.20.x.y.
func honestAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 20, byte(i / 250), byte(i%250 + 1)})
}

// socketDrops reads the datagrams the kernel dropped at the UDP socket
// bound to addr (IPv4) for a full receive buffer, from /proc/net/udp.
func socketDrops(addr netip.AddrPort) int64 {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0
	}
	ip := addr.Addr().As4()
	// /proc/net/udp writes the address as a host-order (little-endian)
	// 32-bit hex number, then the port in hex.
	local := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], addr.Port())
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 12 && f[1] == local {
			v, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			return v
		}
	}
	return 0
}

// udpRcvbufErrors reads the kernel's count of UDP datagrams dropped for
// full receive buffers (all sockets of the host).
func udpRcvbufErrors() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "Udp: ") {
			continue
		}
		f := strings.Fields(line)[1:]
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				return v
			}
		}
	}
	return 0
}
