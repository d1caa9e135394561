package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

var errCellCause = errors.New("cell: caller's cause")

// errors.Is must reach context.Canceled and the cause, through every path.
func TestCausesEverywhere(t *testing.T) {
	hang := func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }
	hangCause := func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, context.Cause(ctx) }
	fail := func(ctx context.Context) (int, error) { return 0, errTransient }
	paths := map[string]func(ctx context.Context) (int, error){
		"Retry attempt":       func(ctx context.Context) (int, error) { return retry.Retry(ctx, nil, hang) },
		"Retry attempt cause": func(ctx context.Context) (int, error) { return retry.Retry(ctx, nil, hangCause) },
		"Retry wait": func(ctx context.Context) (int, error) {
			return retry.Retry(ctx, &retry.Policy{Backoff: retry.Constant{Interval: time.Hour}}, fail)
		},
		"Retry attempt timeout": func(ctx context.Context) (int, error) {
			return retry.Retry(ctx, &retry.Policy{AttemptTimeout: time.Hour, MarkAttempts: true}, hang)
		},
		"Hedge": func(ctx context.Context) (int, error) {
			return retry.Hedge(ctx, &retry.HedgePolicy{MaxAttempts: 3, Delay: ms}, hang)
		},
		"Hedge cause": func(ctx context.Context) (int, error) {
			return retry.Hedge(ctx, &retry.HedgePolicy{MaxAttempts: 3, Delay: ms}, hangCause)
		},
		"Hedge pushback wait": func(ctx context.Context) (int, error) {
			return retry.Hedge(ctx, &retry.HedgePolicy{MaxAttempts: 3, Delay: ms}, func(context.Context) (int, error) { return 0, retry.After(errTransient, 30*time.Second) })
		},
		"Retry(Hedge)": func(ctx context.Context) (int, error) {
			return retry.Retry(ctx, &retry.Policy{WaitForProbe: true}, func(ctx context.Context) (int, error) {
				return retry.Hedge(ctx, &retry.HedgePolicy{MaxAttempts: 3, Delay: ms}, hangCause)
			})
		},
		"Retry(Hedge(Guard))": func(ctx context.Context) (int, error) {
			b, _ := retry.NewBreaker(retry.BreakerConfig{})
			return retry.Retry(ctx, nil, func(ctx context.Context) (int, error) {
				return retry.Hedge(ctx, &retry.HedgePolicy{MaxAttempts: 3, Delay: ms}, func(ctx context.Context) (int, error) { return retry.Guard(ctx, b, hangCause) })
			})
		},
	}
	for name, f := range paths {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancelCause(context.Background())
				go func() { time.Sleep(10 * ms); cancel(errCellCause) }()
				_, err := f(ctx)
				if !errors.Is(err, context.Canceled) || !errors.Is(err, errCellCause) {
					t.Errorf("err = %v; errors.Is Canceled %v, cause %v", err, errors.Is(err, context.Canceled), errors.Is(err, errCellCause))
				}
				var re *retry.Error
				if errors.As(err, &re) && re.Attempts == 0 {
					t.Errorf("Attempts 0 after attempts ran: %v", err)
				}
			})
		})
	}
}
