//go:build !linux

package rtmp

import "net"

// rawWriter is Linux's writev(2) path; elsewhere the Conn writes through
// net.Conn.Write.
type rawWriter struct{ bufs net.Buffers }

func newRawWriter(net.Conn) *rawWriter { return nil }

func (w *rawWriter) send(net.Buffers, bool) (int, error) { panic("unreachable") }
