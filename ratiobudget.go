package retry

import (
	"sync"
	"time"
)

// defaultBudgetWindow is the window of a RatioBudget whose Window is zero.
const defaultBudgetWindow = 10 * time.Second

// ratioBuckets is the number of slices the window is kept in: counts leave
// the window one slice (a tenth of it) at a time.
const ratioBuckets = 10

// RatioBudgetConfig configures a RatioBudget.
type RatioBudgetConfig struct {
	// Ratio is how many extra attempts each first attempt earns, in
	// [0, 1]: 0.1 lets retries and hedges add at most 10% to the load.
	Ratio float64
	// MinPerSecond is a floor of extra attempts per second, so that a
	// client with little traffic can still retry. Zero means none.
	MinPerSecond float64
	// Window is how far back first attempts and extra attempts are counted.
	// Zero means 10s.
	Window time.Duration
	// Clock is the source of time; nil means real time.
	Clock Clock
}

// RatioBudget caps extra attempts, retries and hedges, at Ratio times the
// first attempts made in the last Window, plus MinPerSecond·Window, as the
// retry budgets of Finagle and Envoy do. When a dependency fails every call,
// load stays near (1 + Ratio) times the calls instead of multiplying by the
// attempts per call.
//
// Time is measured from the budget's first use, with the monotonic clock
// reading when the Clock provides one, so that a change of the wall clock
// neither empties nor refills the window; while a Clock goes backwards,
// time stands still for the budget.
//
// A RatioBudget is safe for concurrent use. Create it with NewRatioBudget.
// The zero value behaves exactly as NewRatioBudget(RatioBudgetConfig{}):
// a 10s window, a Ratio of 0 and no minimum, so it refuses
// every extra attempt. That is the safe side: a budget that was never
// configured must not let retries multiply the load.
type RatioBudget struct {
	ratio, minPerSecond float64
	slice               time.Duration // Window / ratioBuckets; zero means the default
	clock               Clock

	mu      sync.Mutex
	started bool      // origin is set
	origin  time.Time // the time of the first use; epochs count from it
	latest  int64     // the latest epoch seen
	buckets [ratioBuckets]ratioBucket
}

type ratioBucket struct {
	epoch         int64 // which slice of time the counts belong to
	first, extras int64
}

var _ Budget = (*RatioBudget)(nil)

// NewRatioBudget returns an empty budget, or an error wrapping ErrInvalid
// for a ratio outside [0, 1], a negative or non-finite rate, or a negative
// or too short window (under ten nanoseconds).
func NewRatioBudget(cfg RatioBudgetConfig) (*RatioBudget, error) {
	switch {
	case !(cfg.Ratio >= 0 && cfg.Ratio <= 1):
		return nil, invalid("RatioBudget: Ratio must be in [0, 1], not %v", cfg.Ratio)
	case !(cfg.MinPerSecond >= 0 && cfg.MinPerSecond <= 1e9):
		return nil, invalid("RatioBudget: MinPerSecond must be in [0, 1e9], not %v", cfg.MinPerSecond)
	case cfg.Window < 0 || (cfg.Window > 0 && cfg.Window < ratioBuckets):
		return nil, invalid("RatioBudget: Window must be zero (default) or at least %dns, not %v", ratioBuckets, cfg.Window)
	}
	window := cfg.Window
	if window == 0 {
		window = defaultBudgetWindow
	}
	return &RatioBudget{
		ratio:        cfg.Ratio,
		minPerSecond: cfg.MinPerSecond,
		slice:        window / ratioBuckets,
		clock:        cfg.Clock,
	}, nil
}

// sliceLen returns the length of a slice of the window.
func (b *RatioBudget) sliceLen() time.Duration {
	if b.slice == 0 { // the zero value
		return defaultBudgetWindow / ratioBuckets
	}
	return b.slice
}

// current returns the bucket of now, cleared if it held another slice.
// It also reports the epoch, for sums. b.mu must be held.
func (b *RatioBudget) current() (*ratioBucket, int64) {
	t := now(b.clock)
	if !b.started {
		b.started, b.origin = true, t
	}
	// Sub uses the monotonic readings when both times have one. A clock
	// that goes backwards cannot move the epoch back: time stands still
	// for the budget until the clock passes the latest epoch again, so
	// epochs never decrease and never go below 0.
	epoch := max(int64(max(t.Sub(b.origin), 0)/b.sliceLen()), b.latest)
	b.latest = epoch
	i := epoch % ratioBuckets
	bk := &b.buckets[i]
	if bk.epoch != epoch {
		*bk = ratioBucket{epoch: epoch}
	}
	return bk, epoch
}

// sums adds up the buckets still inside the window ending at epoch, so
// that stale buckets count nothing after an idle gap. b.mu must be held.
func (b *RatioBudget) sums(epoch int64) (first, extras int64) {
	for i := range b.buckets {
		if bk := &b.buckets[i]; epoch-bk.epoch < ratioBuckets && bk.epoch <= epoch {
			first += bk.first
			extras += bk.extras
		}
	}
	return first, extras
}

// First counts a first attempt.
func (b *RatioBudget) First() {
	b.mu.Lock()
	bk, _ := b.current()
	bk.first++
	b.mu.Unlock()
}

// Extra reports whether one more extra attempt fits in the budget, and
// counts it if so.
func (b *RatioBudget) Extra() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	bk, epoch := b.current()
	first, extras := b.sums(epoch)
	window := (b.sliceLen() * ratioBuckets).Seconds()
	if float64(extras+1) > b.ratio*float64(first)+b.minPerSecond*window {
		return false
	}
	bk.extras++
	return true
}

// Result does nothing: a ratio budget counts attempts, not outcomes.
func (b *RatioBudget) Result(bool) {}
