package retry_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// WaitForProbe with a Budget: the call's first attempt is refused by the
// open breaker (nothing sent), the loop waits for the probe, and the
// attempt it then makes takes the refused one's place: no Extra is asked,
// so a budget with no room for retries (as when a dependency has been
// failing) does not end a call that never sent anything.
func TestWaitForProbeChargesBudget(t *testing.T) {
	for _, kind := range []string{"token", "ratio"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second})
				call(b, nil, 0, errTransient) // open
				var budget retry.Budget
				switch kind {
				case "token":
					tb := &retry.TokenBucket{}
					for range 6 {
						tb.Result(false) // the failures that came with the breaker's opening
					}
					budget = tb
				case "ratio":
					rb, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.1, MinPerSecond: retry.None})
					if err != nil {
						t.Fatal(err)
					}
					budget = rb
				}
				p := &retry.Policy{MaxAttempts: 3, WaitForProbe: true, Budget: budget}
				var sent atomic.Int32
				v, err := retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) {
					return retry.Guard(ctx, b, func(context.Context) (int, error) { sent.Add(1); return 7, nil })
				})
				if err != nil {
					t.Fatalf("nothing sent (%d), yet: %v (Budget asked for an Extra for the first attempt actually made)", sent.Load(), err)
				}
				if v != 7 {
					t.Fatal(v)
				}
			})
		})
	}
}
