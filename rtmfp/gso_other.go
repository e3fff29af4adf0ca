//go:build !linux

package rtmfp

// gsoControlSpace is 0 where UDP GSO does not exist.
const gsoControlSpace = 0

func gsoAvailable(PacketConn) bool { return false }

func putGSOControl(b []byte, size int) []byte { return nil }

func isGSOError(error) bool { return false }
