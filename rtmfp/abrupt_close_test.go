package rtmfp

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
	"github.com/rtmfpd/rtmfpd/rtmfp/wire"
)

// TestAbruptCloseByFarEnd: a Session Close Acknowledgement that arrives
// while the session is open is the far end's abrupt close (RFC 7016
// §3.5.5.2). librtmfp's RTMFP_Close sends exactly this packet (flags 0x89,
// one empty 0x4C chunk, no Close Request first); the server must drop the
// session at once instead of retransmitting to a peer that is gone.
func TestAbruptCloseByFarEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cli, srv, _ := simPair(t, simnet.LinkConfig{Delay: 5 * time.Millisecond}, 11)
		ctx := context.Background()
		cs, ss := connectPair(t, ctx, cli, srv)
		sf, err := ss.OpenFlow([]byte("x"), FlowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := sf.Write([]byte("unacknowledged")); err != nil {
			t.Fatal(err)
		}

		h := wire.Header{Flags: wire.HeaderTimeCritical | wire.HeaderTimestamp | wire.ModeInitiator, Timestamp: 7}
		body := wire.CloseAck{}.Append(h.Append(nil))
		pkt := cs.Crypto().Send.Seal(make([]byte, 4), body)
		scramble(pkt, ss.ID())
		cli.write(pkt, simAddr(srv))

		select {
		case <-ss.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("session still %v 5 s after the far end's abrupt close", ss.Err())
		}
		if !errors.Is(ss.Err(), ErrFarClose) {
			t.Fatalf("session error %v, want ErrFarClose", ss.Err())
		}
		select {
		case <-sf.Done():
		case <-time.After(time.Second):
			t.Fatal("send flow not ended with its session")
		}
		if _, err := ss.OpenFlow(nil, FlowOptions{}); err == nil {
			t.Fatal("OpenFlow succeeded on a closed session")
		}
	})
}
