package retry_test

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// The tracker reports the upper edge of the bucket of the nearest-rank
// sample: for samples under 2⁴⁰ ns, never below the exact sample quantile,
// at most 1/32 (+1 ns) above it. Checked on a seeded log-normal
// distribution (median 5ms, long tail) and a uniform one.
func TestLatencyTrackerAccuracy(t *testing.T) {
	dists := map[string]func(r *rand.Rand) time.Duration{
		"lognormal": func(r *rand.Rand) time.Duration {
			return time.Duration(float64(5*time.Millisecond) * math.Exp(r.NormFloat64()))
		},
		"uniform": func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(int64(time.Second))) },
		"tiny":    func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(200)) },
	}
	for name, draw := range dists {
		t.Run(name, func(t *testing.T) {
			const n = 20_000
			tr, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Window: n})
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			samples := make([]time.Duration, n)
			for i := range samples {
				samples[i] = draw(r)
				tr.Record(samples[i])
			}
			slices.Sort(samples)
			for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
				exact := samples[max(int(math.Ceil(q*n)), 1)-1]
				got, ok := tr.Quantile(q)
				if !ok || got <= exact || got > exact+exact/32+1 {
					t.Errorf("q%v = %v, want in (%v, %v]", q, got, exact, exact+exact/32+1)
				}
			}
		})
	}
}

// Samples of 2⁴⁰ ns (about 18 minutes) and more are clipped: a quantile
// that falls on one reads 2⁴⁰ ns, below the sample; shorter ones are not.
func TestLatencyTrackerClipsLongSamples(t *testing.T) {
	const clip = time.Duration(1 << 40) // 18m19.511627776s
	for _, c := range []struct {
		sample, want time.Duration
	}{
		{time.Hour, clip},
		{clip, clip},
		{clip - 1, clip},
		{clip / 2, clip/2 + clip/64}, // the upper edge of its bucket, 1/32 above
	} {
		tr, _ := retry.NewLatencyTracker(retry.LatencyTrackerConfig{})
		tr.Record(c.sample)
		if got, _ := tr.Quantile(1); got != c.want {
			t.Errorf("one sample of %v: max %v, want %v", c.sample, got, c.want)
		}
	}
}

// Old samples roll out a generation at a time: the quantiles cover the
// last Window to 2·Window−1 samples.
func TestLatencyTrackerRecency(t *testing.T) {
	tr, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Window: 100})
	if err != nil {
		t.Fatal(err)
	}
	record := func(n int, d time.Duration) {
		for range n {
			tr.Record(d)
		}
	}
	record(100, time.Millisecond)   // fills generation 1
	record(99, 10*time.Millisecond) // generation 2, one short of full
	if lo, _ := tr.Quantile(0); lo > 2*time.Millisecond || tr.Samples() != 199 {
		t.Fatalf("min %v over %d samples; the 1ms samples should still count", lo, tr.Samples())
	}
	record(1, 10*time.Millisecond) // generation 2 full: generation 1 rolls out
	if lo, _ := tr.Quantile(0); lo < 10*time.Millisecond || tr.Samples() != 100 {
		t.Fatalf("min %v over %d samples; the 1ms samples should be gone", lo, tr.Samples())
	}
	record(150, 20*time.Millisecond) // generation 3 full, generation 4 half
	if lo, _ := tr.Quantile(0); lo < 20*time.Millisecond || tr.Samples() != 150 {
		t.Fatalf("min %v over %d samples, want only the 20ms ones", lo, tr.Samples())
	}
}

func TestLatencyTrackerDelay(t *testing.T) {
	tr, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{
		Quantile: 0.5, MinSamples: 10, Floor: 2 * time.Millisecond, Ceiling: 8 * time.Millisecond, Fallback: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := tr.Delay(); d != 5*time.Millisecond {
		t.Errorf("empty: Delay = %v, want the fallback", d)
	}
	for range 9 {
		tr.Record(time.Millisecond)
	}
	if d := tr.Delay(); d != 5*time.Millisecond {
		t.Errorf("9 samples, MinSamples 10: Delay = %v, want the fallback", d)
	}
	tr.Record(time.Millisecond)
	if d := tr.Delay(); d != 2*time.Millisecond {
		t.Errorf("median 1ms: Delay = %v, want the 2ms floor", d)
	}
	for range 6 {
		tr.Record(time.Millisecond) // 16 in all: the refreshes below fall after each batch
	}
	for range 32 {
		tr.Record(time.Second)
	}
	if d := tr.Delay(); d != 8*time.Millisecond {
		t.Errorf("median 1s: Delay = %v, want the 8ms ceiling", d)
	}
	for range 64 {
		tr.Record(4 * time.Millisecond)
	}
	if d := tr.Delay(); d < 4*time.Millisecond || d > 4*time.Millisecond+4*time.Millisecond/32 {
		t.Errorf("median 4ms: Delay = %v", d)
	}
}

// Delay leaves the Fallback at the MinSamples-th sample, as documented, not
// at the next refresh of its estimate (every 16 samples): with MinSamples
// 20 that was sample 32, with p95's default of 40 sample 48.
func TestLatencyTrackerLeavesFallbackAtMinSamples(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  retry.LatencyTrackerConfig
		min  int
	}{
		{"MinSamples 20", retry.LatencyTrackerConfig{MinSamples: 20}, 20},
		{"p95 default", retry.LatencyTrackerConfig{}, 40},
		{"p99 default", retry.LatencyTrackerConfig{Quantile: 0.99}, 200},
		{"a multiple of 16", retry.LatencyTrackerConfig{MinSamples: 32}, 32},
		{"capped at Window", retry.LatencyTrackerConfig{Quantile: 0.999, Window: 50}, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Fallback = time.Hour
			tr, err := retry.NewLatencyTracker(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for range tc.min - 1 {
				tr.Record(time.Millisecond)
			}
			if d := tr.Delay(); d != time.Hour {
				t.Fatalf("after %d samples: Delay = %v, want the Fallback", tc.min-1, d)
			}
			tr.Record(time.Millisecond)
			if d := tr.Delay(); d < time.Millisecond || d > time.Millisecond+time.Millisecond/32 {
				t.Fatalf("after %d samples: Delay = %v, want the quantile, about 1ms", tc.min, d)
			}
		})
	}
}

// The zero value works with the defaults: p95 once 40 samples are in.
func TestLatencyTrackerZeroValue(t *testing.T) {
	var tr retry.LatencyTracker
	if d := tr.Delay(); d != (100 * time.Millisecond) {
		t.Errorf("Delay = %v, want 100ms", d)
	}
	if _, ok := tr.Quantile(0.5); ok {
		t.Error("Quantile reported a value with no samples")
	}
	for i := range 208 {
		tr.Record(time.Duration(i%100+1) * time.Millisecond)
	}
	if d := tr.Delay(); d < 95*time.Millisecond || d > 99*time.Millisecond {
		t.Errorf("Delay = %v, want about the p95, 95ms", d)
	}
	for _, q := range []float64{-0.1, 1.1, math.NaN()} {
		if _, ok := tr.Quantile(q); ok {
			t.Errorf("Quantile(%v) reported a value", q)
		}
	}
}

func TestLatencyTrackerBadConfig(t *testing.T) {
	tests := []struct {
		name  string
		cfg   retry.LatencyTrackerConfig
		field string // the field the error names
	}{
		{"quantile negative", retry.LatencyTrackerConfig{Quantile: -0.5}, "Quantile"},
		{"quantile 1", retry.LatencyTrackerConfig{Quantile: 1}, "Quantile"},
		{"quantile above 1", retry.LatencyTrackerConfig{Quantile: 1.5}, "Quantile"},
		{"quantile NaN", retry.LatencyTrackerConfig{Quantile: math.NaN()}, "Quantile"},
		{"quantile +Inf", retry.LatencyTrackerConfig{Quantile: math.Inf(1)}, "Quantile"},
		{"floor above ceiling", retry.LatencyTrackerConfig{Floor: 2 * time.Second, Ceiling: time.Second}, "Floor"},
		{"negative floor", retry.LatencyTrackerConfig{Floor: -1}, "Floor"},
		{"negative ceiling", retry.LatencyTrackerConfig{Ceiling: -1}, "Ceiling"},
		{"negative fallback", retry.LatencyTrackerConfig{Fallback: -1}, "Fallback"},
		{"negative window", retry.LatencyTrackerConfig{Window: -1}, "Window"},
		{"negative min samples", retry.LatencyTrackerConfig{MinSamples: -1}, "MinSamples"},
		{"min samples above window", retry.LatencyTrackerConfig{Window: 10, MinSamples: 11}, "MinSamples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rejects(t, retry.NewLatencyTracker, tt.cfg, "LatencyTrackerConfig."+tt.field)
		})
	}
	accepts(t, retry.NewLatencyTracker, retry.LatencyTrackerConfig{Floor: time.Second}) // no ceiling
}

func TestLatencyTrackerNoAllocs(t *testing.T) {
	tr, _ := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Window: 50})
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		i++
		tr.Record(time.Duration(i) * time.Microsecond)
		tr.Delay()
		tr.Quantile(0.99)
	})
	if allocs != 0 {
		t.Errorf("%v allocs per Record+Delay+Quantile, want 0", allocs)
	}
}

// Concurrent Record, Quantile and Delay: run with -race.
func TestLatencyTrackerConcurrent(t *testing.T) {
	tr, _ := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Window: 500, Quantile: 0.9})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				tr.Record(time.Duration(1+(g+i)%10) * time.Millisecond)
				if i%50 == 0 {
					if d, ok := tr.Quantile(0.9); !ok || d < time.Millisecond || d > 11*time.Millisecond {
						t.Errorf("p90 = %v, %v", d, ok)
					}
					tr.Delay()
				}
			}
		})
	}
	wg.Wait()
	if n := tr.Samples(); n < 500 || n > 999 {
		t.Errorf("Samples = %d, want in [Window, 2·Window−1]", n)
	}
	if d := tr.Delay(); d < 9*time.Millisecond || d > 11*time.Millisecond {
		t.Errorf("Delay = %v, want about the p90, 9-10ms", d)
	}
}

// Rotation cannot stall: however Records interleave, once they are done
// the quantiles cover at most 2·Window−1 samples. The lock-free tracker
// rotated only when a counter equalled Window; a Record descheduled across
// two switches took that equality, lost the CAS, and nothing rotated again
// (Window 1: tens of millions of "recent" samples). The old code failed
// this test on every run under -race, as CI runs it, and on about one run
// in three without.
func TestLatencyTrackerRotationCannotStall(t *testing.T) {
	// More Ps than CPUs: the OS deschedules threads at any instruction.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8 * runtime.NumCPU()))
	for _, window := range []int{1, 1, 1, 2, 3, 64} {
		tr, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Window: window})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for i := range 20_000 {
					tr.Record(time.Duration(1+(g+i)%50) * time.Millisecond)
				}
			})
		}
		wg.Wait()
		if n := tr.Samples(); n < window || n > 2*window-1 {
			t.Errorf("Window %d: Samples = %d, want in [%d, %d]", window, n, window, 2*window-1)
		}
	}
}

// Below 64ns every nanosecond has its own bucket, so the quantiles are
// exact there: the q-quantile of 1..50ns is the sample of rank ⌈50q⌉,
// reported as the bucket's upper edge (one more nanosecond). (q is taken
// mid-rank, (k-½)/50, so that float rounding cannot move ⌈50q⌉.)
func TestLatencyTrackerExactQuantiles(t *testing.T) {
	tr, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Window: 100})
	if err != nil {
		t.Fatal(err)
	}
	for v := 50; v >= 1; v-- { // in any order
		tr.Record(time.Duration(v))
	}
	for k := 1; k <= 50; k++ {
		if d, ok := tr.Quantile((float64(k) - 0.5) / 50); !ok || d != time.Duration(k+1) {
			t.Errorf("Quantile((%d-½)/50) = %v, %v; want %v", k, d, ok, time.Duration(k+1))
		}
	}
	if d, _ := tr.Quantile(0); d != 2 {
		t.Errorf("Quantile(0) = %v, want 2ns (the smallest sample's bucket)", d)
	}
}
