package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/retrykit/retry"
)

// One Breaker per dependency, shared by every caller. After three failures
// in a row it opens and rejects calls at once, without calling the
// dependency.
func ExampleGuard() {
	inventory, err := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 3, OpenDuration: time.Minute})
	if err != nil {
		panic(err)
	}
	calls := 0
	lookup := func(ctx context.Context) (int, error) {
		calls++
		return 0, errors.New("inventory: 503")
	}
	for range 5 {
		_, err := retry.Guard(context.Background(), inventory, lookup)
		var rejected *retry.BreakerError
		if errors.As(err, &rejected) {
			fmt.Println("rejected:", rejected.Reason, "for about", rejected.Wait.Round(time.Second))
			continue
		}
		fmt.Println(err)
	}
	fmt.Println(inventory.State(), "after", calls, "calls")
	// Output:
	// inventory: 503
	// inventory: 503
	// inventory: 503
	// rejected: circuit breaker is open for about 1m0s
	// rejected: circuit breaker is open for about 1m0s
	// open after 3 calls
}

// A fallback serves a degraded answer while the dependency is failing, and
// fellBack tells the caller so: a fallback never hides the failure.
func ExampleGuardFallback() {
	prices, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Minute})
	live := func(ctx context.Context) (float64, error) { return 0, errors.New("pricing: timeout") }
	cached := func(ctx context.Context, err error) (float64, error) {
		if errors.Is(err, retry.ErrBreakerOpen) {
			return 9.99, nil // the breaker is open: serve the last known price
		}
		return 0, err // a failure of the call itself: report it
	}
	for range 2 {
		price, fellBack, err := retry.GuardFallback(context.Background(), prices, live, cached)
		fmt.Println(price, fellBack, err)
	}
	// Output:
	// 0 true pricing: timeout
	// 9.99 true <nil>
}

// Allow is the two-step form, for middleware: here an HTTP round tripper
// that counts 5xx responses as failures.
func ExampleBreaker_Allow() {
	br, _ := retry.NewBreaker(retry.BreakerConfig{})
	var next http.RoundTripper = roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody}, nil
	})
	guarded := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		done, err := br.Allow()
		if err != nil {
			return nil, err
		}
		resp, err := next.RoundTrip(req)
		if err == nil && resp.StatusCode >= 500 {
			done(errors.New(resp.Status)) // a failure for the breaker; the caller still gets the response
		} else {
			done(err)
		}
		return resp, err
	})
	req, _ := http.NewRequest(http.MethodGet, "http://inventory.internal/items", nil)
	for range 6 {
		resp, err := guarded.RoundTrip(req)
		if errors.Is(err, retry.ErrBreakerOpen) {
			fmt.Println("rejected")
			continue
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 503
	// 503
	// 503
	// 503
	// 503
	// rejected
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Retry goes outside the breaker, so that each attempt asks it. By
// default a rejection ends the loop at once, with the *BreakerError as
// its Reason: the caller fails fast. With WaitForProbe, an open breaker's
// rejection makes the loop wait for the next probe instead (within
// Policy.MaxAfter and the deadline).
func ExampleGuard_retry() {
	br, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 2, OpenDuration: 5 * time.Millisecond})
	calls := 0
	fetch := func(ctx context.Context) (string, error) {
		calls++
		if calls <= 2 {
			return "", errors.New("connection refused")
		}
		return "order #42", nil
	}
	guarded := func(ctx context.Context) (string, error) { return retry.Guard(ctx, br, fetch) }

	_, err := retry.Retry(context.Background(), &retry.Policy{MaxAttempts: 4, Backoff: retry.Constant{}}, guarded)
	var gaveUp *retry.Error
	if errors.As(err, &gaveUp) && errors.Is(gaveUp.Reason, retry.ErrBreakerOpen) {
		fmt.Println("rejected after", calls, "calls and", gaveUp.Attempts, "attempts")
	}

	waiting := &retry.Policy{MaxAttempts: 4, Backoff: retry.Constant{}, WaitForProbe: true}
	order, err := retry.Retry(context.Background(), waiting, guarded)
	fmt.Println(order, err, calls)
	// Output:
	// rejected after 2 calls and 3 attempts
	// order #42 <nil> 3
}

// NewBreaker checks its config once. Here a breaker trips when at least
// half of its last 10 calls failed, once it holds 4; a config whose
// MaxOpenDuration is shorter than its OpenDuration is an error wrapping
// ErrInvalid, not a breaker that quietly does something else.
func ExampleNewBreaker() {
	br, err := retry.NewBreaker(retry.BreakerConfig{FailureRatio: 0.5, WindowCalls: 10, MinCalls: 4})
	if err != nil {
		panic(err)
	}
	for _, failed := range []bool{false, true, false, true} {
		_, err := retry.Guard(context.Background(), br, func(context.Context) (int, error) {
			if failed {
				return 0, errors.New("timeout")
			}
			return 1, nil
		})
		fmt.Println(err, "->", br.State())
	}

	_, err = retry.NewBreaker(retry.BreakerConfig{OpenDuration: time.Minute, MaxOpenDuration: time.Second})
	fmt.Println(errors.Is(err, retry.ErrInvalid), err)
	// Output:
	// <nil> -> closed
	// timeout -> closed
	// <nil> -> closed
	// timeout -> open
	// true retry: invalid argument: BreakerConfig.MaxOpenDuration (1s) is shorter than OpenDuration (1m0s)
}

// statusError is the error of a call that got an HTTP error status.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("status %d", e.code) }

// Classify keeps the caller's mistakes from tripping the breaker: a 4xx
// says nothing about the dependency's health, so it is BreakerIgnored,
// while a 5xx is a failure.
func ExampleBreakerConfig_classify() {
	br, err := retry.NewBreaker(retry.BreakerConfig{
		ConsecutiveFailures: 2,
		Classify: func(err error) retry.BreakerOutcome {
			if se, ok := errors.AsType[*statusError](err); ok && se.code < 500 {
				return retry.BreakerIgnored
			}
			if err != nil {
				return retry.BreakerFailure
			}
			return retry.BreakerSuccess
		},
	})
	if err != nil {
		panic(err)
	}
	for _, code := range []int{404, 404, 400, 404, 503, 503} {
		_, err := retry.Guard(context.Background(), br, func(context.Context) (string, error) {
			return "", &statusError{code}
		})
		fmt.Println(err, "->", br.State())
	}
	// Output:
	// status 404 -> closed
	// status 404 -> closed
	// status 400 -> closed
	// status 404 -> closed
	// status 503 -> closed
	// status 503 -> open
}
