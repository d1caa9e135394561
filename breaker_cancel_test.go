package retry_test

// Outcomes that say nothing about the dependency never count as breaker
// failures: the caller's cancellation, however it shows.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/retrykit/retry"
)

// failAll is a classifier that counts every error as a failure.
func failAll(err error) retry.BreakerOutcome {
	if err != nil {
		return retry.BreakerFailure
	}
	return retry.BreakerSuccess
}

// counted reports whether b counted a failure.
func counted(b *retry.Breaker) bool {
	s := b.Snapshot()
	return s.ConsecutiveFailures != 0 || s.State != retry.BreakerClosed
}

// An error matching context.Canceled is BreakerIgnored, whatever Classify says,
// through Guard and through Allow's done.
func TestBreakerCanceledAlwaysIgnored(t *testing.T) {
	for _, classify := range map[string]func(error) retry.BreakerOutcome{"default": nil, "fail all": failAll} {
		for _, err := range []error{context.Canceled, fmt.Errorf("read: %w", context.Canceled)} {
			b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, Classify: classify})
			call(b, nil, 0, err)
			done, aerr := b.Allow()
			if aerr != nil {
				t.Fatal(aerr)
			}
			done(err)
			if counted(b) {
				t.Errorf("%v counted as a failure: %+v", err, b.Snapshot())
			}
		}
	}
}

// In Guard and GuardFallback, a failure after the call's context was
// cancelled is BreakerIgnored, whatever fn returns (here the cancellation's
// cause, which does not match context.Canceled, as net/http's HTTP/1
// transport returns it) and whatever Classify says. The fallback does not
// run: the caller gets the error.
func TestGuardFailureAfterCancelIgnored(t *testing.T) {
	errShutdown := errors.New("shutting down")
	fn := func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, fmt.Errorf("read tcp: %w", context.Cause(ctx))
	}
	for _, classify := range []func(error) retry.BreakerOutcome{nil, failAll} {
		b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, Classify: classify})
		// fn cancels the call's context, as a caller would while it runs
		// (Guard does not call fn with a context already done).
		ctx, cancel := context.WithCancelCause(context.Background())
		_, err := retry.Guard(ctx, b, func(ctx context.Context) (int, error) { cancel(errShutdown); return fn(ctx) })
		if !errors.Is(err, errShutdown) || errors.Is(err, context.Canceled) || counted(b) {
			t.Errorf("Guard: err %v, %+v; want the cause, Ignored", err, b.Snapshot())
		}
		ctx, cancel = context.WithCancelCause(context.Background())
		fellBackTo := false
		_, fb, err := retry.GuardFallback(ctx, b, func(ctx context.Context) (int, error) { cancel(errShutdown); return fn(ctx) }, func(context.Context, error) (int, error) { fellBackTo = true; return 1, nil })
		if fb || fellBackTo || !errors.Is(err, errShutdown) || counted(b) {
			t.Errorf("GuardFallback: fellBack %v, err %v, %+v; want the error as it is, Ignored", fb, err, b.Snapshot())
		}
	}
}

// A hedge loser cancelled with ErrHedgeLost, failing inside Guard, is not
// a breaker failure, even with a classifier that counts every error.
func TestGuardHedgeLoserIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, Classify: failAll})
		v, err := retry.Hedge(context.Background(), &retry.HedgePolicy{Delay: ms}, func(ctx context.Context) (int, error) {
			return retry.Guard(ctx, b, func(ctx context.Context) (int, error) {
				a, _ := retry.AttemptFrom(ctx)
				if a.Number == 2 {
					return 2, nil
				}
				<-ctx.Done()
				return 0, context.Cause(ctx) // ErrHedgeLost
			})
		})
		synctest.Wait() // the loser has reported to the breaker
		if err != nil || v != 2 || counted(b) {
			t.Fatalf("Hedge = %v, %v; breaker %+v; want the loser Ignored", v, err, b.Snapshot())
		}
	})
}

// The caller's deadline is no cancellation: a call that runs out of time
// still counts as a failure.
func TestGuardDeadlineCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1})
		ctx, cancel := context.WithTimeout(context.Background(), ms)
		defer cancel()
		_, err := retry.Guard(ctx, b, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if !errors.Is(err, context.DeadlineExceeded) || b.State() != retry.BreakerOpen {
			t.Fatalf("err %v, breaker %v; want the timeout counted (open)", err, b.State())
		}
	})
}
