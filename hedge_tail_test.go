package retry_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
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
// run 8 at a time, hedged once after 3ms. Virtual time (a synctest bubble)
// makes every figure exact and the same on every run, so the test can
// assert on them. Run with -v to see the table.
func TestHedgeTailLatency(t *testing.T) {
	const (
		calls       = 2000
		concurrency = 8
		delay       = 3 * time.Millisecond
	)
	r := rand.New(rand.NewPCG(2026, 3))
	draw := func() time.Duration {
		switch u := r.Float64(); {
		case u < 0.95:
			return 2 * time.Millisecond
		case u < 0.99:
			return 20 * time.Millisecond
		default:
			return 100 * time.Millisecond
		}
	}
	// Call i's attempt n takes draws[i][n-1], whichever policy runs it.
	draws := make([][2]time.Duration, calls)
	for i := range draws {
		draws[i] = [2]time.Duration{draw(), draw()}
	}

	ideal := make([]time.Duration, calls)
	idealAttempts := 0
	for i, d := range draws {
		ideal[i] = min(d[0], delay+d[1])
		idealAttempts++
		if d[0] > delay {
			idealAttempts++
		}
	}

	noHedge := measure(t, draws, concurrency, "no hedge", func(ctx context.Context, fn func(context.Context) (int, error)) error {
		_, err := fn(ctx)
		return err
	})
	fixedPolicy := &retry.HedgePolicy{MaxAttempts: 2, Delay: delay}
	fixed := measure(t, draws, concurrency, "hedge after 3ms", func(ctx context.Context, fn func(context.Context) (int, error)) error {
		_, err := retry.Hedge(ctx, fixedPolicy, fn)
		return err
	})
	tracker, err := retry.NewLatencyTracker(retry.LatencyConfig{Quantile: 0.95})
	if err != nil {
		t.Fatal(err)
	}
	adaptivePolicy := &retry.HedgePolicy{MaxAttempts: 2, Latency: tracker}
	adaptive := measure(t, draws, concurrency, "hedge after p95", func(ctx context.Context, fn func(context.Context) (int, error)) error {
		_, err := retry.Hedge(ctx, adaptivePolicy, fn)
		return err
	})
	idealRun := tailRun{"ideal min(d0, 3ms+d1)", ideal, int64(idealAttempts)}

	var b strings.Builder
	fmt.Fprintf(&b, "\n| run | p50 | p90 | p99 | p99.9 | load |\n|---|---|---|---|---|---|\n")
	for _, r := range []tailRun{noHedge, idealRun, fixed, adaptive} {
		fmt.Fprintf(&b, "| %s | %v | %v | %v | %v | %.3f |\n", r.name,
			pct(r.latencies, 0.5), pct(r.latencies, 0.9), pct(r.latencies, 0.99), pct(r.latencies, 0.999), r.load())
	}
	fmt.Fprintf(&b, "adaptive delay at the end: %v", tracker.Delay())
	t.Log(b.String())

	idealP99 := pct(ideal, 0.99)
	if got := pct(fixed.latencies, 0.99); (got - idealP99).Abs() > 500*time.Microsecond {
		t.Errorf("fixed delay: p99 %v, ideal %v: more than 0.5ms apart", got, idealP99)
	}
	if got, want := fixed.load(), idealRun.load(); math.Abs(got-want) > 0.005 {
		t.Errorf("fixed delay: load %.4f, ideal %.4f: more than 0.005 apart", got, want)
	}
	if got := pct(adaptive.latencies, 0.99); float64(got) > 1.3*float64(idealP99) {
		t.Errorf("adaptive delay: p99 %v, above 1.3 × the fixed-delay ideal %v", got, idealP99)
	}
	if got := adaptive.load(); got > 1.10 {
		t.Errorf("adaptive delay: load %.4f, above 1.10", got)
	}
}

// tailRun is the outcome of one run of a tail-latency test.
type tailRun struct {
	name      string
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
// bubble, through call. Attempt n of call i takes draws[i][n-1] (the last
// draw for later attempts) and honours cancellation.
func measure(t *testing.T, draws [][2]time.Duration, concurrency int, name string,
	call func(ctx context.Context, fn func(context.Context) (int, error)) error) tailRun {
	out := tailRun{name: name}
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
							n = min(a.Number, 2)
						}
						tm := time.NewTimer(draws[i][n-1])
						defer tm.Stop()
						select {
						case <-tm.C:
							return i, nil
						case <-ctx.Done():
							return 0, ctx.Err()
						}
					}
					start := time.Now()
					if err := call(context.Background(), backend); err != nil {
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

// Regression: an adaptive delay fed only the winners' latencies drifts
// down, since hedging cuts the slow first attempts short, and the load
// climbs with it. On a long-tailed (log-normal) latency, hedging after the
// p95 must hedge about 5% of the calls and keep the delay near the true
// p95. (Fed the winners' latencies, this run ends at load 1.11 with the
// delay 27% low.)
func TestHedgeAdaptiveDelayUnbiased(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const sigma = 1.0 // a long tail: p95 is about 5× the median
	draw := func() time.Duration {
		return time.Duration(float64(2*time.Millisecond) * math.Exp(sigma*r.NormFloat64()))
	}
	draws := make([][2]time.Duration, 4000)
	for i := range draws {
		draws[i] = [2]time.Duration{draw(), draw()}
	}
	first := make([]time.Duration, len(draws))
	for i, d := range draws {
		first[i] = d[0]
	}
	tracker, err := retry.NewLatencyTracker(retry.LatencyConfig{Quantile: 0.95, Window: 200})
	if err != nil {
		t.Fatal(err)
	}
	p := &retry.HedgePolicy{MaxAttempts: 2, Latency: tracker}
	run := measure(t, draws, 8, "p95", func(ctx context.Context, fn func(context.Context) (int, error)) error {
		_, err := retry.Hedge(ctx, p, fn)
		return err
	})
	truth := pct(first, 0.95)
	t.Logf("load %.3f, final delay %v, true p95 %v", run.load(), tracker.Delay(), truth)
	if l := run.load(); l < 1.03 || l > 1.08 {
		t.Errorf("load %.3f, want about 1.05", l)
	}
	if d := tracker.Delay(); d < truth*9/10 || d > truth*11/10 {
		t.Errorf("final delay %v, want within 10%% of the true p95 %v", d, truth)
	}
}
