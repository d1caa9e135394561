package retry

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Defaults for zero fields of LatencyConfig.
const (
	DefaultLatencyQuantile = 0.95 // LatencyConfig.Quantile
	DefaultLatencyWindow   = 1000 // LatencyConfig.Window
)

// LatencyConfig configures a LatencyTracker. Every zero field means the
// default documented on it.
type LatencyConfig struct {
	// Quantile is the quantile of recent latencies that Delay returns, in
	// (0, 1). Zero means DefaultLatencyQuantile (p95).
	Quantile float64

	// Window is the number of samples in one generation. The estimate
	// covers the most recent Window to 2·Window−1 samples (all of them
	// before the first Window); older ones roll out whole, one generation
	// at a time. Zero means DefaultLatencyWindow.
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
	// samples, used as it is. Zero means DefaultHedgeDelay.
	Fallback time.Duration
}

// Validate reports the first invalid setting of c, wrapped around
// ErrInvalid.
func (c LatencyConfig) Validate() error {
	switch {
	case c.Quantile != 0 && !(c.Quantile > 0 && c.Quantile < 1): // catches NaN too
		return invalid("LatencyConfig.Quantile is %v, outside (0, 1)", c.Quantile)
	case c.Window < 0:
		return invalid("LatencyConfig.Window is negative (%d)", c.Window)
	case c.MinSamples < 0:
		return invalid("LatencyConfig.MinSamples is negative (%d)", c.MinSamples)
	case c.MinSamples > c.window():
		return invalid("LatencyConfig.MinSamples (%d) exceeds the Window (%d)", c.MinSamples, c.window())
	case c.Floor < 0:
		return invalid("LatencyConfig.Floor is negative (%v)", c.Floor)
	case c.Ceiling < 0:
		return invalid("LatencyConfig.Ceiling is negative (%v)", c.Ceiling)
	case c.Ceiling > 0 && c.Floor > c.Ceiling:
		return invalid("LatencyConfig.Floor (%v) is above the Ceiling (%v)", c.Floor, c.Ceiling)
	case c.Fallback < 0:
		return invalid("LatencyConfig.Fallback is negative (%v)", c.Fallback)
	}
	return nil
}

func (c *LatencyConfig) quantile() float64 {
	if c.Quantile == 0 {
		return DefaultLatencyQuantile
	}
	return c.Quantile
}

func (c *LatencyConfig) window() int {
	if c.Window == 0 {
		return DefaultLatencyWindow
	}
	return c.Window
}

func (c *LatencyConfig) minSamples() int {
	if c.MinSamples != 0 {
		return c.MinSamples
	}
	return min(int(math.Ceil(2/(1-c.quantile()))), c.window())
}

// LatencyTracker keeps recent latencies of one dependency and answers
// their quantiles; a HedgePolicy uses it to hedge after the p95 (say) of
// what the dependency has lately shown, instead of a hand-set delay.
//
// Create one per dependency with NewLatencyTracker and share it between
// any number of policies and goroutines: every method is safe for
// concurrent use, none locks, and Record, Quantile and Delay do not
// allocate. The zero value is ready to use with the defaults of
// LatencyConfig. A LatencyTracker must not be copied after first use.
//
// # How it works
//
// Samples go into a log-linear histogram of atomic counters: 32 buckets per
// power of two, from 1 ns up to 2⁴⁰ ns (about 18 minutes; longer samples
// count as that). A quantile is reported as the upper edge of the bucket
// that holds the sample of that rank (nearest-rank method), so it is never
// below the exact sample quantile and at most 1/32 (3.125%) above it, or
// 1 ns above it under 64 ns. Memory is fixed: four generations of 1188 counters, about 38 KiB.
//
// Recency: samples go to the current generation of the histogram; when it
// holds Window samples, a fresh one becomes current. Quantiles read the
// current and the previous generation, so they cover the last Window to
// 2·Window−1 samples (a few more when Records race a switch). Old samples roll
// out with traffic, not with time: a dependency that is called rarely keeps
// its last estimate until new samples replace it.
type LatencyTracker struct {
	cfg      LatencyConfig // read-only after NewLatencyTracker
	cur      atomic.Uint64 // gens[cur%numGens] takes new samples
	estimate atomic.Int64  // last clamped quantile, in ns; 0 when none yet
	gens     [numGens]generation
}

// generation is one histogram. groups[g] counts the samples of buckets
// g·32 to g·32+31, so that a quantile walks about 70 counters, not 1152.
type generation struct {
	total  atomic.Uint64
	_      [56]byte // keep the hottest counter on its own cache line
	groups [numGroups]atomic.Uint64
	counts [numBuckets]atomic.Uint64
}

const (
	subBits      = 5 // 2⁵ = 32 buckets per power of two: ≤ 1/32 relative error
	maxSample    = 1<<40 - 1
	maxShift     = 40 - subBits - 1
	numBuckets   = (maxShift + 2) << subBits
	numGroups    = numBuckets >> subBits
	refreshEvery = 16 // samples between two updates of the Delay estimate
	numGens      = 4  // current, previous, next (clean), and one being cleared
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

// NewLatencyTracker returns a tracker with the settings of c, or an error
// wrapping ErrInvalid if c is invalid.
func NewLatencyTracker(c LatencyConfig) (*LatencyTracker, error) {
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
	c := t.cur.Load()
	g := &t.gens[c%numGens]
	g.counts[i].Add(1) // before the group, so a walk never finds a group short of its buckets
	g.groups[i>>subBits].Add(1)
	n := g.total.Add(1)
	switch {
	case n == uint64(t.cfg.window()):
		t.rotate(c)
	case n%refreshEvery == 0:
		t.refresh()
	}
}

// rotate retires generation c, which has just reached Window samples:
// exactly one Record sees that, so rotations never overlap. Generation
// c+1 was cleared by the rotation before, so the switch is immediate and
// no Record lands in a full generation while a clear runs. Then
// generation c−2 (c+2, modulo 4) is cleared for the rotation after: no
// quantile reads it, even one that loaded cur just before the switch.
func (t *LatencyTracker) rotate(c uint64) {
	if !t.cur.CompareAndSwap(c, c+1) {
		// A Record descheduled through whole rotations filled a stale
		// generation: cur has moved on already and must not go back.
		return
	}
	t.refresh()
	old := &t.gens[(c+2)%numGens]
	for i := range old.counts {
		old.counts[i].Store(0)
	}
	for i := range old.groups {
		old.groups[i].Store(0)
	}
	old.total.Store(0)
}

// refresh recomputes the estimate that Delay returns.
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
	d, n := t.quantile(q)
	return d, n > 0
}

// Samples returns how many samples the quantiles currently cover.
func (t *LatencyTracker) Samples() int {
	c := t.cur.Load()
	return int(t.gens[c%numGens].total.Load() + t.gens[(c+numGens-1)%numGens].total.Load())
}

// Delay returns the hedge delay that the tracker suggests: the configured
// Quantile of the recent samples, within [Floor, Ceiling], or Fallback
// while there are fewer than MinSamples samples. The estimate is updated
// every 16 samples and at each new generation, so Delay costs one atomic
// load.
func (t *LatencyTracker) Delay() time.Duration {
	if d := t.estimate.Load(); d > 0 {
		return time.Duration(d)
	}
	return orDefault(t.cfg.Fallback, DefaultHedgeDelay)
}

// quantile returns the q-quantile of the current and previous generations
// and the number of samples they hold. A walk that a reader started before
// two switches may have read a generation while it was being cleared (a
// goroutine descheduled mid-walk): it is detected and done again. Seen
// under -race with 8 writers on 2 cores: four torn walks in a row, whose
// result (1ns) the caller then got.
func (t *LatencyTracker) quantile(q float64) (time.Duration, uint64) {
	for try := 0; try < maxWalks; try++ {
		c := t.cur.Load()
		d, n, ok := t.walk(c, q)
		if ok && t.cur.Load()-c < 2 {
			return d, n
		}
	}
	// Rotations kept outrunning the walk (a reader descheduled again and
	// again while others record): the last estimate beats a torn walk.
	if d := t.estimate.Load(); d > 0 {
		return time.Duration(d), uint64(t.Samples())
	}
	return 0, 0
}

// maxWalks bounds the walks of one quantile. A walk fails only when two
// generations switched while it ran, so a second walk nearly always does.
const maxWalks = 64

// walk computes the q-quantile over generations c and c−1. It reports
// false if their counters changed under it so that the rank was not
// reached.
func (t *LatencyTracker) walk(c uint64, q float64) (time.Duration, uint64, bool) {
	a, b := &t.gens[c%numGens], &t.gens[(c+numGens-1)%numGens]
	n := a.total.Load() + b.total.Load()
	if n == 0 {
		return 0, 0, true
	}
	rank := min(max(uint64(math.Ceil(q*float64(n))), 1), n)
	var seen uint64
	last := 0
	for g := range numGroups {
		in := a.groups[g].Load() + b.groups[g].Load()
		if in == 0 {
			continue
		}
		if seen+in < rank {
			seen += in
			continue
		}
		for i := g << subBits; i < (g+1)<<subBits; i++ {
			k := a.counts[i].Load() + b.counts[i].Load()
			if k == 0 {
				continue
			}
			seen += k
			last = i
			if seen >= rank {
				return upperEdge(i), n, true
			}
		}
	}
	return upperEdge(last), n, false
}
