package retry

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for zero fields of LatencyTrackerConfig.
const (
	defaultLatencyQuantile = 0.95 // LatencyTrackerConfig.Quantile
	defaultLatencyWindow   = 1000 // LatencyTrackerConfig.Window
)

// LatencyTrackerConfig configures a LatencyTracker. Every zero field means the
// default documented on it.
type LatencyTrackerConfig struct {
	// Quantile is the quantile of recent latencies that Delay returns, in
	// (0, 1). Zero means 0.95 (p95).
	Quantile float64

	// Window is the number of samples in one generation. The estimate
	// covers the most recent Window to 2·Window−1 samples (all of them
	// before the first Window); older ones roll out whole, one generation
	// at a time. Zero means 1000.
	Window int

	// MinSamples is the number of recent samples that Delay needs before it
	// trusts the quantile; until then it returns Fallback. Zero means
	// ⌈2/(1−Quantile)⌉ (two samples above the quantile: 40 for p95, 200 for
	// p99), capped at Window: a rough early estimate costs less than a long
	// warm-up on the fallback, and it sharpens as samples come. It may not
	// exceed Window.
	MinSamples int

	// Floor and Ceiling bound the delay that Delay derives from the
	// quantile. Zero means no floor and no ceiling. Set a Floor for a fast
	// dependency: with none, a quantile of a few microseconds makes nearly
	// every slow call send a copy almost at once.
	Floor, Ceiling time.Duration

	// Fallback is what Delay returns while there are fewer than MinSamples
	// samples, used as it is. Zero means 100ms.
	Fallback time.Duration
}

// Validate reports the first invalid field of c, wrapped around
// ErrInvalid and naming the field.
func (c LatencyTrackerConfig) Validate() error {
	switch {
	case c.Quantile != 0 && !(c.Quantile > 0 && c.Quantile < 1): // catches NaN too
		return invalid("LatencyTrackerConfig.Quantile is %v, outside (0, 1)", c.Quantile)
	case c.Window < 0:
		return invalid("LatencyTrackerConfig.Window is negative (%d)", c.Window)
	case c.MinSamples < 0:
		return invalid("LatencyTrackerConfig.MinSamples is negative (%d)", c.MinSamples)
	case c.MinSamples > c.window():
		return invalid("LatencyTrackerConfig.MinSamples (%d) exceeds the Window (%d)", c.MinSamples, c.window())
	case c.Floor < 0:
		return invalid("LatencyTrackerConfig.Floor is negative (%v)", c.Floor)
	case c.Ceiling < 0:
		return invalid("LatencyTrackerConfig.Ceiling is negative (%v)", c.Ceiling)
	case c.Ceiling > 0 && c.Floor > c.Ceiling:
		return invalid("LatencyTrackerConfig.Floor (%v) is above the Ceiling (%v)", c.Floor, c.Ceiling)
	case c.Fallback < 0:
		return invalid("LatencyTrackerConfig.Fallback is negative (%v)", c.Fallback)
	}
	return nil
}

func (c *LatencyTrackerConfig) quantile() float64 {
	if c.Quantile == 0 {
		return defaultLatencyQuantile
	}
	return c.Quantile
}

func (c *LatencyTrackerConfig) window() int {
	if c.Window == 0 {
		return defaultLatencyWindow
	}
	return c.Window
}

func (c *LatencyTrackerConfig) minSamples() int {
	if c.MinSamples != 0 {
		return c.MinSamples
	}
	// In floating point first: near 1 the quotient overflows an int.
	return int(min(math.Ceil(2/(1-c.quantile())), float64(c.window())))
}

// LatencyTracker keeps recent latencies of one dependency and answers
// their quantiles; a HedgePolicy uses it to hedge after the p95 (say) of
// what the dependency has lately shown, instead of a hand-set delay.
//
// Create one per dependency with NewLatencyTracker and share it between
// any number of policies and goroutines: every method is safe for
// concurrent use, and Record, Quantile and Delay do not allocate. Record
// and Quantile take a short lock; Delay reads a cached estimate with one
// atomic load. The zero value is ready to use and behaves as
// NewLatencyTracker(LatencyTrackerConfig{}). A LatencyTracker must not be copied
// after first use.
//
// # How it works
//
// Samples go into a log-linear histogram: 32 buckets per power of two,
// from 1 ns up to 2⁴⁰ ns (18m19.5s). A quantile is reported as the upper
// edge of the bucket that holds the sample of that rank (nearest-rank
// method), so it is never below the exact sample quantile and at most 1/32
// (3.125%) above it, or 1 ns above it under 64 ns, for samples under 2⁴⁰
// ns. Longer samples are clipped: a quantile that falls on one reads 2⁴⁰
// ns, below the sample (a 1 h sample reads 18m19.5s). Memory is fixed: two
// generations of 1188 counters, about 19 KiB.
//
// Recency: samples go to the current generation of the histogram; the
// Record that brings it to Window samples makes it the previous one and
// starts a fresh current one, under the same lock. Quantiles read the
// current and the previous generation, so they cover the last Window to
// 2·Window−1 samples, whatever the concurrency. Old samples roll out with
// traffic, not with time: a dependency that is called rarely keeps its
// last estimate until new samples replace it.
type LatencyTracker struct {
	cfg      LatencyTrackerConfig // read-only after NewLatencyTracker
	estimate atomic.Int64         // last clamped quantile, in ns; 0 when none yet

	mu   sync.Mutex
	cur  uint8 // gens[cur] takes new samples; gens[cur^1] is the previous
	gens [2]generation
}

// generation is one histogram. groups[g] counts the samples of buckets
// g·32 to g·32+31, so that a quantile walks about 70 counters, not 1152,
// and a clear skips the empty groups.
type generation struct {
	total  uint64
	groups [numGroups]uint64
	counts [numBuckets]uint64
}

// clear empties g, touching only the groups that hold samples.
func (g *generation) clear() {
	for i, n := range g.groups {
		if n != 0 {
			clear(g.counts[i<<subBits : (i+1)<<subBits])
			g.groups[i] = 0
		}
	}
	g.total = 0
}

const (
	subBits      = 5 // 2⁵ = 32 buckets per power of two: ≤ 1/32 relative error
	maxSample    = 1<<40 - 1
	maxShift     = 40 - subBits - 1
	numBuckets   = (maxShift + 2) << subBits
	numGroups    = numBuckets >> subBits
	refreshEvery = 16 // samples between two updates of the Delay estimate
)

// bucketOf maps v to its bucket: v itself below 64, then 32 buckets per
// power of two, each [m<<s, (m+1)<<s) for m in [32, 64).
func bucketOf(v uint64) int {
	shift := max(bits.Len64(v)-(subBits+1), 0)
	return shift<<subBits + int(v>>shift)
}

// upperEdge is the smallest value above bucket i.
func upperEdge(i int) time.Duration {
	if i < 2<<subBits {
		return time.Duration(i + 1)
	}
	shift := i>>subBits - 1
	m := i&(1<<subBits-1) + 1<<subBits
	return time.Duration(m+1) << shift
}

// NewLatencyTracker returns an empty tracker configured by c, or the error
// of c.Validate.
func NewLatencyTracker(c LatencyTrackerConfig) (*LatencyTracker, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &LatencyTracker{cfg: c}, nil
}

// Record adds the latency d to the tracker. A negative d (a clock that
// went backwards) is ignored.
func (t *LatencyTracker) Record(d time.Duration) {
	if d < 0 {
		return
	}
	i := bucketOf(uint64(min(d, maxSample)))
	t.mu.Lock()
	g := &t.gens[t.cur]
	g.counts[i]++
	g.groups[i>>subBits]++
	g.total++
	switch {
	case g.total >= uint64(t.cfg.window()):
		// Full: it becomes the previous generation, and the one before
		// it, cleared, the current one.
		t.cur ^= 1
		t.gens[t.cur].clear()
		t.refresh()
	case g.total%refreshEvery == 0:
		t.refresh()
	case t.estimate.Load() == 0 && g.total == uint64(t.cfg.minSamples()):
		// Warming up (one generation, no estimate yet): Delay leaves the
		// Fallback at the MinSamples-th sample, not at the next refresh.
		t.refresh()
	}
	t.mu.Unlock()
}

// refresh recomputes the estimate that Delay returns. t.mu must be held.
func (t *LatencyTracker) refresh() {
	d, n := t.quantile(t.cfg.quantile())
	if n < uint64(t.cfg.minSamples()) {
		t.estimate.Store(0)
		return
	}
	d = max(d, t.cfg.Floor)
	if t.cfg.Ceiling > 0 {
		d = min(d, t.cfg.Ceiling)
	}
	t.estimate.Store(int64(max(d, 1)))
}

// Quantile returns the q-quantile of the recent samples, for q in [0, 1]
// (0 is the smallest, 1 the largest), within the error bound given in the
// type's documentation. It reports false if there is no sample yet or q is
// outside [0, 1]. It ignores MinSamples, Floor and Ceiling.
func (t *LatencyTracker) Quantile(q float64) (time.Duration, bool) {
	if !(q >= 0 && q <= 1) {
		return 0, false
	}
	t.mu.Lock()
	d, n := t.quantile(q)
	t.mu.Unlock()
	return d, n > 0
}

// Samples returns how many samples the quantiles currently cover.
func (t *LatencyTracker) Samples() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(min(t.gens[0].total+t.gens[1].total, math.MaxInt))
}

// Delay returns the hedge delay that the tracker suggests: the configured
// Quantile of the recent samples, within [Floor, Ceiling], or Fallback
// while there are fewer than MinSamples samples. The estimate is updated
// every 16 samples, when the samples reach MinSamples, and at each new
// generation, so Delay costs one atomic load.
func (t *LatencyTracker) Delay() time.Duration {
	if d := t.estimate.Load(); d > 0 {
		return time.Duration(d)
	}
	return orDefault(t.cfg.Fallback, defaultHedgeDelay)
}

// quantile returns the q-quantile of the current and previous generations
// and the number of samples they hold. t.mu must be held.
func (t *LatencyTracker) quantile(q float64) (time.Duration, uint64) {
	a, b := &t.gens[0], &t.gens[1]
	n := a.total + b.total
	if n == 0 {
		return 0, 0
	}
	rank := min(max(uint64(math.Ceil(q*float64(n))), 1), n)
	var seen uint64
	for g := range numGroups {
		in := a.groups[g] + b.groups[g]
		if seen+in < rank {
			seen += in
			continue
		}
		for i := g << subBits; i < (g+1)<<subBits; i++ {
			if seen += a.counts[i] + b.counts[i]; seen >= rank {
				return upperEdge(i), n
			}
		}
	}
	return upperEdge(numBuckets - 1), n // not reached: the counts add up to n under t.mu
}
