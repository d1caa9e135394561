package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// Every zero value is ready to use and decides as the value its
// constructor makes from the zero config (or, for a policy, as nil does):
// each pair below is run through the same sequence, and the traces of
// their decisions must match and must not be trivial.

// sameTrace fails t unless the traces match and contain every one of
// musts (so that the sequence reached the interesting decisions).
func sameTrace(t *testing.T, zero, made []string, musts ...string) {
	t.Helper()
	if !slices.Equal(zero, made) {
		i := 0
		for i < min(len(zero), len(made)) && zero[i] == made[i] {
			i++
		}
		t.Fatalf("the zero value and the constructed one part at step %d:\nzero: %v\nmade: %v",
			i, zero[i:min(i+5, len(zero))], made[i:min(i+5, len(made))])
	}
	all := strings.Join(zero, " ")
	for _, m := range musts {
		if !strings.Contains(all, m) {
			t.Fatalf("the sequence never reached %q: %v", m, all)
		}
	}
}

func TestZeroTokenBucketMatchesNew(t *testing.T) {
	run := func(b *retry.TokenBucket) []string {
		rng := rand.New(rand.NewPCG(1, 2))
		var trace []string
		for range 2000 {
			b.Result(rng.IntN(5) != 0) // a failure in five: drains it
			trace = append(trace, fmt.Sprintf("%v/%.3f", b.Extra(), b.Tokens()))
		}
		return trace
	}
	made, err := retry.NewTokenBucket(retry.TokenBucketConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var zero retry.TokenBucket
	sameTrace(t, run(&zero), run(made), "true/10.000", "false/")
}

func TestZeroRatioBudgetMatchesNew(t *testing.T) {
	// A budget's time starts at its first use, here inside the bubble.
	run := func(b *retry.RatioBudget) (trace []string) {
		synctest.Test(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			for range 3000 {
				switch rng.IntN(4) {
				case 0:
					b.First()
				case 1:
					time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
				default:
					trace = append(trace, fmt.Sprint(b.Extra()))
				}
			}
		})
		return trace
	}
	made, err := retry.NewRatioBudget(retry.RatioBudgetConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var zero retry.RatioBudget
	sameTrace(t, run(&zero), run(made), "true", "false")
}

func TestZeroBreakerMatchesNew(t *testing.T) {
	// NewBreaker reads the clock: it must run inside the bubble.
	run := func(makeBreaker func(*testing.T) *retry.Breaker) (trace []string) {
		synctest.Test(t, func(t *testing.T) {
			b := makeBreaker(t)
			rng := rand.New(rand.NewPCG(5, 6))
			for range 500 {
				var err error
				if rng.IntN(3) != 0 { // two failures in three: it trips
					err = errBoom
				}
				got := call(b, nil, 0, err)
				trace = append(trace, fmt.Sprintf("%v:%v", b.State(), errors.Is(got, retry.ErrBreakerOpen)))
				time.Sleep(time.Duration(rng.IntN(4000)) * time.Millisecond)
			}
		})
		return trace
	}
	zero := run(func(*testing.T) *retry.Breaker { return new(retry.Breaker) })
	made := run(func(t *testing.T) *retry.Breaker { return newBreaker(t, retry.BreakerConfig{}) })
	sameTrace(t, zero, made, "closed:false", "open:true", "open:false") // the last: a failed probe
}

func TestZeroLatencyTrackerMatchesNew(t *testing.T) {
	run := func(tr *retry.LatencyTracker) []string {
		rng := rand.New(rand.NewPCG(7, 8))
		var trace []string
		for i := range 3000 {
			tr.Record(time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond)))
			q, _ := tr.Quantile(0.5)
			trace = append(trace, fmt.Sprintf("%d:%v/%v", i, tr.Delay(), q))
		}
		return trace
	}
	made, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var zero retry.LatencyTracker
	sameTrace(t, run(&zero), run(made), "0:100ms/") // the fallback before the samples
}

func TestZeroPolicyMatchesNil(t *testing.T) {
	run := func(p *retry.Policy) (trace []string) {
		synctest.Test(t, func(t *testing.T) {
			for n := range 5 {
				fn, calls := failing(n, errTransient)
				err := retry.Do(context.Background(), p, fn)
				trace = append(trace, fmt.Sprintf("%d:%v", *calls, errors.Is(err, retry.ErrExhausted)))
			}
		})
		return trace
	}
	sameTrace(t, run(&retry.Policy{}), run(nil), "1:false", "3:true")
}

func TestZeroHedgePolicyMatchesNil(t *testing.T) {
	run := func(h *retry.HedgePolicy) (trace []string) {
		synctest.Test(t, func(t *testing.T) {
			var n atomic.Int32
			start := time.Now()
			v, err := retry.Hedge(context.Background(), h, func(ctx context.Context) (int32, error) {
				i := n.Add(1)
				if i == 1 { // slow: a second copy starts after the delay and wins
					select {
					case <-time.After(time.Second):
					case <-ctx.Done():
					}
				}
				return i, nil
			})
			trace = append(trace, fmt.Sprintf("%d:%v:%v:%d", v, err, time.Since(start), n.Load()))
		})
		return trace
	}
	sameTrace(t, run(&retry.HedgePolicy{}), run(nil), "2:<nil>:100ms:2")
}
