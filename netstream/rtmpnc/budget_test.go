package rtmpnc

import (
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/rtmfpd/rtmfpd/budget"
	"github.com/rtmfpd/rtmfpd/rtmp"
)

// lockConn makes each Write whole, so that chunks written by hand never
// interleave with the rtmp package's own answers.
type lockConn struct {
	net.Conn
	mu sync.Mutex
}

func (c *lockConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.Write(p)
}

// hoarder is a connected client that leaves messages unfinished.
type hoarder struct {
	rc *rawClient
	nc *lockConn
}

func newHoarder(t *testing.T, pl *pipeListener) *hoarder {
	t.Helper()
	nc := &lockConn{Conn: pl.dial()}
	h := &hoarder{rc: newRawClient(nc), nc: nc}
	if err := h.rc.connect("live"); err != nil {
		t.Fatal(err)
	}
	if err := h.rc.c.SetChunkSize(1 << 20); err != nil {
		t.Fatal(err)
	}
	h.rc.readAll()
	return h
}

// partial starts a 16 MiB video message on chunk stream csid with one
// chunk of 1 MiB, and leaves it unfinished.
func (h *hoarder) partial(csid byte) error {
	length := 16<<20 - 1
	chunk := make([]byte, 12+1<<20)
	copy(chunk, []byte{csid, 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), 9, 1, 0, 0, 0})
	_, err := h.nc.Write(chunk)
	return err
}

// closedBy reports whether the server closed the hoarder's connection.
func (h *hoarder) closed() bool {
	select {
	case err := <-h.rc.errc:
		h.rc.errc <- err
		return true
	default:
		return false
	}
}

// TestUnfinishedBudget: a connection whose unfinished messages pass its
// budget is closed with the reason logged, and what it held goes back to
// the server's pool; a publisher and a player go on.
func TestUnfinishedBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl := newPipeListener()
		pool := budget.NewPool(0)
		ts := startServer(t, pl, Config{Memory: pool, RTMP: &rtmp.Config{MaxReassemblyBytes: 4 << 20}})
		defer ts.close(t)
		h := newHoarder(t, pl)
		for i := range 6 {
			if err := h.partial(byte(3 + i)); err != nil {
				break
			}
		}
		synctest.Wait()
		if !h.closed() {
			t.Fatal("the hoarder is still connected")
		}
		lines := ts.logs.find("rtmp connection closed", "reassembly memory limit")
		if len(lines) != 1 {
			t.Fatalf("no logged reason:\n%s", ts.logs.dump())
		}
		if st := pool.Stats(); st.Used != 0 || st.Peak > 5<<20 {
			t.Fatalf("pool %+v", st)
		}
	})
}

// TestShedLargest: when the connections together pass the server's
// budget, the one holding the most is closed first (its reason logged) and
// the others, and a publisher and player holding little, go on.
func TestShedLargest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl := newPipeListener()
		pool := budget.NewPool(7 << 20)
		ts := startServer(t, pl, Config{Memory: pool, PeerMemory: 6 << 20})
		defer ts.close(t)
		pub, pubID, player := goodPair(t, pl, "s")
		small, big := newHoarder(t, pl), newHoarder(t, pl)
		for i := range 3 {
			small.partial(byte(3 + i)) // 3 MiB
		}
		synctest.Wait()
		for i := range 5 {
			if big.partial(byte(3+i)) != nil { // 5 MiB: 8 in all
				break
			}
			synctest.Wait()
		}
		synctest.Wait()
		if !big.closed() || small.closed() {
			t.Fatalf("big closed: %v, small closed: %v\n%s", big.closed(), small.closed(), ts.logs.dump())
		}
		if lines := ts.logs.find("rtmp connection closed", "server memory budget exceeded"); len(lines) != 1 {
			t.Fatalf("no logged reason:\n%s", ts.logs.dump())
		}
		if err := pub.c.WriteMessage(pubID, frame(0, true, 1000)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		got := false
		for len(player.msgs) > 0 {
			if m := <-player.msgs; m.Type == 9 {
				got = true
			}
		}
		if !got || pool.Stats().Shed != 1 {
			t.Fatalf("player got the frame: %v; pool %+v", got, pool.Stats())
		}
		if st := pool.Stats(); st.Used > 4<<20 || !strings.Contains(ts.logs.dump(), "closed") {
			t.Fatalf("pool %+v", st)
		}
	})
}
