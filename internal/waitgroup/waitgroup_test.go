package waitgroup

import (
	"sync"
	"testing"
	"testing/synctest"
)

func TestDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var wg sync.WaitGroup
		release := make(chan struct{})
		wg.Go(func() { <-release })
		done := Done(&wg)
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("done while the group still works")
		default:
		}
		close(release)
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("not done once the group finished")
		}
	})
}
