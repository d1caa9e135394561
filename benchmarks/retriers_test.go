package benchmarks

import (
	"context"

	avast "github.com/avast/retry-go/v4"
	"github.com/cenkalti/backoff/v5"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/retrypolicy"

	"github.com/retrykit/retry"
)

// policy is one library's policy around a call: a retry loop or a hedge.
type policy struct {
	name string
	call func(ctx context.Context, fn func(context.Context) (int, error)) (int, error)
}

// retriers returns this library's retry loop first, then the peers',
// configured alike: at most 3 attempts, no wait between them. Each takes
// the caller's context, as a retry loop must (to stop waiting when the
// caller gives up).
func retriers() []policy {
	// The zero wait is a Constant backoff of zero; the rest are defaults.
	ours := &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}}

	// failsafe-go: "retrypolicy.NewWithDefaults creates a RetryPolicy ...
	// that allows 3 execution attempts max with no delay"; executors are
	// built once and shared ("This type is concurrency safe"), and
	// Executor.WithContext gives each call its context.
	// https://pkg.go.dev/github.com/failsafe-go/failsafe-go/retrypolicy#NewWithDefaults
	// https://pkg.go.dev/github.com/failsafe-go/failsafe-go#Executor
	fs := failsafe.With(retrypolicy.NewWithDefaults[int]())

	return []policy{
		{"retry", func(ctx context.Context, fn func(context.Context) (int, error)) (int, error) {
			return retry.Retry(ctx, ours, fn)
		}},
		// backoff v5: Retry(ctx, operation, options...) as in its
		// ExampleRetry; ZeroBackOff "retries immediately", WithMaxTries
		// "limits the number of all attempts".
		// https://pkg.go.dev/github.com/cenkalti/backoff/v5#Retry
		{"backoff", func(ctx context.Context, fn func(context.Context) (int, error)) (int, error) {
			return backoff.Retry(ctx, func() (int, error) { return fn(ctx) },
				backoff.WithBackOff(&backoff.ZeroBackOff{}), backoff.WithMaxTries(3))
		}},
		// retry-go v4: DoWithData(fn, options...) as in its synopsis;
		// Context, Attempts, Delay and DelayType(FixedDelay) for no wait
		// (its default adds up to 100ms of random jitter).
		// https://pkg.go.dev/github.com/avast/retry-go/v4
		{"retrygo", func(ctx context.Context, fn func(context.Context) (int, error)) (int, error) {
			return avast.DoWithData(func() (int, error) { return fn(ctx) },
				avast.Context(ctx), avast.Attempts(3), avast.Delay(0), avast.DelayType(avast.FixedDelay))
		}},
		{"failsafe", func(ctx context.Context, fn func(context.Context) (int, error)) (int, error) {
			return fs.WithContext(ctx).Get(func() (int, error) { return fn(ctx) })
		}},
	}
}

// bare is the call that every benchmark protects: it succeeds at once.
//
//go:noinline
func bare(context.Context) (int, error) { return 42, nil }

// failTwice returns a call that fails twice, then succeeds, over and over,
// and a pointer to the number of calls made. It is for one goroutine.
func failTwice() (func(context.Context) (int, error), *int) {
	n := new(int)
	return func(context.Context) (int, error) {
		*n++
		if *n%3 != 0 {
			return 0, errTransient
		}
		return 42, nil
	}, n
}
