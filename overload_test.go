package retry_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// TestOverloadSimulation is the measurement of the overload-safety issue:
// 1000 calls with a 4-attempt policy against a backend that fails every
// request, then 1000 more once it has recovered. Calls arrive every 10ms of
// mock time. It logs the table recorded in the README (go test -v -run
// Overload) and checks the targets.
func TestOverloadSimulation(t *testing.T) {
	const calls = 1000
	type row struct {
		name              string
		attempts, success int // in the outage
		recovered         int // successes after recovery
	}
	run := func(name string, budget func(retry.Clock) retry.Budget) row {
		mock := newStepClock()
		p := &retry.Policy{MaxAttempts: 4, Backoff: retry.Constant{}, Clock: mock}
		if budget != nil {
			p.Budget = budget(mock)
		}
		healthy := false
		attempts := 0
		backend := func(context.Context) error {
			attempts++
			if healthy {
				return nil
			}
			return errors.New("503")
		}
		r := row{name: name}
		for range calls {
			if retry.Do(context.Background(), p, backend) == nil {
				r.success++
			}
			mock.Add(10 * time.Millisecond)
		}
		r.attempts = attempts
		healthy = true
		for range calls {
			if retry.Do(context.Background(), p, backend) == nil {
				r.recovered++
			}
			mock.Add(10 * time.Millisecond)
		}
		return r
	}
	rows := []row{
		run("no budget", nil),
		run("RatioBudget 10%, min 1/s", func(c retry.Clock) retry.Budget {
			b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.1, MinPerSecond: 1, Clock: c})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}),
		run("TokenBucket (gRPC defaults)", func(retry.Clock) retry.Budget { return &retry.TokenBucket{} }),
	}
	t.Logf("%-28s %18s %16s %18s", "", "attempts (outage)", "load (÷ calls)", "success, recovered")
	for _, r := range rows {
		t.Logf("%-28s %18d %16.3f %17.1f%%", r.name, r.attempts, float64(r.attempts)/calls, 100*float64(r.recovered)/calls)
	}
	if rows[0].attempts != 4*calls {
		t.Errorf("without a budget: %d attempts, want %d", rows[0].attempts, 4*calls)
	}
	// 10% of the first attempts, plus 1/s over the 10s window.
	if limit := calls + calls/10 + 10; rows[1].attempts > limit {
		t.Errorf("ratio budget: %d attempts, want at most %d", rows[1].attempts, limit)
	}
	if rows[2].attempts > calls+calls/10 {
		t.Errorf("token bucket: %d attempts, want at most %d", rows[2].attempts, calls+calls/10)
	}
	for _, r := range rows {
		if r.recovered < calls*99/100 {
			t.Errorf("%s: %d of %d calls succeeded after recovery, want ≥ 99%%", r.name, r.recovered, calls)
		}
	}
}

// SplitDeadline shares the time left between the attempts still to come,
// so a hanging attempt cannot starve the rest.
func TestSplitDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 9*time.Second)
		defer cancel()
		var limits []time.Duration
		calls := 0
		fn := func(ctx context.Context) error {
			calls++
			dl, _ := ctx.Deadline()
			limits = append(limits, time.Until(dl))
			if calls < 3 {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}
		err := retry.Do(ctx, &retry.Policy{MaxAttempts: 3, SplitDeadline: true, Backoff: retry.Constant{}}, fn)
		if err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{3 * time.Second, 3 * time.Second, 3 * time.Second}
		if !slices.Equal(limits, want) {
			t.Fatalf("attempt limits = %v, want %v", limits, want)
		}
	})
}

// ExampleAttemptFrom tells the callee which attempt it serves, as an
// attempt header would.
func ExampleAttemptFrom() {
	policy := &retry.Policy{MarkAttempts: true, Backoff: retry.Constant{}}
	_ = retry.Do(context.Background(), policy, func(ctx context.Context) error {
		a, _ := retry.AttemptFrom(ctx)
		fmt.Println("attempt", a.Number)
		if a.Number < 2 {
			return errors.New("503")
		}
		return nil
	})
	// Output:
	// attempt 1
	// attempt 2
}

// A layer that runs an attempt on a context of its own keeps the mark
// with WithAttempt, so that what it calls still sees the attempt.
func ExampleWithAttempt() {
	_ = retry.Do(context.Background(), &retry.Policy{MarkAttempts: true}, func(ctx context.Context) error {
		a, _ := retry.AttemptFrom(ctx)
		own := retry.WithAttempt(context.WithoutCancel(ctx), a) // outlives the attempt
		b, _ := retry.AttemptFrom(own)
		fmt.Println("attempt", b.Number)
		return nil
	})
	// Output: attempt 1
}
