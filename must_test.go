package retry_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// mustPanic returns what f panicked with, or fails the test if it did not.
func mustPanic(t *testing.T, f func()) (v any) {
	t.Helper()
	defer func() { v = recover() }()
	f()
	t.Fatal("no panic")
	return nil
}

func TestMust(t *testing.T) {
	p := &retry.Policy{MaxAttempts: 5}
	if got := retry.Must(p); got != p {
		t.Errorf("Must(p) = %p, want p = %p", got, p)
	}
	h := &retry.HedgePolicy{Delay: time.Second}
	if got := retry.Must(h); got != h {
		t.Errorf("Must(h) = %p, want h = %p", got, h)
	}
	if got := retry.Must((*retry.Policy)(nil)); got != nil {
		t.Errorf("Must(nil) = %v, want nil", got)
	}
	if got := retry.Must(retry.LatencyTrackerConfig{}); got != (retry.LatencyTrackerConfig{}) {
		t.Errorf("Must(LatencyTrackerConfig{}) = %+v", got)
	}
	for name, f := range map[string]func(){
		"policy":         func() { retry.Must(&retry.Policy{MaxAttempts: -2}) },
		"policy backoff": func() { retry.Must(&retry.Policy{Backoff: retry.Exponential{Multiplier: 0.5}}) },
		"hedge policy":   func() { retry.Must(&retry.HedgePolicy{Delay: -time.Second}) },
		"backoff":        func() { retry.Must(retry.Constant{Interval: -time.Second}) },
		"latency config": func() { retry.Must(retry.LatencyTrackerConfig{Quantile: 2}) },
	} {
		t.Run(name, func(t *testing.T) {
			v := mustPanic(t, f)
			if err, ok := v.(error); !ok || !errors.Is(err, retry.ErrInvalid) {
				t.Errorf("panicked with %v, want an error wrapping ErrInvalid", v)
			}
		})
	}
}

// Must fails at program start on a policy that would fail each call.
func ExampleMust() {
	defer func() { fmt.Println("panic:", recover()) }()
	policy := retry.Must(&retry.Policy{MaxAttempts: 5, Backoff: retry.Exponential{Base: time.Second, Max: time.Millisecond}})
	fmt.Println("not reached", policy)
	// Output: panic: retry: invalid argument: Exponential.Base (1s) is above Max (1ms)
}
