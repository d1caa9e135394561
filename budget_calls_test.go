package retry_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// countingBudget records what the calls ask of it and allows every extra.
type countingBudget struct {
	mu                   sync.Mutex
	first, extra, ok, ko int
}

func (b *countingBudget) First()      { b.mu.Lock(); b.first++; b.mu.Unlock() }
func (b *countingBudget) Extra() bool { b.mu.Lock(); b.extra++; b.mu.Unlock(); return true }
func (b *countingBudget) Result(ok bool) {
	b.mu.Lock()
	if ok {
		b.ok++
	} else {
		b.ko++
	}
	b.mu.Unlock()
}

// Every call counts as a call in its budget, those that succeed at once
// included: a RatioBudget earns its extras from them.
func TestEveryCallCountsInItsBudget(t *testing.T) {
	b := &countingBudget{}
	p := &retry.Policy{MaxAttempts: 3, Budget: b, Backoff: retry.Constant{}}
	ctx := context.Background()
	for range 4 {
		if err := retry.Do(ctx, p, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := retry.Retry(ctx, p, func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	fn, _ := failing(2, errTransient)
	if err := retry.Do(ctx, p, fn); err != nil {
		t.Fatal(err)
	}
	if b.first != 6 || b.extra != 2 || b.ok != 6 || b.ko != 2 {
		t.Fatalf("budget saw First %d, Extra %d, Result(true) %d, Result(false) %d; want 6, 2, 6, 2",
			b.first, b.extra, b.ok, b.ko)
	}
	h := &retry.HedgePolicy{Budget: b}
	if _, err := retry.Hedge(ctx, h, func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	if b.first != 7 {
		t.Fatalf("a Hedge call counted First %d times in all, want 7", b.first)
	}
}

// A RatioBudget gives the retries that the calls of the last window earned,
// window after window.
func TestRatioBudgetThroughRetryEveryWindow(t *testing.T) {
	clk := newStepClock()
	b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.5, MinPerSecond: retry.None, Window: time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	p := &retry.Policy{MaxAttempts: 10, Budget: b, Backoff: retry.Constant{}, Clock: clk}
	ctx := context.Background()
	for window := range 3 {
		// Nothing earned yet in this window: no retry.
		calls := 0
		err := retry.Do(ctx, p, func(context.Context) error { calls++; return errTransient })
		if calls != 1 || !errors.Is(err, retry.ErrBudgetExhausted) {
			t.Fatalf("window %d, before successes: %d attempts, %v; want 1 and ErrBudgetExhausted", window, calls, err)
		}
		// Four more calls (five with the failed one) earn two retries.
		for range 4 {
			if err := retry.Do(ctx, p, func(context.Context) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
		calls = 0
		err = retry.Do(ctx, p, func(context.Context) error { calls++; return errTransient })
		// The sixth call earns its own half too: 3 extras in all.
		if calls != 4 || !errors.Is(err, retry.ErrBudgetExhausted) {
			t.Fatalf("window %d: %d attempts, %v; want 4 (3 earned retries) and ErrBudgetExhausted", window, calls, err)
		}
		clk.Add(2 * time.Second) // the window forgets it all
	}
}
