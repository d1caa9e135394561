package retry_test

import (
	"context"
	"testing"

	"github.com/retrykit/retry"
)

// Marking an attempt costs one allocation, the context, for the attempt
// numbers that calls use (up to 16, hedged or not); any other number is
// carried as well, for the price of a second one.
func TestWithAttemptCost(t *testing.T) {
	ctx := context.Background()
	for n := -1; n <= 20; n++ {
		for _, hedge := range []bool{false, true} {
			a := retry.Attempt{Number: n, Hedge: hedge}
			got, ok := retry.AttemptFrom(retry.WithAttempt(ctx, a))
			if !ok || got != a {
				t.Fatalf("WithAttempt(%+v) carries %+v, %v", a, got, ok)
			}
			want := 2.0
			if n >= 1 && n <= 16 {
				want = 1
			}
			if allocs := testing.AllocsPerRun(100, func() { retry.WithAttempt(ctx, a) }); allocs != want {
				t.Errorf("WithAttempt(%+v): %v allocations, want %v", a, allocs, want)
			}
		}
	}
}
