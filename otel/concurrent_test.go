package otel_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/retrykit/retry"
	"go.opentelemetry.io/otel/attribute"
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

// 100 goroutines force one breaker open, closed and reset while calls go
// through it: the state gauge ends 1 for the state the breaker is in and 0
// for the others (the hooks see the changes in order).
func TestForcedBreakerGauge(t *testing.T) {
	for range 5 {
		h := newHarness(t)
		b, err := retry.NewBreaker(retry.BreakerConfig{Name: "db", Hooks: h.hooks})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				switch i % 3 {
				case 0:
					b.ForceOpen(0)
				case 1:
					b.ForceClosed()
				default:
					b.Reset()
				}
				retry.Guard(context.Background(), b, succeed)
			})
		}
		wg.Wait()
		h.collect()
		now := b.State().String()
		for _, s := range []string{"closed", "open", "half-open"} {
			v, seen := h.value("retry.breaker.state", breaker("db"), state(s))
			if s == now && v != 1 || s != now && v != 0 {
				t.Fatalf("breaker %s: gauge for %s = %d (seen %v); points:%s", now, s, v, seen, h.points("retry.breaker.state"))
			}
		}
		h.wantTotal("retry.breaker.transitions", 100)
	}
}

// 10,000 policy names under the SDK's default limit of series: the first
// ones keep their own, the rest are counted in the overflow series, and
// no call is lost.
func TestPolicyNamesPastTheLimit(t *testing.T) {
	h := newHarness(t)
	const n = 10000
	for i := range n {
		retry.Retry(context.Background(), &retry.Policy{Name: "p" + strconv.Itoa(i), Hooks: h.hooks}, succeed)
	}
	h.collect()
	h.wantTotal("retry.calls", n)
	h.want("retry.calls", 1, policy("p0"), outcome("success"))
	if v, ok := h.value("retry.calls", attribute.Bool("otel.metric.overflow", true)); !ok || v < n/2 {
		t.Errorf("overflow series = %d (found %v), want most of the %d calls", v, ok, n)
	}
}
