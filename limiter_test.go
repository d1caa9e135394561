package retry_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// wave runs n calls through l at once, each taking d and returning err,
// with ctx; it returns when all have ended.
func wave(l *retry.Limiter, ctx context.Context, n int, d time.Duration, err error) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			retry.Admit(ctx, l, func(context.Context) (int, error) {
				time.Sleep(d)
				return 0, err
			})
		})
	}
	wg.Wait()
}

func TestLimiterShrinksOnDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Waves of 10 calls, far below the limit of 30: no growth.
		l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 30, Window: time.Millisecond}))
		wave(l, context.Background(), 10, 10*time.Millisecond, nil)
		wave(l, context.Background(), 10, 10*time.Millisecond, context.DeadlineExceeded)
		wave(l, context.Background(), 10, 10*time.Millisecond, nil) // ends the window of drops
		if got := l.Limit(); got != 27 {
			t.Errorf("limit after a window of timeouts: %d, want 27 (30×0.9)", got)
		}
	})
}

func TestLimiterServerPushbackIsDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 30, Window: time.Millisecond}))
		wave(l, context.Background(), 10, 10*time.Millisecond, nil)
		wave(l, context.Background(), 10, 10*time.Millisecond, retry.After(errors.New("503"), time.Second))
		wave(l, context.Background(), 10, 10*time.Millisecond, nil)
		if got := l.Limit(); got != 27 {
			t.Errorf("limit after a window of pushback: %d, want 27", got)
		}
	})
}

// TestLimiterIgnoresWhatSaysNothing: the caller's cancellation, a
// breaker's rejection and another admitter's refusal are not samples,
// however slow; ordinary errors are latency samples, not drops.
func TestLimiterIgnoresWhatSaysNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 30, Window: time.Millisecond}))
		wave(l, context.Background(), 10, 10*time.Millisecond, nil) // no-load latency 10ms
		for name, err := range map[string]error{
			"canceled":          context.Canceled,
			"breaker":           &retry.BreakerError{Reason: retry.ErrBreakerOpen},
			"shed":              retry.After(&retry.ShedError{Reason: retry.ErrLimitReached, Wait: time.Second}, time.Second),
			"cause of a cancel": errors.New("connection closed"),
		} {
			// Three windows of calls 100 times slower than no load.
			for range 3 {
				var wg sync.WaitGroup
				for range 10 {
					wg.Go(func() {
						ctx, cancel := context.WithCancel(context.Background())
						defer cancel()
						p, aerr := l.Acquire(ctx)
						if aerr != nil {
							t.Error(aerr)
							return
						}
						time.Sleep(time.Second)
						if name == "cause of a cancel" {
							cancel() // the caller gave up; the call failed for it
						}
						p.Done(err)
					})
				}
				wg.Wait()
			}
			if got := l.Limit(); got != 30 {
				t.Errorf("%s: limit %d, want 30", name, got)
			}
		}
		// An ordinary error is a latency sample, not a drop: fast calls
		// that fail leave the limit alone, slow ones shrink it.
		wave(l, context.Background(), 10, 10*time.Millisecond, errors.New("not found"))
		wave(l, context.Background(), 10, 10*time.Millisecond, errors.New("not found"))
		if got := l.Limit(); got != 30 {
			t.Errorf("fast failures: limit %d, want 30", got)
		}
		wave(l, context.Background(), 10, 30*time.Millisecond, errors.New("not found"))
		if got := l.Limit(); got != 15 {
			t.Errorf("slow failures: limit %d, want 15", got)
		}
	})
}

func TestLimiterGrowsNearLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 10, Window: time.Millisecond}))
		for range 5 {
			wave(l, context.Background(), l.Limit(), 10*time.Millisecond, nil)
		}
		if got := l.Limit(); got <= 10 {
			t.Errorf("limit %d after full waves at no-load latency, want more than 10", got)
		}
		// Far below the limit, it does not grow (the first window still
		// saw the calls in flight as the last one ended).
		for range 5 {
			wave(l, context.Background(), 2, 10*time.Millisecond, nil)
		}
		before := l.Limit()
		for range 10 {
			wave(l, context.Background(), 2, 10*time.Millisecond, nil)
		}
		if got := l.Limit(); got != before {
			t.Errorf("limit %d after waves of 2 calls, want %d", got, before)
		}
	})
}

func TestLimiterShrinksWhenCallsQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 40, Window: time.Millisecond}))
		wave(l, context.Background(), 10, 10*time.Millisecond, nil)
		// Now calls take 30ms: 3 times the no-load latency, twice the
		// tolerance: the limit halves.
		wave(l, context.Background(), 40, 30*time.Millisecond, nil)
		if got := l.Limit(); got != 20 {
			t.Errorf("limit %d, want 20", got)
		}
	})
}

// TestRetryWaitsOutRefusal: a retry loop around Admit takes a refusal as
// pushback: it waits ShedError.Wait, then tries again.
func TestRetryWaitsOutRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1, RetryAfter: 200 * time.Millisecond}))
		var wg sync.WaitGroup
		wg.Go(func() {
			retry.Admit(context.Background(), b, func(context.Context) (int, error) {
				time.Sleep(150 * time.Millisecond)
				return 0, nil
			})
		})
		synctest.Wait()
		start := time.Now()
		attempts := 0
		v, err := retry.Retry(context.Background(), &retry.Policy{MaxAttempts: 3}, func(ctx context.Context) (int, error) {
			attempts++
			return retry.Admit(ctx, b, func(context.Context) (int, error) { return 42, nil })
		})
		wg.Wait()
		if v != 42 || err != nil || attempts != 2 || time.Since(start) != 200*time.Millisecond {
			t.Errorf("got %v, %v after %d attempts and %v; want 42 after 2 attempts and 200ms", v, err, attempts, time.Since(start))
		}
		// A wait longer than MaxAfter stops the loop with a PushbackError.
		wg.Go(func() {
			retry.Admit(context.Background(), b, func(context.Context) (int, error) {
				time.Sleep(time.Second)
				return 0, nil
			})
		})
		synctest.Wait()
		_, err = retry.Retry(context.Background(), &retry.Policy{MaxAttempts: 3, MaxAfter: 100 * time.Millisecond}, func(ctx context.Context) (int, error) {
			return retry.Admit(ctx, b, func(context.Context) (int, error) { return 42, nil })
		})
		if _, ok := errors.AsType[*retry.PushbackError](err); !ok || !errors.Is(err, retry.ErrLimitReached) {
			t.Errorf("with MaxAfter below the wait: %v, want a PushbackError and the refusal", err)
		}
		wg.Wait()
	})
}

// TestLimiterProbeLearnsSlowerDependency: a dependency that became three
// times slower for good first looks overloaded, and the limit falls; the
// probe every ProbeInterval measures its no-load latency again, and the
// limit grows back. Without the probe it stays at the bottom.
func TestLimiterProbeLearnsSlowerDependency(t *testing.T) {
	for _, probe := range []time.Duration{time.Second, time.Hour} {
		synctest.Test(t, func(t *testing.T) {
			l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 20, Window: time.Millisecond, ProbeInterval: probe, MaxWaiters: 100}))
			for range 3 {
				wave(l, context.Background(), 10, 10*time.Millisecond, nil)
			}
			start := time.Now()
			least := l.Limit()
			for time.Since(start) < 5*time.Second {
				wave(l, context.Background(), max(10, l.Limit()), 30*time.Millisecond, nil)
				least = min(least, l.Limit())
			}
			switch got := l.Limit(); {
			case least > 2:
				t.Errorf("probe %v: the limit fell only to %d, want it at the bottom first", probe, least)
			case probe == time.Second && got < 10:
				t.Errorf("probe %v: limit %d after 5s, want it grown back to at least 10", probe, got)
			case probe == time.Hour && got > 2:
				t.Errorf("probe %v: limit %d, want it still at the bottom", probe, got)
			}
		})
	}
}
