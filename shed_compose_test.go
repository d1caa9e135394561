package retry_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/internal/stepclock"
)

// TestHedgeCopyRefusedByLimiter: in a hedged call whose copies each ask a
// limiter, a refused copy is pushback: the next copy may start only after
// the refusal's wait (1s here, so never: the first attempt wins first),
// and the first attempt keeps running.
func TestHedgeCopyRefusedByLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 1, MaxLimit: 1, RetryAfter: time.Second}))
		var attempts, started atomic.Int64
		h := &retry.HedgePolicy{MaxAttempts: 3, Delay: 10 * time.Millisecond}
		v, err := retry.Hedge(context.Background(), h, func(ctx context.Context) (string, error) {
			attempts.Add(1)
			return retry.Admit(ctx, l, func(ctx context.Context) (string, error) {
				started.Add(1)
				select {
				case <-time.After(50 * time.Millisecond):
					return "first", nil
				case <-ctx.Done():
					return "", ctx.Err()
				}
			})
		})
		if v != "first" || err != nil || started.Load() != 1 || attempts.Load() != 2 {
			t.Errorf("got %q, %v with %d attempts and %d calls started; want the first attempt's result, one copy refused and no third", v, err, attempts.Load(), started.Load())
		}
		if l.InFlight() != 0 {
			t.Errorf("%d calls in flight after the call", l.InFlight())
		}
	})
}

// TestLimiterOnClock: a Limiter with a Clock waits on it: with a clock
// whose waits end at once, a queued call times out at once, and the wait
// asked for is MaxWait.
func TestLimiterOnClock(t *testing.T) {
	clk := stepclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 1, MaxLimit: 1, MaxWaiters: 1, MaxWait: 7 * time.Second, Clock: clk}))
	held, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Done(nil)
	_, err = l.Acquire(context.Background())
	if !errors.Is(err, retry.ErrWaitTimeout) {
		t.Errorf("queued call: %v, want ErrWaitTimeout", err)
	}
	if w := clk.Waits(); len(w) != 1 || w[0] != 7*time.Second {
		t.Errorf("waits on the clock %v, want [7s]", w)
	}
	var nilClock *stepclock.Clock
	if err := (retry.LimiterConfig{Clock: nilClock}).Validate(); !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("a nil *Clock: %v, want ErrInvalid", err)
	}
}
