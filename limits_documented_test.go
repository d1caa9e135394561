package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// The edges that the docs promise, tried as written.

// A wait that would end exactly at MaxElapsed is not started; one that ends
// a nanosecond earlier is, and its attempt runs.
func TestWaitEqualToMaxElapsedIsNotStarted(t *testing.T) {
	for _, tc := range []struct {
		wait     time.Duration
		attempts int
	}{
		{time.Second, 1},
		{time.Second - time.Nanosecond, 2},
	} {
		synctest.Test(t, func(t *testing.T) {
			p := &retry.Policy{MaxAttempts: 2, MaxElapsed: time.Second, Backoff: retry.Constant{Interval: tc.wait}}
			calls := 0
			err := retry.Do(context.Background(), p, func(context.Context) error { calls++; return errTransient })
			if calls != tc.attempts {
				t.Fatalf("wait %v: %d attempts, want %d (err %v)", tc.wait, calls, tc.attempts, err)
			}
			var re *retry.Error
			if !errors.As(err, &re) || !errors.Is(err, errTransient) {
				t.Fatalf("wait %v: err = %v, want a *retry.Error reaching the attempt's error", tc.wait, err)
			}
			if wantElapsed := tc.attempts == 1; errors.Is(re.Reason, retry.ErrElapsed) != wantElapsed {
				t.Fatalf("wait %v: Reason = %v, want ErrElapsed: %v", tc.wait, re.Reason, wantElapsed)
			}
		})
	}
}

// Exponential with a Multiplier of 1 is valid and waits Base every time.
func TestExponentialMultiplierOne(t *testing.T) {
	e := retry.Exponential{Base: time.Second, Max: 10 * time.Second, Multiplier: 1}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 40; n++ {
		if d := e.Delay(n, 0, 0.5); d != time.Second {
			t.Fatalf("attempt %d: %v, want 1s", n, d)
		}
	}
	// Just below 1 is invalid; just above grows.
	if err := (retry.Exponential{Multiplier: 0.999}).Validate(); !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("Multiplier 0.999: %v, want ErrInvalid", err)
	}
	if d := (retry.Exponential{Base: time.Second, Multiplier: 1.5}).Delay(3, 0, 0); d != 2250*time.Millisecond {
		t.Errorf("Multiplier 1.5, attempt 3: %v, want 2.25s", d)
	}
}

// Spread(0) is no jitter at all; Spread(1) spans [0, 2d], capped at Max.
func TestSpreadEdges(t *testing.T) {
	zero := retry.Constant{Interval: time.Second, Jitter: retry.Spread(0)}
	for _, u := range []float64{0, 0.25, 0.5, 0.999999} {
		if d := zero.Delay(1, 0, u); d != time.Second {
			t.Errorf("Spread(0), u=%v: %v, want 1s", u, d)
		}
	}
	one := retry.Exponential{Base: time.Second, Max: 10 * time.Second, Multiplier: 1, Jitter: retry.Spread(1)}
	for _, tc := range []struct {
		u    float64
		want time.Duration
	}{{0, 0}, {0.25, 500 * time.Millisecond}, {0.5, time.Second}, {0.75, 1500 * time.Millisecond}} {
		if d := one.Delay(1, 0, tc.u); d != tc.want {
			t.Errorf("Spread(1), u=%v: %v, want %v", tc.u, d, tc.want)
		}
	}
	if d := one.Delay(1, 0, 0.999999); d < 1999*time.Millisecond || d > 2*time.Second {
		t.Errorf("Spread(1), u→1: %v, want just under 2s", d)
	}
	capped := retry.Exponential{Base: time.Second, Max: 1500 * time.Millisecond, Multiplier: 1, Jitter: retry.Spread(1)}
	if d := capped.Delay(1, 0, 0.9); d != 1500*time.Millisecond {
		t.Errorf("Spread(1) over Max: %v, want Max 1.5s", d)
	}
	for _, f := range []float64{1.0000001, -0.1} {
		if err := retry.Spread(f).Validate(); !errors.Is(err, retry.ErrInvalid) {
			t.Errorf("Spread(%v): %v, want ErrInvalid", f, err)
		}
	}
}

// The largest TokenBucket gRPC allows, with a whole token back per success:
// retries stop at exactly half, and one success reopens them.
func TestTokenBucketLargest(t *testing.T) {
	b, err := retry.NewTokenBucket(retry.TokenBucketConfig{MaxTokens: 1000, TokenRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		b.Result(true) // a full bucket stays full
	}
	if got := b.Tokens(); got != 1000 {
		t.Fatalf("Tokens = %v after successes on a full bucket, want 1000", got)
	}
	for range 499 {
		b.Result(false)
	}
	if !b.Extra() {
		t.Fatalf("Extra refused with %v tokens, want allowed above half", b.Tokens())
	}
	b.Result(false)
	if b.Extra() {
		t.Fatalf("Extra allowed with %v tokens, want refused at half", b.Tokens())
	}
	b.Result(true)
	if !b.Extra() || b.Tokens() != 501 {
		t.Fatalf("after one success: Tokens %v, Extra %v; want 501, true", b.Tokens(), b.Extra())
	}
	for range 2000 {
		b.Result(false)
	}
	if got := b.Tokens(); got != 0 {
		t.Fatalf("Tokens = %v after many failures, want 0 (never negative)", got)
	}
	if _, err := retry.NewTokenBucket(retry.TokenBucketConfig{MaxTokens: 1000.001}); !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("MaxTokens above 1000: %v, want ErrInvalid", err)
	}
}
