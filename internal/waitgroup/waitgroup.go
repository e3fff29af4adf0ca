// Package waitgroup lets a shutdown wait for a sync.WaitGroup in a select,
// beside its context.
package waitgroup

import "sync"

// Done returns a channel closed once wg's counter is zero. It waits on a
// goroutine of its own, which ends then: call it once the group can only
// shrink (a server that stopped adding work).
func Done(wg *sync.WaitGroup) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}
