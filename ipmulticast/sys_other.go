//go:build !unix && !windows

package ipmulticast

import "syscall"

// reuseAddrControl does nothing where address reuse is unavailable.
func reuseAddrControl(network, address string, c syscall.RawConn) error { return nil }

// msgTrunc is the message flag telling that a datagram did not fit; it is
// not reported here (datagrams filling the buffer are delivered as is).
const msgTrunc = 0
