package retry_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// Many goroutines through Retry(Hedge(Guard)), one TokenBucket shared by
// both policies, one breaker, one LatencyTracker feeding the hedge delay.
// Every call ends with a value or a *Error (or a *BreakerError inside
// one); the bucket stays within its bounds; the breaker's probes are all
// released at the end.
func TestStressNested(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tb retry.TokenBucket
		lt, _ := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Window: 50, Floor: ms})
		b := newBreaker(t, retry.BreakerConfig{FailureRatio: 0.5, MinCalls: 10, WindowCalls: 20, OpenDuration: 20 * ms, HalfOpenProbes: 2})
		h := &retry.HedgePolicy{MaxAttempts: 3, Latency: lt, Budget: &tb}
		p := &retry.Policy{MaxAttempts: 4, Budget: &tb, WaitForProbe: true, Backoff: retry.Constant{Interval: ms}, MarkAttempts: true}
		var wg sync.WaitGroup
		for g := range 40 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 1))
				var mu sync.Mutex
				for range 30 {
					fn := func(ctx context.Context) (int, error) {
						return retry.Guard(ctx, b, func(ctx context.Context) (int, error) {
							mu.Lock()
							d := time.Duration(r.IntN(8)) * ms
							x := r.IntN(10)
							mu.Unlock()
							select {
							case <-time.After(d):
							case <-ctx.Done():
								return 0, context.Cause(ctx)
							}
							switch x {
							case 0, 1, 2:
								return 0, errTransient
							case 3:
								return 0, retry.After(errTransient, 2*ms)
							case 4:
								return 0, retry.StopHedging(errTransient)
							}
							return 1, nil
						})
					}
					v, err := retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) { return retry.Hedge(ctx, h, fn) })
					var re *retry.Error
					if err == nil && v != 1 || err != nil && !errors.As(err, &re) {
						t.Errorf("Retry = %v, %v", v, err)
					}
				}
			})
		}
		wg.Wait()
		time.Sleep(time.Second)
		if tok := tb.Tokens(); tok < 0 || tok > 10 {
			t.Errorf("tokens %v", tok)
		}
		if s := b.Snapshot(); s.Probes != 0 {
			t.Errorf("%d probes in flight after every call ended", s.Probes)
		}
	})
}
