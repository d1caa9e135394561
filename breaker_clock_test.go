package retry_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// countingClock is a fixed clock that counts its readings, moved by hand.
type countingClock struct {
	t     time.Time
	reads atomic.Int64
}

func (c *countingClock) Now() time.Time                       { c.reads.Add(1); return c.t }
func (c *countingClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }

// A successful call through a closed breaker reads the clock only as often
// as its rules need: never for the failure run or a count window, once for
// a time window or adaptive throttling, twice for a rule on durations.
// The clock is the dearest part of such a call.
func TestBreakerClockReadsPerCall(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  retry.BreakerConfig
		want int64
	}{
		{"consecutive", retry.BreakerConfig{}, 0},
		{"ratio-calls", retry.BreakerConfig{FailureRatio: 0.5, WindowCalls: 20}, 0},
		{"adaptive-calls", retry.BreakerConfig{Adaptive: true, WindowCalls: 20}, 0},
		{"ratio-time", retry.BreakerConfig{FailureRatio: 0.5}, 1},
		{"adaptive", retry.BreakerConfig{Adaptive: true}, 1},
		{"slow", retry.BreakerConfig{SlowCallThreshold: time.Second}, 2},
		{"average-calls", retry.BreakerConfig{MaxAverageDuration: time.Second, WindowCalls: 20}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := &countingClock{t: time.Unix(1e9, 0)}
			c.cfg.Clock = clk
			b := newBreaker(t, c.cfg)
			for range 30 { // past MinCalls
				if _, err := retry.Guard(context.Background(), b, okValCall); err != nil {
					t.Fatal(err)
				}
			}
			before := clk.reads.Load()
			const n = 10
			for range n {
				retry.Guard(context.Background(), b, okValCall)
			}
			if got := (clk.reads.Load() - before) / n; got != c.want {
				t.Errorf("%d clock reads per successful call, want %d", got, c.want)
			}
		})
	}
}

// Adaptive throttling over a time window sheds calls while failures are in
// the window, none before the first failure, and none again once the
// failures have left the window: the clock-free admission of a period
// with no failure must not hide the failures that come later.
func TestAdaptiveTimeWindowThrottlesOnlyWithFailuresInWindow(t *testing.T) {
	clk := &countingClock{t: time.Unix(1e9, 0)}
	b := newBreaker(t, retry.BreakerConfig{Adaptive: true, Window: 10 * time.Second, Clock: clk,
		Rand: func() float64 { return 0 }})
	ctx := context.Background()
	fail := func(context.Context) (int, error) { return 0, errBoom }
	for range 20 {
		if _, err := retry.Guard(ctx, b, okValCall); err != nil {
			t.Fatalf("a call before any failure: %v", err)
		}
	}
	throttled := 0
	for range 100 {
		if _, err := retry.Guard(ctx, b, fail); err == retry.ErrBreakerThrottled || isThrottled(err) {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("no call shed while every recent call failed")
	}
	clk.t = clk.t.Add(11 * time.Second) // the failures leave the window
	for i := range 20 {
		if _, err := retry.Guard(ctx, b, okValCall); err != nil {
			t.Fatalf("call %d after the failures left the window: %v", i, err)
		}
	}
}

// Adaptive throttling over a count window sheds calls while failures are
// among the last calls, and none once successes have pushed them out.
func TestAdaptiveCountWindowStopsThrottlingWhenFailuresLeave(t *testing.T) {
	// Every other call draws 0, which sheds at any positive probability,
	// and the rest 0.999, which sheds almost nothing.
	var draws atomic.Int64
	rnd := func() float64 { return float64(draws.Add(1)%2) * 0.999 }
	b := newBreaker(t, retry.BreakerConfig{Adaptive: true, WindowCalls: 10, Rand: rnd})
	ctx := context.Background()
	fail := func(context.Context) (int, error) { return 0, errBoom }
	throttled := 0
	for range 30 {
		if _, err := retry.Guard(ctx, b, fail); isThrottled(err) {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("no call shed while every call failed")
	}
	passed := 0
	for range 200 {
		if _, err := retry.Guard(ctx, b, okValCall); err == nil {
			passed++
		}
	}
	if passed == 0 {
		t.Fatal("no success let through: the throttle never eased")
	}
	if s := b.Snapshot(); s.Failures != 0 {
		t.Fatalf("%d failures still in the window after the successes", s.Failures)
	}
	for i := range 20 {
		if _, err := retry.Guard(ctx, b, okValCall); err != nil {
			t.Fatalf("call %d with no failure in the window: %v", i, err)
		}
	}
}

func isThrottled(err error) bool {
	be, ok := err.(*retry.BreakerError)
	return ok && be.Reason == retry.ErrBreakerThrottled
}
