package cluster

// Streams shares the streams of the nodes over QUIC trunks.
type Streams struct{}

func (s *Streams) start(n *Node) error                    { return nil }
func (s *Streams) close()                                 {}
func (s *Streams) nodeGone(name string)                   {}
func (s *Streams) remoteStream(node, key string, up bool) {}
