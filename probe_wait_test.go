package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// With WaitForProbe, a rejection that also carries a server's After is
// refused as any pushback is, and a probe wait that would end past the
// caller's deadline is not started.
func TestRetryAroundBreakerProbeWaitRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		after  time.Duration // wraps the rejection in After, if not zero
		ctxEnd time.Duration // a deadline this far from now, if not zero
		want   func(error) bool
	}{
		{"pushback negative", -time.Second, 0, func(r error) bool { return r == retry.ErrNotRetryable }},
		{"pushback past MaxAfter", 2 * time.Minute, 0, func(r error) bool { _, ok := r.(*retry.PushbackError); return ok }},
		{"probe past deadline", 0, 5 * time.Second, func(r error) bool { return r == retry.ErrDeadline }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newStepClock()
			b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: 10 * time.Second, Clock: clk})
			ctx := context.Background()
			if tc.ctxEnd != 0 { // a deadline is real time: 5s left, against a 10s probe wait
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxEnd)
				defer cancel()
			}
			calls := 0
			p := &retry.Policy{MaxAttempts: 5, Backoff: retry.Constant{}, Clock: clk, WaitForProbe: true}
			err := retry.Do(ctx, p, func(ctx context.Context) error {
				_, err := retry.Guard(ctx, b, func(context.Context) (int, error) { calls++; return 0, errBoom })
				if _, rejected := errors.AsType[*retry.BreakerError](err); rejected && tc.after != 0 {
					return retry.After(err, tc.after)
				}
				return err
			})
			re, ok := errors.AsType[*retry.Error](err)
			if !ok {
				t.Fatalf("err = %v; want a *retry.Error", err)
			}
			if !tc.want(re.Reason) || re.Attempts != 2 || calls != 1 || len(clk.Waits()) != 0 {
				t.Fatalf("err = %v (Reason %#v) after %d calls, waits %v", err, re.Reason, calls, clk.Waits())
			}
			if !errors.Is(err, retry.ErrBreakerOpen) {
				t.Errorf("err = %v; want it to wrap the rejection", err)
			}
		})
	}
}
