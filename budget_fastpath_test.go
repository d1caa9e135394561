package retry_test

import (
	"context"
	"testing"

	"github.com/retrykit/retry"
)

// A call whose first attempt succeeds, with a budget of this package,
// counts its first attempt and its success once each, as one that fails
// first does: the quick path for budgets changes no count.
func TestBudgetCountsEachCallOnce(t *testing.T) {
	ctx := context.Background()
	rb, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 1, MinPerSecond: retry.None, Clock: newStepClock()})
	if err != nil {
		t.Fatal(err)
	}
	p := &retry.Policy{MaxAttempts: 2, Backoff: retry.Constant{}, Budget: rb}
	for range 5 {
		if err := retry.Do(ctx, p, okCall); err != nil {
			t.Fatal(err)
		}
		if _, err := retry.Retry(ctx, p, okValCall); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 { // each earns itself, and spends it on its retry
		fn, _ := failing(1, errTransient)
		if err := retry.Do(ctx, p, fn); err != nil {
			t.Fatalf("call %d failing once: %v", i, err)
		}
	}
	granted := 0
	for rb.Extra() {
		granted++
	}
	if granted != 10 {
		t.Errorf("%d extras left after 10 successes and 3 retried calls at ratio 1, want 10", granted)
	}

	tb, err := retry.NewTokenBucket(retry.TokenBucketConfig{MaxTokens: 10, TokenRatio: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		tb.Result(false)
	}
	p = &retry.Policy{Budget: tb}
	retry.Do(ctx, p, okCall)
	retry.Retry(ctx, p, okValCall)
	if got := tb.Tokens(); got != 7 {
		t.Errorf("%v tokens after 4 failures and 2 successes giving back 0.5 each, want 7", got)
	}
}
