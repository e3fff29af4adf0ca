//go:build !linux

package rtmfp

import "net/netip"

// rawSocket exists on Linux only: elsewhere every send goes through the
// poller (x/net's WriteBatch, net.UDPConn's WriteTo).
type rawSocket struct{}

type rawScratch struct{}

func newRawSocket(PacketConn, bool) *rawSocket { return nil }

func (r *rawSocket) close() {}

func (r *rawSocket) sendBatch(*outBatch, int) (int, error) { return 0, errNotRaw }

func (r *rawSocket) sendTo([]byte, netip.AddrPort) (bool, error) { return false, nil }

func isWouldBlock(error) bool { return false }
