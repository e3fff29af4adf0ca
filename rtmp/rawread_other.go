//go:build !linux

package rtmp

import "net"

// rawReader is Linux's raw read(2) path; elsewhere the Conn reads through
// net.Conn.Read.
type rawReader struct{}

func newRawReader(net.Conn) *rawReader { return nil }

func (r *rawReader) Read([]byte) (int, error) { panic("unreachable") }
