package retry_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// First attempts counted from many goroutines at once, with no lock, are
// all counted: the extras allowed are exactly Ratio times their number,
// whether the extras are asked for after them or among them.
func TestRatioBudgetConcurrentFirstsAllCounted(t *testing.T) {
	const goroutines, each = 8, 500
	for _, mixed := range []bool{false, true} {
		b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.5, MinPerSecond: retry.None, Clock: newStepClock()})
		if err != nil {
			t.Fatal(err)
		}
		var granted atomic.Int64
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range each {
					b.First()
					if mixed && b.Extra() {
						granted.Add(1)
					}
				}
			})
		}
		wg.Wait()
		for b.Extra() {
			granted.Add(1)
		}
		if want := int64(goroutines * each / 2); granted.Load() != want {
			t.Errorf("mixed=%v: %d extras granted for %d first attempts at ratio 0.5, want %d",
				mixed, granted.Load(), goroutines*each, want)
		}
	}
}

// First attempts spread over the slices of the window leave it one slice
// at a time, from many goroutines as from one.
func TestRatioBudgetConcurrentFirstsRollOut(t *testing.T) {
	clk := newStepClock()
	b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 1, MinPerSecond: retry.None, Window: 10 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 { // 40 first attempts in each of the 10 slices
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 10 {
					b.First()
				}
			})
		}
		wg.Wait()
		clk.Add(time.Second)
	}
	// The first slice has left the window: 9 slices of 40 remain.
	granted := 0
	for b.Extra() {
		granted++
	}
	if granted != 360 {
		t.Errorf("%d extras granted, want 360 (9 slices of 40 first attempts)", granted)
	}
}
