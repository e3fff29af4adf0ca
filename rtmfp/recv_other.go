//go:build !linux

package rtmfp

// newDatagramReader returns nil where recvmmsg is not used directly: the
// endpoint reads through x/net's ReadBatch.
func newDatagramReader(PacketConn) datagramReader { return nil }
