package retry

import (
	"runtime"
	"testing"
	"time"
)

// A call that finds its bucket being recycled by a goroutine preempted
// mid-recycle waits, without deadlock, and is counted in its period once
// the recycling ends; totals skip the bucket meanwhile.
func TestHostilePerfWindowWaitsForPreemptedRecycler(t *testing.T) {
	w := newTimeWindow(time.Second, 10, 1)
	w.add(3, false, false, 0)
	c := &w.cells[3]
	c.epoch.Store(recycling) // a recycler stopped between its CAS and its clearing
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.add(13, true, false, 0)
	}()
	for range 100 {
		runtime.Gosched()
		select {
		case <-done:
			t.Fatal("the call went on while its bucket was being recycled")
		default:
		}
	}
	if got := w.totals(13); got.calls != 0 {
		t.Fatalf("totals read a bucket being recycled: %+v", got)
	}
	c.calls.Store(0)
	c.epoch.Store(14) // the recycler finishes for period 13
	<-done
	if got := w.totals(13); got.calls != 1 || got.failures != 1 {
		t.Fatalf("totals %+v, want the waiting call counted", got)
	}
}
