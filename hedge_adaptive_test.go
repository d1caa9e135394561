package retry_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

var adaptiveSeeds = flag.Int("adaptive-seeds", 2, "seeds that TestHedgeAdaptiveDelayUnbiased runs (docs/measurements.md uses 24)")

// latencyFeed is what a run of TestHedgeAdaptiveDelayUnbiased records into
// its tracker after each call. Every feed but feedHedge is recorded by the
// test, around a Hedge with a fixed delay read from the tracker.
type latencyFeed int

const (
	feedHedge      latencyFeed = iota // Hedge records (HedgePolicy.Latency)
	feedTrue                          // the first attempt's true latency, which only the test knows
	feedWinner                        // the winning attempt's own latency, from its start
	feedLowerBound                    // the first attempt's latency if it won, else the delay (before issue 11)
	feedRan                           // the first attempt's latency if it won, else the time it ran
	feedRanDelay                      // the first attempt's latency if it won, else the time it ran plus the delay
)

func (f latencyFeed) String() string {
	return [...]string{
		"Hedge (as built: a cut-short first attempt's time plus half the delay)",
		"every first attempt's true latency",
		"the winning attempt's own latency",
		"the delay, for a first attempt that lost",
		"a cut-short first attempt's time",
		"a cut-short first attempt's time plus the delay",
	}[f]
}

// adaptiveRun is the outcome of one run of hedging after the p95. The
// delays are relative to the true p95, and read after the first Window
// calls.
type adaptiveRun struct {
	load                    float64 // attempts per call
	mean, highest, atTheEnd float64 // the delay averaged over the calls, the highest, the last
}

// An adaptive delay fed only the winners' latencies drifts down, since
// hedging cuts the slow first attempts short, and the load climbs with it.
// Hedging after the p95 of a long-tailed latency (log-normal, σ = 1 and a
// heavier σ = 2) must hedge about 5% of the calls, and the delay, averaged
// over the calls, must stay near the true p95: checked on several seeds,
// against the same calls with the tracker fed otherwise. Run with -v for
// the table, and -args -adaptive-seeds=24 for the figures of
// docs/measurements.md.
func TestHedgeAdaptiveDelayUnbiased(t *testing.T) {
	feeds := []latencyFeed{feedHedge, feedTrue, feedWinner, feedLowerBound, feedRan, feedRanDelay}
	var b strings.Builder
	for _, sigma := range []float64{1, 2} {
		type span struct{ lo, hi float64 }
		spans := make([][4]span, len(feeds))
		for f := range spans {
			for k := range spans[f] {
				spans[f][k] = span{math.Inf(1), math.Inf(-1)}
			}
		}
		for seed := range uint64(*adaptiveSeeds) {
			r := rand.New(rand.NewPCG(seed+1, seed+1))
			draws := drawPairs(10_000, func() time.Duration {
				return time.Duration(float64(2*time.Millisecond) * math.Exp(sigma*r.NormFloat64()))
			})
			first := make([]time.Duration, len(draws))
			for i, d := range draws {
				first[i] = d[0]
			}
			truth := pct(first, 0.95)
			for f, feed := range feeds {
				run := runAdaptive(t, draws, feed, truth)
				for k, v := range [4]float64{run.load, run.mean, run.highest, run.atTheEnd} {
					spans[f][k] = span{min(spans[f][k].lo, v), max(spans[f][k].hi, v)}
				}
				if feed != feedHedge {
					continue
				}
				if run.load < 1.04 || run.load > 1.06 {
					t.Errorf("σ %v, seed %d: load %.3f, want 1.05 ± 0.01", sigma, seed+1, run.load)
				}
				if run.mean < -0.03 || run.mean > 0.10 {
					t.Errorf("σ %v, seed %d: delay averaged over calls %+.1f%% off the true p95 %v, want −3%% to +10%%",
						sigma, seed+1, 100*run.mean, truth)
				}
			}
		}
		fmt.Fprintf(&b, "\nlog-normal latency, median 2ms, σ = %v; %d seeds, 10000 calls each, 8 at a time, hedged once after the p95 (Window 1000);\n"+
			"the delay read as each call starts, after the first 1000 calls, vs the true p95 of the first attempts:\n", sigma, *adaptiveSeeds)
		b.WriteString("| tracker fed, besides the latency of a first attempt that won | load | delay, averaged | delay, highest | delay, at the end |\n|---|---|---|---|---|\n")
		for f, feed := range feeds {
			s := spans[f]
			fmt.Fprintf(&b, "| %v | %.3f–%.3f | %+.1f%% to %+.1f%% | %+.1f%% to %+.1f%% | %+.1f%% to %+.1f%% |\n", feed,
				s[0].lo, s[0].hi, 100*s[1].lo, 100*s[1].hi, 100*s[2].lo, 100*s[2].hi, 100*s[3].lo, 100*s[3].hi)
		}
	}
	t.Log(b.String())
}

// runAdaptive runs draws, 8 calls at a time, each hedged once after the
// tracker's delay, with the tracker fed as feed says.
func runAdaptive(t *testing.T, draws [][2]time.Duration, feed latencyFeed, truth time.Duration) adaptiveRun {
	const window = 1000
	tracker, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Quantile: 0.95, Window: window})
	if err != nil {
		t.Fatal(err)
	}
	built := &retry.HedgePolicy{MaxAttempts: 2, Latency: tracker}
	var started, sum, highest atomic.Int64
	run := measure(t, draws, 8, func(ctx context.Context, i int, fn func(context.Context) (int, error)) error {
		delay := tracker.Delay() // as Hedge reads it when the call starts
		if started.Add(1) > window {
			sum.Add(int64(delay))
			for h := highest.Load(); int64(delay) > h && !highest.CompareAndSwap(h, int64(delay)); h = highest.Load() {
			}
		}
		if feed == feedHedge {
			_, err := retry.Hedge(ctx, built, fn)
			return err
		}
		start := time.Now()
		won, err := retry.Hedge(ctx, &retry.HedgePolicy{MaxAttempts: 2, Delay: delay}, fn)
		took := time.Since(start) // for a first attempt that lost, the time it ran: cut short when the hedge won
		switch {
		case feed == feedTrue:
			tracker.Record(draws[i][0])
		case won == 1 || feed == feedRan:
			tracker.Record(took)
		case feed == feedWinner:
			tracker.Record(took - delay) // the hedge started after the delay
		case feed == feedLowerBound:
			tracker.Record(delay)
		case feed == feedRanDelay:
			tracker.Record(took + delay)
		}
		return err
	})
	rel := func(d float64) float64 { return d/float64(truth) - 1 }
	return adaptiveRun{
		load:     run.load(),
		mean:     rel(float64(sum.Load()) / float64(len(draws)-window)),
		highest:  rel(float64(highest.Load())),
		atTheEnd: rel(float64(tracker.Delay())),
	}
}
