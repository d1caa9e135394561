package retry

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry/internal/stepclock"
)

// When a half-open breaker closed, it published the new closed word before
// the fresh stats, so a lock-free admit in between paired the new closed
// generation with the stats of the period that tripped (failure run at the
// threshold): one failure reopened the breaker at once. Every ticket of a
// closed period must carry that period's own stats.
func TestBreakerCloseNeverPairsOldStats(t *testing.T) {
	clk := stepclock.New(time.Unix(0, 0))
	b, err := NewBreaker(BreakerConfig{ConsecutiveFailures: 100, OpenDuration: time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	fail := errors.New("fail")
	var bad atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tk, err := b.admit(context.Background())
				if err != nil {
					continue
				}
				if tk.stats != nil && tk.stats.word != tk.word {
					bad.Add(1)
				}
				b.finish(context.Background(), tk, BreakerIgnored, nil)
			}
		}()
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	for i := 0; i < 3000 && bad.Load() == 0 && time.Now().Before(deadline); i++ {
		for range 100 { // trip
			if tk, err := b.admit(context.Background()); err == nil {
				b.finish(context.Background(), tk, BreakerFailure, fail)
			}
		}
		clk.Add(2 * time.Second)
		for b.State() != BreakerClosed { // probe until closed
			if tk, err := b.admit(context.Background()); err == nil {
				b.finish(context.Background(), tk, BreakerSuccess, nil)
			} else {
				clk.Add(2 * time.Second)
			}
		}
	}
	close(stop)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Fatalf("%d admissions in a closed period got the stats of another period", n)
	}
}

// lastFailure was loaded and then stored, so a failure counted in an
// earlier period after one in a later period (two racing failures, or a
// call that read the clock first and finished last) moved it back, and
// the throttle could skip a window that holds a failure.
func TestBreakerLastFailureMonotonic(t *testing.T) {
	b, err := NewBreaker(BreakerConfig{Adaptive: true, Window: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st := b.stats.Load()
	st.record(&b.s, true, 5*time.Second, 0) // period 5
	st.record(&b.s, true, 3*time.Second, 0) // period 3, counted later
	if got := st.lastFailure.Load(); got != 6 {
		t.Fatalf("lastFailure = %d after failures in periods 5 then 3, want 6", got)
	}
	// Racing failures in increasing periods end at the latest one.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range 50 {
				st.record(&b.s, true, time.Duration(6+p*8+i)*time.Second, 0)
			}
		}()
	}
	wg.Wait()
	if got, want := st.lastFailure.Load(), int64(6+49*8+7+1); got != want {
		t.Fatalf("lastFailure = %d after racing failures, want %d", got, want)
	}
}

// A time window has two stripes per processor, a power of two, at most 32.
func TestStripes(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for procs, want := range map[int]int{1: 2, 2: 4, 3: 8, 8: 16, 16: 32, 64: 32} {
		runtime.GOMAXPROCS(procs)
		if got := stripes(); got != want {
			t.Errorf("GOMAXPROCS %d: %d stripes, want %d", procs, got, want)
		}
	}
}
