package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// Policy.MaxAfter: "A longer request stops the call at once with a
// *PushbackError as its Reason." With a hedged round inside the retry
// loop, a server asking for an hour is obeyed for an hour, with nothing
// running, by the hedge, before the retry loop ever sees the request.
func TestHugePushbackInsideHedgeInsideRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		fn := func(context.Context) (int, error) { calls++; return 0, retry.After(errTransient, time.Hour) }
		h := &retry.HedgePolicy{MaxAttempts: 2, Delay: ms}
		p := &retry.Policy{MaxAttempts: 3, MaxAfter: time.Second}
		start := time.Now()
		_, err := retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) { return retry.Hedge(ctx, h, fn) })
		took := time.Since(start)
		var pe *retry.PushbackError
		if !errors.As(err, &pe) {
			t.Errorf("err = %v, want a *PushbackError Reason", err)
		}
		if took > time.Second {
			t.Errorf("the call took %v (%d calls), stalled by a pushback of 1h above MaxAfter 1s; want it to stop at once", took, calls)
		}
	})
}
