package retry_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// The tail-latency demonstration of issue 3. A backend answers in 2ms
// (95%), 20ms (4%) or 100ms (1%), drawn from a seeded source; 2000 calls
// run 8 at a time, at most 2 attempts each. Virtual time (a synctest
// bubble) makes every figure exact and the same on every run, so the test
// asserts the whole table that the README shows. Run with -v to see it.
func TestHedgeTailLatency(t *testing.T) {
	const (
		calls       = 2000
		concurrency = 8
		delay       = 3 * time.Millisecond
	)
	r := rand.New(rand.NewPCG(2026, 3))
	draws := drawPairs(calls, func() time.Duration {
		switch u := r.Float64(); {
		case u < 0.95:
			return 2 * time.Millisecond
		case u < 0.99:
			return 20 * time.Millisecond
		default:
			return 100 * time.Millisecond
		}
	})

	ideal := make([]time.Duration, calls)
	idealAttempts := 0
	for i, d := range draws {
		ideal[i] = min(d[0], delay+d[1])
		idealAttempts++
		if d[0] > delay {
			idealAttempts++
		}
	}

	noHedge := measure(t, draws, concurrency, func(ctx context.Context, _ int, fn func(context.Context) (int, error)) error {
		_, err := fn(ctx)
		return err
	})
	fixedPolicy := &retry.HedgePolicy{MaxAttempts: 2, Delay: delay}
	fixed := measure(t, draws, concurrency, func(ctx context.Context, _ int, fn func(context.Context) (int, error)) error {
		_, err := retry.Hedge(ctx, fixedPolicy, fn)
		return err
	})
	tracker, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Quantile: 0.95})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	hedgedAfter := map[time.Duration]int{} // hedged calls by their delay
	onFallback := 0                        // calls that started before the tracker had enough samples
	adaptivePolicy := &retry.HedgePolicy{MaxAttempts: 2, Latency: tracker, Hooks: &retry.Hooks{OnHedge: func(_ context.Context, e retry.HedgeEvent) {
		mu.Lock()
		hedgedAfter[e.Delay]++
		mu.Unlock()
	}}}
	adaptive := measure(t, draws, concurrency, func(ctx context.Context, _ int, fn func(context.Context) (int, error)) error {
		if tracker.Delay() == 100*time.Millisecond { // the fallback, until 40 samples (MinSamples) are in
			mu.Lock()
			onFallback++
			mu.Unlock()
		}
		_, err := retry.Hedge(ctx, adaptivePolicy, fn)
		return err
	})

	var b strings.Builder
	b.WriteString("| run | p50 | p90 | p99 | p99.9 | load (attempts/calls) |\n|---|---|---|---|---|---|\n")
	for _, r := range []struct {
		name string
		run  tailRun
	}{
		{"no hedge", noHedge},
		{"ideal `min(d0, 3ms + d1)` from the same draws", tailRun{ideal, int64(idealAttempts)}},
		{"`Hedge`, delay 3 ms", fixed},
		{"`Hedge`, adaptive p95 (`LatencyTracker`, defaults)", adaptive},
	} {
		l := r.run.latencies
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.3f |\n", r.name,
			msString(pct(l, 0.5)), msString(pct(l, 0.9)), msString(pct(l, 0.99)), msString(pct(l, 0.999)), r.run.load())
	}
	fmt.Fprintf(&b, "\nadaptive: final delay %s; hedged calls by delay:", msString(tracker.Delay()))
	for _, d := range slices.Sorted(maps.Keys(hedgedAfter)) {
		fmt.Fprintf(&b, " %s ×%d", msString(d), hedgedAfter[d])
	}
	got := b.String()
	t.Logf("\n%s\n%d calls started on the 100 ms fallback", got, onFallback)
	// Which calls start before the 40th sample is in depends on the order
	// in which goroutines woken at one instant run: at least the 40 whose
	// samples fill the tracker, at most those and the ones then in flight.
	if onFallback < 40 || onFallback > 40+concurrency {
		t.Errorf("%d calls started on the fallback, want 40 to %d", onFallback, 40+concurrency)
	}
	const want = "| run | p50 | p90 | p99 | p99.9 | load (attempts/calls) |\n" +
		"|---|---|---|---|---|---|\n" +
		"| no hedge | 2 ms | 2 ms | 20 ms | 100 ms | 1.000 |\n" +
		"| ideal `min(d0, 3ms + d1)` from the same draws | 2 ms | 2 ms | 5 ms | 20 ms | 1.046 |\n" +
		"| `Hedge`, delay 3 ms | 2 ms | 2 ms | 5 ms | 20 ms | 1.046 |\n" +
		"| `Hedge`, adaptive p95 (`LatencyTracker`, defaults) | 2 ms | 2 ms | 7.11 ms | 22 ms | 1.046 |\n" +
		"\nadaptive: final delay 2.03 ms; hedged calls by delay: 2.03 ms ×41 5.11 ms ×48 100 ms ×2"
	if got != want {
		t.Errorf("tail-latency figures changed; got\n%s\nwant\n%s", got, want)
	}
}

// msString formats d in milliseconds to 3 significant digits, as the
// README's tables do.
func msString(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'g', 3, 64) + " ms"
}

// drawPairs draws the latencies of both attempts of n calls.
func drawPairs(n int, draw func() time.Duration) [][2]time.Duration {
	draws := make([][2]time.Duration, n)
	for i := range draws {
		draws[i] = [2]time.Duration{draw(), draw()}
	}
	return draws
}

// tailRun is the outcome of one run of a tail-latency test.
type tailRun struct {
	latencies []time.Duration // of each call
	attempts  int64           // started, over all calls
}

func (r tailRun) load() float64 { return float64(r.attempts) / float64(len(r.latencies)) }

// pct is the nearest-rank q-quantile of l.
func pct(l []time.Duration, q float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[max(int(math.Ceil(q*float64(len(s)))), 1)-1]
}

// measure runs len(draws) calls, concurrency at a time, in a synctest
// bubble, through call, which gets the call's number i and the backend.
// Attempt n of call i takes draws[i][n-1] (the last draw for later
// attempts) and honours cancellation; it returns its attempt number.
func measure(t *testing.T, draws [][2]time.Duration, concurrency int,
	call func(ctx context.Context, i int, fn func(context.Context) (int, error)) error) tailRun {
	var out tailRun
	synctest.Test(t, func(t *testing.T) {
		var attempts, next atomic.Int64
		latencies := make([]time.Duration, len(draws))
		var wg sync.WaitGroup
		for range concurrency {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(draws); i = int(next.Add(1) - 1) {
					backend := func(ctx context.Context) (int, error) {
						attempts.Add(1)
						n := 1
						if a, ok := retry.AttemptFrom(ctx); ok {
							n = a.Number
						}
						tm := time.NewTimer(draws[i][min(n, 2)-1])
						defer tm.Stop()
						select {
						case <-tm.C:
							return n, nil
						case <-ctx.Done():
							return 0, ctx.Err()
						}
					}
					start := time.Now()
					if err := call(context.Background(), i, backend); err != nil {
						t.Errorf("call %d: %v", i, err)
					}
					latencies[i] = time.Since(start)
				}
			})
		}
		wg.Wait()
		out.latencies, out.attempts = latencies, attempts.Load()
	})
	return out
}
