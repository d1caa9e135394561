package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

type hedgeCtxKey struct{}

// An attempt's context, marked inside the hedged call, behaves as any
// child of the caller's: it carries the caller's values and its own
// Attempt, and the loser's, and a context made from it, end with the
// cause ErrHedgeLost once the other attempt wins.
func TestHedgeAttemptContextIsAChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent := context.WithValue(context.Background(), hedgeCtxKey{}, "caller's")
		lost := make(chan error, 1)
		p := &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond}
		v, err := retry.Hedge(parent, p, func(ctx context.Context) (int, error) {
			a, ok := retry.AttemptFrom(ctx)
			if !ok || ctx.Value(hedgeCtxKey{}) != "caller's" {
				t.Errorf("attempt %v (%v): the caller's value is %v", a, ok, ctx.Value(hedgeCtxKey{}))
			}
			if a.Number == 2 {
				if !a.Hedge {
					t.Error("attempt 2 is not marked as a hedge")
				}
				return 2, nil
			}
			child, cancel := context.WithCancel(ctx)
			defer cancel()
			<-child.Done()
			lost <- context.Cause(child)
			return 0, child.Err()
		})
		if v != 2 || err != nil {
			t.Fatalf("Hedge = %v, %v; want the hedge's 2", v, err)
		}
		if cause := <-lost; !errors.Is(cause, retry.ErrHedgeLost) {
			t.Errorf("the loser's child context ended with %v, want ErrHedgeLost", cause)
		}
	})
}
