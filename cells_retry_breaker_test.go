package retry_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// Guard: "A rejection then stops the loop at once, with the *BreakerError
// as the Reason of its *Error"; Policy.WaitForProbe: an ErrBreakerOpen rejection
// waits for the next probe "instead of stopping the call". A Retryable
// written for the dependency's own errors (as the Policy doc invites)
// knows nothing of breakers: it turns the rejection into ErrNotRetryable
// and WaitForProbe never waits. Hedge's Retryable cannot do this ("whatever
// Retryable says").
func TestRetryRetryableVsRejection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second})
		call(b, nil, 0, errTransient)
		onlyTransient := func(err error) bool { return errors.Is(err, errTransient) }
		p := &retry.Policy{MaxAttempts: 3, Retryable: onlyTransient, Backoff: retry.Constant{Interval: ms}}
		_, err := retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) {
			return retry.Guard(ctx, b, func(context.Context) (int, error) { return 1, nil })
		})
		var re *retry.Error
		if !errors.As(err, &re) {
			t.Fatalf("err = %v", err)
		}
		if _, ok := re.Reason.(*retry.BreakerError); !ok {
			t.Errorf("Reason = %v (%T), want the *BreakerError", re.Reason, re.Reason)
		}
		p.WaitForProbe = true
		v, err := retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) {
			return retry.Guard(ctx, b, func(context.Context) (int, error) { return 7, nil })
		})
		if err != nil || v != 7 {
			t.Errorf("WaitForProbe: Retry = %v, %v; want 7 after waiting for the probe", v, err)
		}
	})
}

// Guard inside Hedge inside Retry with WaitForProbe, the half-open probe
// slower than the hedge delay, and failing. The hedge copy is refused with
// ErrTooManyProbes (the probe holds the slot), the probe then fails and
// reopens the breaker. Retry sees the copy's stale ErrTooManyProbes, not
// the open breaker, and stops: the call gives up while the breaker it was
// told to wait for is open with a next probe due, and its Reason hides
// the probe's failure. Retry(Guard) without the hedge waits and succeeds.
func TestNestedProbeFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second})
		call(b, nil, 0, errTransient)
		probes := 0
		fn := func(ctx context.Context) (int, error) {
			return retry.Guard(ctx, b, func(ctx context.Context) (int, error) {
				probes++
				n := probes
				select {
				case <-time.After(10 * ms):
				case <-ctx.Done():
					return 0, ctx.Err()
				}
				if n == 1 {
					return 0, errTransient
				}
				return 42, nil
			})
		}
		h := &retry.HedgePolicy{MaxAttempts: 2, Delay: 3 * ms}
		p := &retry.Policy{MaxAttempts: 5, WaitForProbe: true, Backoff: retry.Constant{Interval: ms}}
		// Control: the same, without the hedge, succeeds.
		if v, err := retry.Retry(context.Background(), p, fn); err != nil || v != 42 {
			t.Fatalf("control Retry(Guard) = %v, %v; want 42", v, err)
		}
		probes = 0
		call(b, nil, 0, errTransient) // trip it again (closed: one failure)
		start := time.Now()
		v, err := retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) {
			return retry.Hedge(ctx, h, fn)
		})
		if err != nil || v != 42 {
			t.Errorf("after %v: Retry = %v, %v (breaker %v); want 42 from the second probe", time.Since(start), v, err, b.State())
		}
	})
}

// A hedged round holds a copy refused by an open breaker and then the
// primary's own pushback of an hour: the last attempt to end was the
// primary, so with WaitForProbe the Reason is the server's request (over
// MaxAfter), never the breaker's wait dressed as pushback.
func TestWaitForProbePushbackReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second})
		var n atomic.Int32
		fn := func(ctx context.Context) (int, error) {
			if n.Add(1) == 1 {
				// the primary: slow, then the server pushes back for an hour
				select {
				case <-time.After(10 * ms):
				case <-ctx.Done():
				}
				return 0, retry.After(errTransient, time.Hour)
			}
			call(b, nil, 0, errTransient) // someone trips it meanwhile
			return retry.Guard(ctx, b, func(context.Context) (int, error) { return 1, nil })
		}
		h := &retry.HedgePolicy{MaxAttempts: 2, Delay: 3 * ms}
		p := &retry.Policy{MaxAttempts: 3, WaitForProbe: true, MaxAfter: 5 * time.Second}
		_, err := retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) {
			return retry.Hedge(ctx, h, fn)
		})
		var re *retry.Error
		if !errors.As(err, &re) {
			t.Fatalf("err = %v", err)
		}
		// The last attempt to end was the primary's: the server's own
		// request of an hour, never the breaker's wait, is the Reason.
		var pe *retry.PushbackError
		if !errors.As(re.Reason, &pe) || pe.Requested != time.Hour {
			t.Errorf("Reason = %v (%T), want the server's pushback of 1h", re.Reason, re.Reason)
		}
	})
}

// A Permanent error is never retried, even when it wraps a breaker's
// rejection that WaitForProbe would wait out.
func TestPermanentRejectionNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second})
		call(b, nil, 0, errTransient) // open
		calls := 0
		_, err := retry.Retry(context.Background(), &retry.Policy{MaxAttempts: 3, WaitForProbe: true}, func(ctx context.Context) (int, error) {
			calls++
			v, err := retry.Guard(ctx, b, func(context.Context) (int, error) { return 1, nil })
			return v, retry.Permanent(err)
		})
		if calls != 1 || !errors.Is(err, retry.ErrNotRetryable) {
			t.Fatalf("%d calls, err %v; want 1 call and ErrNotRetryable", calls, err)
		}
	})
}

// A hedged round whose copy was refused and whose primary then failed is
// retried as the failure it was, whether fn returns the round's error as
// it is or wrapped.
func TestStaleRejectionWrappedRound(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Hour})
			call(b, nil, 0, errTransient) // open for the whole test
			rounds := 0
			_, err := retry.Retry(context.Background(), &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}}, func(ctx context.Context) (int, error) {
				rounds++
				_, err := retry.Hedge(ctx, &retry.HedgePolicy{MaxAttempts: 2, Delay: 3 * ms}, func(ctx context.Context) (int, error) {
					if a, _ := retry.AttemptFrom(ctx); a.Number == 1 {
						time.Sleep(10 * ms) // the copy is refused meanwhile
						return 0, errTransient
					}
					return retry.Guard(ctx, b, func(context.Context) (int, error) { return 1, nil })
				})
				if wrap {
					err = fmt.Errorf("fetch: %w", err)
				}
				return 0, err
			})
			if rounds != 3 || !errors.Is(err, retry.ErrExhausted) {
				t.Fatalf("wrapped %v: %d rounds, err %v; want 3 and ErrExhausted", wrap, rounds, err)
			}
		})
	}
}
