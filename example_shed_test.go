package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/retrykit/retry"
)

// A client of one dependency, protected three ways, in this order from
// the outside in: a retry loop, then an adaptive limiter, then a circuit
// breaker. Each attempt asks the limiter for a slot and the breaker for
// leave; a refusal by the limiter is pushback, which the loop waits out
// (ShedError.Wait) before the next attempt; the breaker's fast rejections
// teach the limiter nothing, and the limiter's refusals never count as
// failures of the dependency for the breaker.
func ExampleAdmit() {
	limiter, err := retry.NewLimiter(retry.LimiterConfig{InitialLimit: 1, MaxLimit: 1, RetryAfter: 5 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	var breaker retry.Breaker
	// Another call holds the only slot.
	other, _ := limiter.Acquire(context.Background())
	policy := &retry.Policy{MaxAttempts: 3}
	fetch := func(ctx context.Context) (string, error) { return "price: 9.99", nil }

	v, err := retry.Retry(context.Background(), policy, func(ctx context.Context) (string, error) {
		v, err := retry.Admit(ctx, limiter, func(ctx context.Context) (string, error) {
			return retry.Guard(ctx, &breaker, fetch)
		})
		if wait, ok := retry.RequestedDelay(err); ok {
			fmt.Printf("%v\nthe loop waits %v\n", err, wait)
			other.Done(nil) // the other call ends meanwhile
		}
		return v, err
	})
	fmt.Println(v, err)
	// Output:
	// retry: load shed (concurrency limit reached, limit 1); retry after 5ms
	// the loop waits 5ms
	// price: 9.99 <nil>
}

// A Bulkhead caps the calls in flight to one dependency, so that when it
// slows down it holds at most that many goroutines; a call past the cap
// may wait a little for a slot, and is refused after that.
func ExampleBulkhead() {
	reports, err := retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 2, MaxWaiters: 1, MaxWait: time.Millisecond})
	if err != nil {
		panic(err)
	}
	a, _ := reports.Acquire(context.Background())
	b, _ := reports.Acquire(context.Background())
	_, err = retry.Admit(context.Background(), reports, func(ctx context.Context) (int, error) { return 1, nil })
	var shed *retry.ShedError
	if errors.As(err, &shed) {
		fmt.Printf("refused: %v; try again in %v\n", shed.Reason, shed.Wait)
	}
	a.Done(nil)
	b.Done(nil)
	n, err := retry.Admit(context.Background(), reports, func(ctx context.Context) (int, error) { return 1, nil })
	fmt.Println(n, err)
	// Output:
	// refused: retry: no slot came free in time; try again in 1s
	// 1 <nil>
}

// Acquire and Permit.Done are the two-step form of Admit, for code that
// cannot wrap the call in a function. Done is deferred so that the slot
// comes back whatever happens.
func ExampleLimiter_Acquire() {
	var limiter retry.Limiter // the zero value: a limit of 20 to start
	serve := func(ctx context.Context) (err error) {
		permit, err := limiter.Acquire(ctx)
		if err != nil {
			return err // a *ShedError: answer "busy, retry later"
		}
		defer func() { permit.Done(err) }()
		return nil // serve the request
	}
	fmt.Println(serve(context.Background()), limiter.Limit(), limiter.InFlight())
	// Output:
	// <nil> 20 0
}
