package ipmulticast

import "syscall"

// reuseAddrControl sets SO_REUSEADDR so that several sockets (receivers of
// one group port, possibly of different groups) can bind the same port.
func reuseAddrControl(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// msgTrunc is the message flag telling that a datagram did not fit; it is
// not reported here (datagrams filling the buffer are delivered as is).
const msgTrunc = 0
