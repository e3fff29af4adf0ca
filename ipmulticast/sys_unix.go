//go:build unix

package ipmulticast

import "syscall"

// reuseAddrControl sets SO_REUSEADDR so that several sockets (receivers of
// one group port, possibly of different groups) can bind the same port.
func reuseAddrControl(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// msgTrunc is the message flag telling that a datagram did not fit.
const msgTrunc = syscall.MSG_TRUNC
