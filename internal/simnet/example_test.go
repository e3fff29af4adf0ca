package simnet_test

import (
	"fmt"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
)

// Two hosts on the public internet with a 20 ms path (plus up to 5 ms of
// jitter). In a test, simnet.Pair builds the same in one line; inside a
// testing/synctest bubble the delay takes no real time.
func Example() {
	n := simnet.New(simnet.Config{Seed: 1, Link: simnet.LinkConfig{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}})
	defer n.Close()
	a, _ := n.NewHost()
	b, _ := n.NewHost()
	ca, _ := a.Listen(0)
	cb, _ := b.Listen(1935)

	ca.WriteToUDPAddrPort([]byte("hello"), cb.AddrPort())
	buf := make([]byte, 1500)
	k, from, _ := cb.ReadFromUDPAddrPort(buf)
	fmt.Printf("%s from %v\n", buf[:k], from)
	// Output: hello from 198.18.0.1:49152
}

// A client behind a symmetric NAT talks to a public server, which sees the
// NAT's address; a filter counts what the server receives.
func ExampleNetwork_AddNAT() {
	n := simnet.New(simnet.Config{})
	defer n.Close()
	srvHost, _ := n.NewHost()
	srv, _ := srvHost.Listen(1935)
	nat, _ := n.AddNAT(simnet.NATConfig{Type: simnet.Symmetric})
	clientHost, _ := nat.NewHost()
	client, _ := clientHost.Listen(5000)

	toServer := 0
	n.AddFilter(simnet.StageDeliver, func(p *simnet.Packet) simnet.Verdict {
		if p.Dst == srv.AddrPort() {
			toServer++ // filters may run concurrently; this example has one sender
		}
		return simnet.Pass
	})

	client.WriteToUDPAddrPort([]byte("hi"), srv.AddrPort())
	buf := make([]byte, 1500)
	_, from, _ := srv.ReadFromUDPAddrPort(buf)
	fmt.Println("client", client.AddrPort(), "seen as", from, "-", toServer, "datagram")
	// Output: client 192.168.1.2:5000 seen as 198.18.0.2:20000 - 1 datagram
}

// Dropping the second datagram written, whatever it is.
func ExampleNetwork_AddFilter() {
	n := simnet.New(simnet.Config{})
	defer n.Close()
	remove := n.AddFilter(simnet.StageSend, func(p *simnet.Packet) simnet.Verdict {
		if p.ID == 2 {
			return simnet.Drop
		}
		return simnet.Pass
	})
	defer remove()
	a, _ := n.NewHost()
	b, _ := n.NewHost()
	ca, _ := a.Listen(0)
	cb, _ := b.Listen(0)
	for _, m := range []string{"one", "two", "three"} {
		ca.WriteToUDPAddrPort([]byte(m), cb.AddrPort())
	}
	buf := make([]byte, 1500)
	for range 2 {
		k, _, _ := cb.ReadFromUDPAddrPort(buf)
		fmt.Println(string(buf[:k]))
	}
	fmt.Println("dropped by filter:", n.Stats().Dropped[simnet.DropFilter])
	// Output:
	// one
	// three
	// dropped by filter: 1
}
