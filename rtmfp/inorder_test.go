package rtmfp

import (
	"context"
	"fmt"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtmfpd/rtmfpd/internal/simnet"
)

// TestReadInOrder: messages of several flows are read in the order they
// arrived, each flow's end is reported, and the window is released as
// messages are read.
func TestReadInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := simnet.Pair(t, simnet.Config{Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}})
		srv, _ := NewEndpoint(b, Config{Profile: newFlash(t), Logger: testLogger(), CloseTimeout: time.Second,
			InOrder: func(*Session) bool { return true }, RecvWindow: 64 << 10})
		cli, _ := NewEndpoint(a, Config{Profile: newFlash(t), Logger: testLogger(), CloseTimeout: time.Second})
		t.Cleanup(func() { cli.Close(); srv.Close() })
		ctx := context.Background()
		cs, ss := connectPair(t, ctx, cli, srv)
		if !ss.InOrder() || cs.InOrder() {
			t.Fatal("InOrder not applied per endpoint")
		}
		type result struct {
			got []string
			err error
		}
		done := make(chan result, 1)
		go func() {
			var r result
			for ends := 0; ends < 2; {
				f, m, err := ss.ReadInOrder(ctx)
				if f == nil {
					r.err = err
					break
				}
				if err != nil {
					if err != io.EOF {
						r.err = err
						break
					}
					ends++
					continue
				}
				r.got = append(r.got, string(m[:len(m)-1000]))
			}
			done <- r
		}()
		f1, _ := cs.OpenFlow([]byte("one"), FlowOptions{})
		f2, _ := cs.OpenFlow([]byte("two"), FlowOptions{})
		// Messages written one round trip apart arrive in the order written,
		// whichever flow carries them.
		var want []string
		for i := range 100 {
			f := f1
			if i%3 == 0 {
				f = f2
			}
			m := fmt.Sprintf("%s-%d", f.Metadata(), i)
			want = append(want, m)
			f.Write(append([]byte(m), make([]byte, 1000)...))
			time.Sleep(20 * time.Millisecond)
		}
		// Then 200 KB at once on one flow, more than the 64 KB window: it
		// only gets through if reading releases the window.
		for range 200 {
			f1.Write(append([]byte("bulk"), make([]byte, 1000)...))
		}
		f1.Close()
		f2.Close()
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		got := r.got
		if fmt.Sprint(got[:100]) != fmt.Sprint(want) {
			t.Fatalf("order differs:\n got %v\nwant %v", got[:10], want[:10])
		}
		if len(got) != 300 {
			t.Fatalf("%d messages, want 300", len(got))
		}
	})
}

// TestNotifyInOrder: a session read through NotifyInOrder and
// TryReadInOrder gets its messages in order and then its end, and is not
// signalled while idle; OnDone runs once it has ended.
func TestNotifyInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := simnet.Pair(t, simnet.Config{Link: simnet.LinkConfig{Delay: 5 * time.Millisecond}})
		srv, _ := NewEndpoint(b, Config{Profile: newFlash(t), Logger: testLogger(), CloseTimeout: time.Second,
			InOrder: func(*Session) bool { return true }})
		cli, _ := NewEndpoint(a, Config{Profile: newFlash(t), Logger: testLogger(), CloseTimeout: time.Second})
		t.Cleanup(func() { cli.Close(); srv.Close() })
		cs, ss := connectPair(t, context.Background(), cli, srv)
		kicks := make(chan struct{}, 1)
		ss.NotifyInOrder(func() {
			select {
			case kicks <- struct{}{}:
			default:
			}
		})
		ended := make(chan struct{})
		ss.OnDone(func() { close(ended) })
		var got []string
		read := func() (end bool) {
			for {
				f, m, ok, err := ss.TryReadInOrder()
				switch {
				case !ok:
					return false
				case f == nil:
					return true
				case err == nil:
					got = append(got, string(m))
				}
			}
		}
		f, _ := cs.OpenFlow([]byte("one"), FlowOptions{})
		for i := range 5 {
			f.Write([]byte(fmt.Sprint(i)))
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		select {
		case <-kicks:
		default:
			t.Fatal("no signal for the messages")
		}
		if read() {
			t.Fatal("the session ended early")
		}
		if fmt.Sprint(got) != "[0 1 2 3 4]" {
			t.Fatalf("got %v", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case <-kicks:
			t.Fatal("signalled while idle")
		default:
		}
		cs.Close()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		select {
		case <-kicks:
		default:
			t.Fatal("no signal for the end")
		}
		if !read() {
			t.Fatal("the end was not reported")
		}
		<-ended
	})
}
