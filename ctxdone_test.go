package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// A context done before the call makes no attempt, as with Hedge and
// Guard: the *Error has Attempts 0 and the context's reason, cancel cause
// included. Do and Retry used to call fn once first.
func TestRetryContextAlreadyDone(t *testing.T) {
	errWhy := errors.New("shutting down")
	canceled, cancel := context.WithCancelCause(context.Background())
	cancel(errWhy)
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	ctxs := map[string]struct {
		ctx  context.Context
		want []error
	}{
		"canceled with a cause": {canceled, []error{context.Canceled, errWhy}},
		"deadline passed":       {expired, []error{context.DeadlineExceeded}},
	}
	policies := map[string]*retry.Policy{
		"nil":    nil,
		"plain":  {MaxAttempts: 5, Backoff: retry.Constant{}},
		"budget": {Budget: &retry.TokenBucket{}, MarkAttempts: true},
	}
	for cname, c := range ctxs {
		for pname, p := range policies {
			t.Run(cname+"/"+pname, func(t *testing.T) {
				calls := 0
				check := func(api string, err error) {
					t.Helper()
					e, ok := errors.AsType[*retry.Error](err)
					if !ok || e.Attempts != 0 || e.Last != nil || calls != 0 {
						t.Fatalf("%s = %v after %d calls; want a *Error with no attempt", api, err, calls)
					}
					for _, w := range c.want {
						if !errors.Is(err, w) {
							t.Errorf("%s = %v, does not match %v", api, err, w)
						}
					}
				}
				_, err := retry.Retry(c.ctx, p, func(context.Context) (int, error) { calls++; return 1, nil })
				check("Retry", err)
				check("Do", retry.Do(c.ctx, p, func(context.Context) error { calls++; return nil }))
			})
		}
	}
	// Bad input still comes first.
	if err := retry.Do(canceled, nil, nil); !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("Do(done ctx, nil fn) = %v, want ErrInvalid", err)
	}
}
