package retry_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/retrykit/retry"
)

// failingCalls makes n calls through policy to a dependency that fails
// every attempt, and returns how many retries the budget let through.
func failingCalls(n int, policy *retry.Policy) (retries int) {
	attempts := 0
	for range n {
		_ = retry.Do(context.Background(), policy, func(context.Context) error {
			attempts++
			return errors.New("503")
		})
	}
	return attempts - n
}

// ExampleTokenBucket shares one budget between every call to a dependency:
// once failures have drained half of it, calls stop retrying.
func ExampleTokenBucket() {
	var budget retry.TokenBucket // gRPC's defaults: 10 tokens, 0.1 back per success
	policy := &retry.Policy{MaxAttempts: 4, Budget: &budget, Backoff: retry.Constant{}}
	down := func(context.Context) error { return errors.New("503") }
	for i := 1; i <= 3; i++ {
		err := retry.Do(context.Background(), policy, down)
		var re *retry.Error
		errors.As(err, &re)
		fmt.Printf("call %d: %d attempts, budget exhausted: %v, tokens left: %.0f\n",
			i, re.Attempts, errors.Is(err, retry.ErrBudgetExhausted), budget.Tokens())
	}
	// Output:
	// call 1: 4 attempts, budget exhausted: false, tokens left: 6
	// call 2: 1 attempts, budget exhausted: true, tokens left: 5
	// call 3: 1 attempts, budget exhausted: true, tokens left: 4
}

// NewTokenBucket sets what a success gives back, and so the share of
// failed attempts that stops retries: TokenRatio/(1+TokenRatio), one in 11
// for the default 0.1, one in 3 for 0.5. Against a dependency that fails
// one attempt in 4, retries stop with the default and go on with 0.5.
func ExampleNewTokenBucket() {
	tolerant, err := retry.NewTokenBucket(retry.TokenBucketConfig{TokenRatio: 0.5})
	if err != nil {
		panic(err)
	}
	for _, budget := range []*retry.TokenBucket{new(retry.TokenBucket), tolerant} {
		policy := &retry.Policy{Budget: budget, Backoff: retry.Constant{}}
		attempts, refused := 0, 0
		for range 1000 {
			err := retry.Do(context.Background(), policy, func(context.Context) error {
				if attempts++; attempts%4 == 0 {
					return errors.New("503")
				}
				return nil
			})
			if errors.Is(err, retry.ErrBudgetExhausted) {
				refused++
			}
		}
		fmt.Printf("%d calls refused a retry, %.1f tokens left\n", refused, budget.Tokens())
	}

	_, err = retry.NewTokenBucket(retry.TokenBucketConfig{TokenRatio: 2})
	fmt.Println(err)
	// Output:
	// 245 calls refused a retry, 0.2 tokens left
	// 0 calls refused a retry, 9.5 tokens left
	// retry: invalid argument: TokenBucketConfig.TokenRatio must be in (0, 1], or zero for the default; not 2
}

// The zero RatioBudget is ready to use, with Finagle's defaults: 0.2 extra
// attempts per call, plus a floor of 10 a second, over a 10s window. Here
// 1000 calls to a dependency that is down earn 0.2 · 1000 + 10 · 10 = 300
// retries, not the 3000 that 4 attempts per call would make.
func ExampleRatioBudget() {
	var budget retry.RatioBudget
	policy := &retry.Policy{MaxAttempts: 4, Budget: &budget, Backoff: retry.Constant{}}
	fmt.Println("retries:", failingCalls(1000, policy))
	// Output: retries: 300
}

// None turns off a part of the budget that a zero field would set to its
// default: this budget has no floor, so retries are at most a tenth of the
// calls, however few there are.
func ExampleNewRatioBudget() {
	budget, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.1, MinPerSecond: retry.None})
	if err != nil {
		panic(err)
	}
	policy := &retry.Policy{MaxAttempts: 4, Budget: budget, Backoff: retry.Constant{}}
	fmt.Println("retries:", failingCalls(100, policy))
	// Output: retries: 10
}
