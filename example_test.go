package retry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/retrykit/retry"
)

// Do with the defaults: three attempts, exponential backoff, full jitter.
func ExampleDo() {
	attempts := 0
	err := retry.Do(context.Background(), &retry.Policy{Backoff: retry.Constant{Interval: time.Millisecond}}, func(ctx context.Context) error {
		attempts++
		if attempts < 3 {
			return errors.New("connection reset")
		}
		return nil
	})
	fmt.Println(attempts, err)
	// Output: 3 <nil>
}

// Retry returns the call's value; the policy is built once and shared.
func ExampleRetry() {
	policy := &retry.Policy{
		MaxAttempts: 5,
		Backoff:     retry.Exponential{Base: time.Millisecond, Max: 10 * time.Millisecond, Jitter: retry.FullJitter},
	}
	attempts := 0
	user, err := retry.Retry(context.Background(), policy, func(ctx context.Context) (string, error) {
		attempts++
		if attempts == 1 {
			return "", errors.New("503 Service Unavailable")
		}
		return "gopher", nil
	})
	fmt.Println(user, err, attempts)
	// Output: gopher <nil> 2
}

// When the call gives up, the error says why and after how many attempts,
// and still matches the last attempt's error.
func ExampleError() {
	errDown := errors.New("backend down")
	err := retry.Do(context.Background(), &retry.Policy{MaxAttempts: 2, Backoff: retry.Constant{}}, func(context.Context) error { return errDown })
	var re *retry.Error
	fmt.Println(err)
	fmt.Println(errors.Is(err, errDown), errors.Is(err, retry.ErrExhausted), errors.As(err, &re) && re.Attempts == 2)
	// Output:
	// retry: gave up after 2 attempts (attempts exhausted): backend down
	// true true true
}

// Permanent stops retrying at once; errors.Is still finds the cause.
func ExamplePermanent() {
	errNotFound := errors.New("not found")
	attempts := 0
	err := retry.Do(context.Background(), nil, func(context.Context) error {
		attempts++
		return retry.Permanent(errNotFound)
	})
	fmt.Println(attempts, errors.Is(err, errNotFound), errors.Is(err, retry.ErrNotRetryable))
	// Output: 1 true true
}

// After carries a server-requested wait, such as Retry-After, that replaces
// the backoff for one wait.
func ExampleAfter() {
	attempts := 0
	err := retry.Do(context.Background(), &retry.Policy{
		Hooks: &retry.Hooks{OnRetry: func(_ context.Context, e retry.RetryEvent) { fmt.Println("server asked for", e.Delay) }},
	}, func(context.Context) error {
		attempts++
		if attempts == 1 {
			return retry.After(errors.New("429 Too Many Requests"), time.Millisecond)
		}
		return nil
	})
	fmt.Println(attempts, err)
	// Output:
	// server asked for 1ms
	// 2 <nil>
}

// printWaits prints the waits a backoff chooses before the first retries,
// with a fixed random draw u.
func printWaits(b retry.Backoff, u float64) {
	var prev time.Duration
	var waits []string
	for attempt := 1; attempt <= 5; attempt++ {
		prev = b.Delay(attempt, prev, u)
		waits = append(waits, prev.String())
	}
	fmt.Println(strings.Join(waits, " "))
}

func ExampleConstant() {
	printWaits(retry.Constant{Interval: time.Second}, 0.5)
	// Output: 1s 1s 1s 1s 1s
}

func ExampleLinear() {
	printWaits(retry.Linear{Step: time.Second, Max: 4 * time.Second}, 0.5)
	// ±20% jitter around each step.
	printWaits(retry.Linear{Step: time.Second, Max: 4 * time.Second, Jitter: retry.Spread(0.2)}, 0)
	// Output:
	// 1s 2s 3s 4s 4s
	// 800ms 1.6s 2.4s 3.2s 3.2s
}

func ExampleExponential() {
	printWaits(retry.Exponential{Base: 100 * time.Millisecond, Max: time.Second}, 0.5)
	printWaits(retry.Exponential{Base: 100 * time.Millisecond, Max: time.Second, Jitter: retry.FullJitter}, 0.5)
	printWaits(retry.Exponential{Base: 100 * time.Millisecond, Max: time.Second, Jitter: retry.EqualJitter}, 0.5)
	// Output:
	// 100ms 200ms 400ms 800ms 1s
	// 50ms 100ms 200ms 400ms 500ms
	// 75ms 150ms 300ms 600ms 750ms
}

func ExampleDecorrelatedJitter() {
	printWaits(retry.DecorrelatedJitter{Base: 100 * time.Millisecond, Max: 2 * time.Second}, 0.5)
	// Output: 200ms 350ms 575ms 912.5ms 1.05s
}

func ExampleSpread() {
	b := retry.Constant{Interval: time.Second, Jitter: retry.Spread(0.1)}
	fmt.Println(b.Delay(1, 0, 0), b.Delay(1, 0, 0.5), b.Delay(1, 0, 1))
	// Output: 900ms 1s 1.1s
}

// Unlimited retries until the call succeeds or something else stops it:
// here MaxElapsed, which also bounds each attempt.
func ExampleUnlimited() {
	policy := &retry.Policy{MaxAttempts: retry.Unlimited, MaxElapsed: time.Minute, Backoff: retry.Constant{}}
	attempts := 0
	err := retry.Do(context.Background(), policy, func(ctx context.Context) error {
		attempts++
		if attempts < 10 {
			return errors.New("not ready")
		}
		return nil
	})
	fmt.Println(attempts, err)
	// Output: 10 <nil>
}

// An attempt that runs out of its own time is retried, and its error says
// so; the caller's deadline would read as context.DeadlineExceeded alone.
func ExampleErrAttemptTimeout() {
	policy := &retry.Policy{
		AttemptTimeout: time.Millisecond,
		Backoff:        retry.Constant{},
		Hooks: &retry.Hooks{OnRetry: func(_ context.Context, e retry.RetryEvent) {
			fmt.Println(e.Err)
			fmt.Println(errors.Is(e.Err, retry.ErrAttemptTimeout), errors.Is(e.Err, context.DeadlineExceeded))
		}},
	}
	attempts := 0
	err := retry.Do(context.Background(), policy, func(ctx context.Context) error {
		if attempts++; attempts == 1 {
			<-ctx.Done() // a hung first attempt
			return ctx.Err()
		}
		return nil
	})
	fmt.Println(attempts, err)
	// Output:
	// retry: attempt timed out after 1ms
	// true true
	// 2 <nil>
}
