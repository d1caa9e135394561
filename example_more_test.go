package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/retrykit/retry"
)

// A limiter made with its config; the zero Limiter behaves as
// NewLimiter(LimiterConfig{}). Bounds keep the limit it finds within what
// the dependency is known to take.
func ExampleNewLimiter() {
	limiter, err := retry.NewLimiter(retry.LimiterConfig{InitialLimit: 8, MinLimit: 2, MaxLimit: 64})
	if err != nil {
		panic(err)
	}
	_, err = retry.NewLimiter(retry.LimiterConfig{MinLimit: 10, MaxLimit: 5})
	fmt.Println(limiter.Limit(), errors.Is(err, retry.ErrInvalid))
	// Output:
	// 8 true
}

// RequestedDelay reads the wait that a server asked for, wherever it sits
// in an error's tree: a metric of pushback, or a loop of your own.
func ExampleRequestedDelay() {
	err := retry.After(errors.New("503 Service Unavailable"), 2*time.Second)
	err = fmt.Errorf("fetching prices: %w", err)
	d, ok := retry.RequestedDelay(err)
	fmt.Println(d, ok)
	_, ok = retry.RequestedDelay(errors.New("connection refused"))
	fmt.Println(ok)
	// Output:
	// 2s true
	// false
}

// A Backoff of your own, as a function: here a fixed schedule, whose
// last step repeats.
func ExampleBackoffFunc() {
	schedule := []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond}
	var steps retry.BackoffFunc = func(attempt int, _ time.Duration, _ float64) time.Duration {
		return schedule[min(max(attempt, 1), len(schedule))-1]
	}
	for n := 1; n <= 4; n++ {
		fmt.Println(steps.Delay(n, 0, 0))
	}
	policy := &retry.Policy{MaxAttempts: 4, Backoff: steps}
	fmt.Println(policy.Validate())
	// Output:
	// 10ms
	// 50ms
	// 200ms
	// 200ms
	// <nil>
}

// Snapshot reads a breaker's state and counts at once, for a metrics
// export or a status page.
func ExampleBreaker_Snapshot() {
	inventory, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 3})
	fail := func(context.Context) (int, error) { return 0, errors.New("inventory: 503") }
	for range 4 {
		retry.Guard(context.Background(), inventory, fail)
	}
	s := inventory.Snapshot()
	fmt.Println(s.State, s.Generation, s.Rejected)
	// Output:
	// open 2 1
}

// A rejection says why and, for an open breaker, when the next probe
// goes through: a caller can tell its own client when to come back.
func ExampleBreakerError() {
	payments, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: 30 * time.Second})
	retry.Guard(context.Background(), payments, func(context.Context) (int, error) { return 0, errors.New("payments: 503") })

	_, err := retry.Guard(context.Background(), payments, func(context.Context) (int, error) { return 1, nil })
	var rejected *retry.BreakerError
	if errors.As(err, &rejected) {
		fmt.Println(rejected.Reason, errors.Is(err, retry.ErrBreakerOpen), rejected.Wait.Round(time.Second))
	}
	// Output:
	// circuit breaker is open true 30s
}

// A server that asks for a longer wait than the policy allows ends the
// call at once, rather than stall it: the caller sees what was asked.
func ExamplePushbackError() {
	policy := &retry.Policy{MaxAttempts: 3, MaxAfter: 5 * time.Second}
	err := retry.Do(context.Background(), policy, func(context.Context) error {
		return retry.After(errors.New("429 Too Many Requests"), 10*time.Minute)
	})
	var pushback *retry.PushbackError
	if errors.As(err, &pushback) {
		fmt.Println(pushback.Requested, pushback.Limit)
	}
	fmt.Println(err)
	// Output:
	// 10m0s 5s
	// retry: server asked to wait 10m0s, more than the limit of 5s: 429 Too Many Requests
}
