package retry

import (
	"math"
	"sync/atomic"
	"time"
)

// minWindowSamples is the fewest calls in a Limiter's sample window.
const minWindowSamples = 10

// window gathers the samples of a Limiter's current window, lock-free:
// a sample that ends as the window is taken may count in either window.
type window struct {
	start   atomic.Int64 // when it began, on the limiter's clock
	span    atomic.Int64 // its least length
	count   atomic.Int64 // samples
	sum     atomic.Int64 // of their latencies
	drops   atomic.Int64 // samples that were dropped calls
	errs    atomic.Int64 // samples that failed otherwise
	least   atomic.Int64 // the least latency
	peak    atomic.Int64 // most calls in flight at once
	lastAvg atomic.Int64 // average latency of the last window, for RetryAfter
}

// windowSample is what a window gathered.
type windowSample struct {
	count, sum, drops, errs, least, peak int64
}

func (w *window) reset(t int64, span time.Duration) {
	w.start.Store(t)
	w.span.Store(span.Nanoseconds())
	w.least.Store(math.MaxInt64)
}

// inflight notes that n calls are in flight.
func (w *window) inflight(n int64) {
	for {
		p := w.peak.Load()
		if n <= p || w.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// add records a call that took rtt; dropped if its error was overload,
// failed if it was another error.
func (w *window) add(rtt int64, dropped, failed bool) {
	rtt = max(rtt, 1)
	w.sum.Add(rtt)
	w.count.Add(1)
	switch {
	case dropped:
		w.drops.Add(1)
	case failed:
		w.errs.Add(1)
	}
	for {
		m := w.least.Load()
		if rtt >= m || w.least.CompareAndSwap(m, rtt) {
			return
		}
	}
}

// due reports whether the window is over at t.
func (w *window) due(t int64) bool {
	return w.count.Load() >= minWindowSamples && t-w.start.Load() >= w.span.Load()
}

// take ends the window at t, with inflight calls in flight, and returns
// what it gathered.
func (w *window) take(t, inflight int64) windowSample {
	s := windowSample{
		count: w.count.Swap(0),
		sum:   w.sum.Swap(0),
		drops: w.drops.Swap(0),
		errs:  w.errs.Swap(0),
		least: w.least.Swap(math.MaxInt64),
		peak:  w.peak.Swap(inflight),
	}
	w.start.Store(t)
	if s.count > 0 {
		w.lastAvg.Store(s.sum / s.count)
	}
	return s
}

// gradient is a Limiter's rule for its limit (see Limiter).
type gradient struct {
	cfg       *LimiterConfig
	limit     float64
	noLoad    int64 // the lowest average latency of a window, in ns; 0 while unknown
	nextProbe int64 // when to measure noLoad again
	probing   bool  // this window runs at half the limit to measure noLoad
	saved     float64
}

func (g *gradient) init(cfg *LimiterConfig, t int64) {
	g.cfg = cfg
	g.limit = float64(cfg.InitialLimit)
	g.nextProbe = t + int64(cfg.ProbeInterval)
}

// next returns the limit for the window after s, which ended at t.
func (g *gradient) next(s windowSample, t int64) int {
	cfg := g.cfg
	if s.count == 0 {
		return g.current()
	}
	avg := float64(s.sum) / float64(s.count)
	// Most calls failed: their latency is the errors' (a refused
	// connection takes microseconds), not the service's. It may show
	// queueing, but not the no-load latency nor room to grow.
	failing := 2*s.errs >= s.count
	if g.probing && !failing {
		// The window ran at half the limit: its average is the
		// dependency's no-load latency now, slower or faster.
		g.probing = false
		g.noLoad = int64(avg)
		g.limit = g.saved
		g.nextProbe = t + int64(cfg.ProbeInterval)
		return g.current()
	}
	// A window's average, not its fastest call: a dependency whose
	// latency varies even unloaded must not look overloaded.
	if !failing && (g.noLoad == 0 || int64(avg) < g.noLoad) {
		g.noLoad = int64(avg)
	}
	switch ratio := cfg.Tolerance * float64(g.noLoad) / avg; {
	case s.drops > 0:
		g.limit *= cfg.Backoff
	case g.noLoad == 0: // nothing to compare with yet
	case ratio < 1: // calls queue: shrink to what keeps them within Tolerance
		g.limit *= max(ratio, 0.5)
	case !failing && float64(2*s.peak) >= g.limit: // headroom, and the limit was near
		g.limit += max(1, g.limit*(ratio-1)/2)
	}
	g.limit = min(max(g.limit, float64(cfg.MinLimit)), float64(cfg.MaxLimit))
	if t >= g.nextProbe {
		g.probing = true
		g.saved = g.limit
		return max(cfg.MinLimit, int(g.limit/2))
	}
	return g.current()
}

func (g *gradient) current() int {
	if g.limit >= float64(g.cfg.MaxLimit) { // MaxInt is 2⁶³ as a float64: not an int
		return g.cfg.MaxLimit
	}
	return max(g.cfg.MinLimit, int(g.limit))
}
