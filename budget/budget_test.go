package budget

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// closer records the end of an account.
type closer struct {
	ch chan error
}

func newCloser() *closer { return &closer{ch: make(chan error, 1)} }

func (c *closer) end(err error) { c.ch <- err }

func (c *closer) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("account not closed")
		return nil
	}
}

func (c *closer) none(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.ch:
		t.Fatalf("account closed: %v", err)
	default:
	}
}

func TestPeerLimit(t *testing.T) {
	p := NewPool(0)
	c := newCloser()
	a := p.Open("peer", 100, c.end)
	if err := a.Add(100); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	err := a.Add(1)
	if !errors.Is(err, ErrPeerLimit) {
		t.Fatalf("over the limit: %v", err)
	}
	if err := c.wait(t); !errors.Is(err, ErrPeerLimit) {
		t.Fatalf("closed with %v", err)
	}
	a.Add(50) // still over: refused again, closed only once
	c.none(t)
	if st := p.Stats(); st.Used != 151 || st.OverPeer != 1 || st.Accounts != 1 || st.Peak != 151 {
		t.Fatalf("stats %+v", st)
	}
	a.Close()
	if st := p.Stats(); st.Used != 0 || st.Accounts != 0 {
		t.Fatalf("after Close: %+v", st)
	}
	a.Add(10) // after Close: ignored
	if st := p.Stats(); st.Used != 0 {
		t.Fatalf("Add after Close counted: %+v", st)
	}
}

// TestShedLargestFirst: over the pool's limit, the largest holder is
// closed, and only as many as needed; the others never notice.
func TestShedLargestFirst(t *testing.T) {
	p := NewPool(1000)
	small, mid, big := newCloser(), newCloser(), newCloser()
	as := p.Open("small", 0, small.end)
	am := p.Open("mid", 0, mid.end)
	ab := p.Open("big", 0, big.end)
	as.Add(100)
	am.Add(300)
	ab.Add(500)
	small.none(t)
	ab.Add(200) // 1100 > 1000: big (700) goes
	if err := big.wait(t); !errors.Is(err, ErrShed) {
		t.Fatalf("big closed with %v", err)
	}
	if err := ab.Add(10); !errors.Is(err, ErrShed) {
		t.Fatalf("growth of a shed account: %v", err)
	}
	if err := ab.Add(-10); err != nil {
		t.Fatalf("release by a shed account: %v", err)
	}
	as.Add(300) // 1400, but 700 are being released: 700 fit
	small.none(t)
	mid.none(t)
	if st := p.Stats(); st.Shed != 1 {
		t.Fatalf("stats %+v", st)
	}
	ab.Close()
	as.Add(650) // 1050 > 1000: the largest left is small (1050-300)
	if err := small.wait(t); !errors.Is(err, ErrShed) {
		t.Fatalf("small closed with %v", err)
	}
	mid.none(t)
}

// TestPeerCloseRelievesPool: an account closing for its own limit counts
// as being released, so the pool does not shed others for it.
func TestPeerCloseRelievesPool(t *testing.T) {
	p := NewPool(1000)
	hog, other := newCloser(), newCloser()
	ah := p.Open("hog", 800, hog.end)
	ao := p.Open("other", 0, other.end)
	ao.Add(400)
	ah.Add(900) // over its own 800: closed; 1300 in the pool, 900 leaving
	if err := hog.wait(t); !errors.Is(err, ErrPeerLimit) {
		t.Fatalf("hog closed with %v", err)
	}
	ao.Add(100)
	other.none(t)
}

func TestNil(t *testing.T) {
	var a *Account
	if err := a.Add(1 << 40); err != nil || a.Used() != 0 {
		t.Fatal("nil account counted")
	}
	a.Close()
	var p *Pool
	c := newCloser()
	b := p.Open("x", 10, c.end)
	if err := b.Add(11); !errors.Is(err, ErrPeerLimit) {
		t.Fatalf("account without a pool: %v", err)
	}
	c.wait(t)
	if p.Stats() != (Stats{}) {
		t.Fatal("nil pool has stats")
	}
}

// TestConcurrent: adds and releases from many goroutines leave the pool
// exactly at what the open accounts hold (run with -race).
func TestConcurrent(t *testing.T) {
	p := NewPool(0)
	var wg sync.WaitGroup
	accts := make([]*Account, 8)
	for i := range accts {
		accts[i] = p.Open("a", 0, func(error) {})
	}
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := accts[i%len(accts)]
			for j := range 1000 {
				a.Add(j % 7)
				a.Add(-(j % 7))
				a.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		accts[0].Close() // concurrently with its adds
	}()
	wg.Wait()
	var sum int64
	for _, a := range accts {
		sum += a.Used()
	}
	if got := p.Stats().Used; got != sum {
		t.Fatalf("pool holds %d, accounts %d", got, sum)
	}
}

func BenchmarkAdd(b *testing.B) {
	p := NewPool(1 << 40)
	a := p.Open("a", 1<<40, func(error) {})
	b.ReportAllocs()
	for b.Loop() {
		a.Add(1200)
		a.Add(-1200)
	}
}
