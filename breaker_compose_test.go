package retry_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// Retry outside the breaker, every default: a rejection by an open
// breaker stops the loop at once, with the rejection as its Reason, rather
// than block the caller until the next probe (30s later).
func TestRetryAroundBreakerFailsFastByDefault(t *testing.T) {
	clk := newStepClock() // any wait would show in its Waits
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 2, Clock: clk})
	calls := 0
	fn := func(context.Context) (string, error) { calls++; return "", errBoom }
	p := &retry.Policy{MaxAttempts: 5, Backoff: retry.Constant{}, Clock: clk}
	_, err := retry.Retry(context.Background(), p, func(ctx context.Context) (string, error) {
		return retry.Guard(ctx, b, fn)
	})
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != 3 || calls != 2 {
		t.Fatalf("err = %v after %d calls; want a *Error after 3 attempts, 2 calls", err, calls)
	}
	rej, ok := re.Reason.(*retry.BreakerError)
	if !ok || rej.Reason != retry.ErrBreakerOpen || !errors.Is(err, retry.ErrBreakerOpen) {
		t.Errorf("Reason = %#v, want the *BreakerError for ErrBreakerOpen", re.Reason)
	}
	if _, ok := errors.AsType[*retry.PushbackError](err); ok {
		t.Errorf("the breaker's wait reported as server pushback: %v", err)
	}
	if w := clk.Waits(); len(w) != 0 {
		t.Errorf("waited %v; want no wait (the zero backoffs do not sleep)", w)
	}
}

// With Policy.WaitForProbe, an open breaker's rejection makes the retry
// loop wait until the next probe may start, not spin.
func TestRetryAroundBreakerWaitsForProbe(t *testing.T) {
	clk := newStepClock() // its waits end at once and move its time
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 2, OpenDuration: 10 * time.Second, Clock: clk})
	calls := 0
	fn := func(context.Context) (string, error) {
		calls++
		if calls <= 2 {
			return "", errBoom
		}
		return "ok", nil
	}
	p := &retry.Policy{MaxAttempts: 5, Backoff: retry.Constant{}, Clock: clk, WaitForProbe: true}
	v, err := retry.Retry(context.Background(), p, func(ctx context.Context) (string, error) {
		return retry.Guard(ctx, b, fn)
	})
	if v != "ok" || err != nil {
		t.Fatalf("got %q, %v", v, err)
	}
	// Two failures trip it; the third attempt is rejected and waits exactly
	// the open time; the fourth is the probe.
	if calls != 3 || !slices.Equal(clk.Waits(), []time.Duration{10 * time.Second}) {
		t.Errorf("%d calls, waits %v", calls, clk.Waits())
	}
}

// An open time longer than MaxAfter stops the loop at once, with the
// rejection as the Reason: it is the breaker's wait, not the server's.
func TestRetryAroundBreakerStopsOnLongOpen(t *testing.T) {
	clk := newStepClock()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Hour, Clock: clk})
	calls := 0
	p := &retry.Policy{MaxAttempts: 100, Backoff: retry.Constant{}, Clock: clk, WaitForProbe: true}
	err := retry.Do(context.Background(), p, func(ctx context.Context) error {
		_, err := retry.Guard(ctx, b, func(context.Context) (int, error) { calls++; return 0, errBoom })
		return err
	})
	var re *retry.Error
	if !errors.As(err, &re) || !errors.Is(re.Reason, retry.ErrBreakerOpen) || calls != 1 {
		t.Fatalf("err = %v after %d calls", err, calls)
	}
	if _, ok := re.Reason.(*retry.BreakerError); !ok {
		t.Errorf("Reason = %#v, want the *BreakerError", re.Reason)
	}
	if _, ok := errors.AsType[*retry.PushbackError](err); ok {
		t.Errorf("the breaker's wait reported as server pushback: %v", err)
	}
	if re.Attempts != 2 || len(clk.Waits()) != 0 {
		t.Errorf("attempts %d, waits %v", re.Attempts, clk.Waits())
	}
}

// Half-open overflow and throttling stop the retry loop at once, with or
// without WaitForProbe.
func TestRetryAroundBreakerOtherRejectionsStop(t *testing.T) {
	for _, wait := range []bool{false, true} {
		clk := newStepClock()
		b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk})
		call(b, nil, 0, errBoom)
		clk.After(time.Second)
		done, err := b.Allow() // holds the only probe slot
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		err = retry.Do(context.Background(), &retry.Policy{MaxAttempts: 100, Clock: clk, WaitForProbe: wait}, func(ctx context.Context) error {
			calls++
			_, err := retry.Guard(ctx, b, func(context.Context) (int, error) { return 0, nil })
			return err
		})
		done(nil)
		var re *retry.Error
		if !errors.As(err, &re) || !errors.Is(re.Reason, retry.ErrTooManyProbes) || calls != 1 {
			t.Fatalf("WaitForProbe %v: err = %v after %d attempts", wait, err, calls)
		}

		thr := newBreaker(t, retry.BreakerConfig{Adaptive: true, WindowCalls: 10, Rand: func() float64 { return 0 }})
		for range 10 {
			call(thr, nil, 0, errBoom)
		}
		calls = 0
		err = retry.Do(context.Background(), &retry.Policy{MaxAttempts: 100, Clock: clk, WaitForProbe: wait}, func(ctx context.Context) error {
			calls++
			_, err := retry.Guard(ctx, thr, func(context.Context) (int, error) { return 0, nil })
			return err
		})
		if !errors.As(err, &re) || !errors.Is(re.Reason, retry.ErrBreakerThrottled) || calls != 1 {
			t.Fatalf("WaitForProbe %v: err = %v after %d attempts", wait, err, calls)
		}
	}
}

// A hedged round whose copy was rejected fails with the rejection among
// its joined errors; the retry loop around it finds it there and stops.
func TestRetryAroundHedgedRoundStopsOnRejection(t *testing.T) {
	clk := newStepClock()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Hour, Clock: clk})
	call(b, nil, 0, errBoom) // open
	rounds := 0
	err := retry.Do(context.Background(), &retry.Policy{MaxAttempts: 5, Clock: clk}, func(ctx context.Context) error {
		rounds++
		_, err := retry.Hedge(ctx, nil, func(ctx context.Context) (int, error) {
			return retry.Guard(ctx, b, func(context.Context) (int, error) { return 1, nil })
		})
		return err
	})
	var re *retry.Error
	if !errors.As(err, &re) || !errors.Is(re.Reason, retry.ErrBreakerOpen) || rounds != 1 {
		t.Fatalf("err = %v after %d rounds", err, rounds)
	}
	if _, ok := re.Reason.(*retry.BreakerError); !ok {
		t.Errorf("Reason = %#v, want the *BreakerError", re.Reason)
	}
}

// Adaptive throttling sheds with probability
// max(0, (requests − K·accepts) / (requests + 1)), and its own rejections
// do not count (go-zero counted them as failures, which fed the rejection
// rate back into itself).
func TestAdaptiveThrottle(t *testing.T) {
	var r atomic.Uint64 // the next random number, as float64 bits
	rnd := func() float64 { return float64frombits(r.Load()) }
	setRand := func(f float64) { r.Store(float64bits(f)) }
	b := newBreaker(t, retry.BreakerConfig{Adaptive: true, WindowCalls: 10, Rand: rnd})
	setRand(0.99) // above any p of a 10-call window: nothing is shed
	for range 6 { // 6 successes, then 4 failures: p = (10 - 2·6)/11 < 0
		call(b, nil, 0, nil)
	}
	for range 4 {
		if err := call(b, nil, 0, errBoom); err != errBoom {
			t.Fatalf("shed while healthy: %v", err)
		}
	}
	if s := b.Snapshot(); s.State != retry.BreakerClosed || s.Calls != 10 || s.Failures != 4 {
		t.Fatalf("snapshot %+v", s)
	}
	for range 3 { // now 3 successes and 7 failures in the last 10: p = (10 - 6)/11 = 0.3636
		call(b, nil, 0, errBoom)
	}
	setRand(0.36)
	if err := call(b, nil, 0, errBoom); !errors.Is(err, retry.ErrBreakerThrottled) {
		t.Fatalf("r = 0.36 < p: err = %v", err)
	}
	setRand(0.37)
	for range 1000 { // rejected calls must not count: p stays put
		setRand(0)
		call(b, nil, 0, nil)
	}
	setRand(0.37)
	if s := b.Snapshot(); s.Calls != 10 || s.Failures != 7 || s.Rejected != 1001 {
		t.Fatalf("rejections fed back into the statistics: %+v", s)
	}
	if err := call(b, nil, 0, nil); err != nil {
		t.Fatalf("r = 0.37 > p: err = %v", err)
	}

	// K = 3 tolerates more failures: 10 - 3·3 < 10 - 2·3.
	k3 := newBreaker(t, retry.BreakerConfig{Adaptive: true, AdaptiveK: 3, WindowCalls: 10, Rand: func() float64 { return 0 }})
	for i := range 10 {
		err := errBoom
		if i < 4 {
			err = nil
		}
		call(k3, nil, 0, err)
	}
	if err := call(k3, nil, 0, nil); err != nil {
		t.Fatalf("K=3, 4 accepts of 10: p = (10-12)/11 < 0, but %v", err)
	}
}

// Adaptive throttling on a time window skips its arithmetic when no call
// failed in the window, and sheds again once failures are in it.
func TestAdaptiveThrottleTimeWindow(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{Adaptive: true, Window: 10 * time.Second, Clock: clk,
		Rand: func() float64 { return 0 }})
	call(b, nil, 0, errBoom) // p = 1/2
	if err := call(b, nil, 0, nil); !errors.Is(err, retry.ErrBreakerThrottled) {
		t.Fatalf("err = %v", err)
	}
	clk.Add(10 * time.Second) // the failure leaves the window
	if err := call(b, nil, 0, nil); err != nil {
		t.Fatalf("err = %v", err)
	}
}

// Fifty goroutines share one breaker through every state; -race checks the
// memory accesses, and the hook checks that changes arrive as a chain.
func TestBreakerConcurrent(t *testing.T) {
	configs := map[string]retry.BreakerConfig{
		"consecutive": {ConsecutiveFailures: 3},
		"time window": {FailureRatio: 0.3, MinCalls: 5, SlowCallThreshold: 5 * time.Millisecond,
			MaxAverageDuration: 10 * time.Millisecond, Window: 100 * time.Millisecond},
		"count window": {FailureRatio: 0.3, WindowCalls: 20, SlowCallThreshold: 5 * time.Millisecond},
		"adaptive":     {Adaptive: true, ConsecutiveFailures: 4},
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			clk := newManualClock()
			var mu sync.Mutex
			last, changes := retry.BreakerClosed, 0
			cfg.Clock, cfg.OpenDuration, cfg.HalfOpenProbes = clk, 20*time.Millisecond, 3
			var b *retry.Breaker
			cfg.Hooks = changeHooks(func(from, to retry.BreakerState) {
				mu.Lock()
				defer mu.Unlock()
				if from != last || from == to {
					t.Errorf("change %v>%v after %v", from, to, last)
				}
				last = to
				changes++
				b.State()
			})
			b = newBreaker(t, cfg)
			var wg sync.WaitGroup
			for g := range 50 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(g), 1))
					for range 400 {
						if g == 0 {
							clk.Add(time.Millisecond)
						}
						var err error
						switch rng.IntN(4) {
						case 0:
							err = errBoom
						case 1:
							err = context.Canceled
						}
						if rng.IntN(2) == 0 {
							call(b, clk, 0, err)
						} else if done, aerr := b.Allow(); aerr == nil {
							done(err)
						}
						if s := b.Snapshot(); s.Probes > 3 || s.Calls < 0 || s.Failures < 0 || s.Failures > s.Calls ||
							s.ConsecutiveFailures < 0 {
							t.Errorf("snapshot %+v", s)
						}
					}
				})
			}
			wg.Wait()
			if changes == 0 {
				t.Error("the breaker never changed state")
			}
		})
	}
}

func float64bits(f float64) uint64     { return math.Float64bits(f) }
func float64frombits(b uint64) float64 { return math.Float64frombits(b) }
