package otel_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/retrykit/retry"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// One set of hooks shared by many goroutines, policies and a breaker:
// every event counted once (run with -race).
func TestConcurrentCalls(t *testing.T) {
	h := newHarness(t)
	b, err := retry.NewBreaker(retry.BreakerConfig{Name: "db", ConsecutiveFailures: 1 << 20, Hooks: h.hooks})
	if err != nil {
		t.Fatal(err)
	}
	const workers, calls = 50, 20
	var wg sync.WaitGroup
	for w := range workers {
		p := &retry.Policy{Name: "p" + strconv.Itoa(w%3), Backoff: retry.Constant{}, Hooks: h.hooks}
		wg.Go(func() {
			for range calls {
				fn := failingAfter(1, 0)
				retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) { return retry.Guard(ctx, b, fn) })
			}
		})
	}
	wg.Wait()
	h.collect()
	h.wantTotal("retry.calls", workers*calls)
	h.wantTotal("retry.attempts", 2*workers*calls)
	h.wantTotal("retry.retries", workers*calls)
	h.want("retry.calls", 17*calls, policy("p0"), outcome("success"))
	h.want("retry.calls", 17*calls, policy("p1"), outcome("success"))
	h.want("retry.calls", 16*calls, policy("p2"), outcome("success"))
}

// Past the attribute sets the hooks keep, measurements are still
// recorded, with their own sets (the SDK's own limit of series, 2000 per
// instrument by default, lifted here).
func TestManyPolicyNames(t *testing.T) {
	h := newHarness(t, sdkmetric.WithCardinalityLimit(0))
	const n = 5000 // more than the sets kept
	for i := range n {
		p := &retry.Policy{Name: "p" + strconv.Itoa(i), Hooks: h.hooks}
		retry.Retry(context.Background(), p, succeed)
		retry.Retry(context.Background(), p, succeed)
	}
	h.collect()
	h.wantTotal("retry.calls", 2*n)
	h.want("retry.calls", 2, policy("p0"), outcome("success"))
	h.want("retry.calls", 2, policy("p4999"), outcome("success"))
}
