package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// A load shedder's refusal sent nothing: it costs the budget nothing, in
// Retry and in Hedge, while a real failure does.
func TestShedRefusalCostsBudgetNothing(t *testing.T) {
	full, err := retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	held, err := full.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Done(nil)
	refused := func(ctx context.Context) (int, error) {
		return retry.Admit(ctx, full, func(context.Context) (int, error) { return 1, nil })
	}
	b := &countingBudget{}
	p := &retry.Policy{MaxAttempts: 3, Budget: b, Clock: newStepClock()}
	_, err = retry.Retry(context.Background(), p, refused)
	var shed *retry.ShedError
	if !errors.As(err, &shed) {
		t.Fatalf("Retry = %v, want the *ShedError", err)
	}
	if b.ko != 0 || b.extra != 2 {
		t.Fatalf("budget saw %d failures and %d extras, want 0 and 2: refusals are not failures", b.ko, b.extra)
	}
	h := &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond, Budget: b}
	b.ko = 0
	if _, err := retry.Hedge(context.Background(), h, refused); !errors.As(err, &shed) {
		t.Fatalf("Hedge = %v, want the *ShedError", err)
	}
	if b.ko != 0 {
		t.Fatalf("a hedged refusal counted %d failures, want 0", b.ko)
	}
	// A real failure still counts.
	_, _ = retry.Retry(context.Background(), &retry.Policy{MaxAttempts: 1, Budget: b}, func(context.Context) (int, error) {
		return 0, errTransient
	})
	if b.ko != 1 {
		t.Fatalf("a failure counted %d times, want once", b.ko)
	}
}
