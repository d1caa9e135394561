package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// An attempt with a time limit of its own runs on a context of its own,
// cancelled as fn returns, whatever it returned: its timer and goroutine
// end with it. An attempt that the caller's deadline bounds first (here the
// last one of SplitDeadline, which has no share of its own) runs on the
// caller's context.
func TestAttemptContextEndsWhenFnReturns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     *retry.Policy
		limit time.Duration // the caller's deadline, if any
		own   int           // attempts with a context of their own
	}{
		{"AttemptTimeout", &retry.Policy{MaxAttempts: 3, AttemptTimeout: time.Hour, Backoff: retry.Constant{}}, 0, 3},
		{"MaxElapsed", &retry.Policy{MaxAttempts: 3, MaxElapsed: time.Hour, Backoff: retry.Constant{}}, 0, 3},
		{"SplitDeadline", &retry.Policy{MaxAttempts: 3, SplitDeadline: true, Backoff: retry.Constant{}}, time.Hour, 2},
		{"caller first", &retry.Policy{MaxAttempts: 3, AttemptTimeout: 2 * time.Hour, Backoff: retry.Constant{}}, time.Hour, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.limit > 0 {
				ctx, cancel = context.WithTimeout(ctx, tc.limit)
			}
			defer cancel()
			var seen []context.Context
			fn, _ := failing(2, errTransient)
			err := retry.Do(ctx, p, func(ctx context.Context) error {
				seen = append(seen, ctx)
				if ctx.Err() != nil {
					t.Errorf("attempt %d's context is already done: %v", len(seen), ctx.Err())
				}
				return fn(ctx)
			})
			if err != nil || len(seen) != 3 {
				t.Fatalf("Do = %v after %d attempts, want success on the third", err, len(seen))
			}
			for i, c := range seen {
				if own := i < tc.own; own != errors.Is(c.Err(), context.Canceled) {
					t.Errorf("attempt %d's context after Do: %v; want cancelled: %v", i+1, c.Err(), own)
				}
			}
			if ctx.Err() != nil {
				t.Errorf("the caller's context was cancelled: %v", ctx.Err())
			}
		})
	}
}
