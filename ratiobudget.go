package retry

import (
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the zero fields of a RatioBudgetConfig: those of Finagle's
// retry budget.
const (
	defaultBudgetRatio        = 0.2
	defaultBudgetMinPerSecond = 10
	defaultBudgetWindow       = 10 * time.Second
)

// None, as the Ratio or the MinPerSecond of a RatioBudgetConfig, turns that
// part of the budget off, where zero would mean its default.
const None float64 = -1

// ratioBuckets is the number of slices the window is kept in: counts leave
// the window one slice (a tenth of it) at a time.
const ratioBuckets = 10

// RatioBudgetConfig configures a RatioBudget. Every zero field means the
// default documented on it. The defaults are Finagle's: a Ratio of 0.2
// (Envoy's retry budget has the same), so that retries add at most a fifth
// to the load of a dependency that fails every call, and a floor of 10
// extra attempts a second over a 10s window, so that a client with little
// traffic, or one just started, can still retry an occasional failure.
type RatioBudgetConfig struct {
	// Name, if set, identifies the budget in every event its hooks receive
	// (see Hooks), as a metric label or a log field.
	Name string

	// Ratio is how many extra attempts each first attempt earns, in
	// (0, 1]: 0.1 lets retries and hedges add at most 10% to the load.
	// Zero means 0.2; None means none, leaving the floor alone.
	Ratio float64

	// MinPerSecond is a floor of extra attempts per second, in (0, 1e9],
	// allowed whatever the first attempts. Zero means 10; None means no
	// floor. With Ratio and MinPerSecond both None, every extra attempt is
	// refused.
	MinPerSecond float64

	// Window is how far back first attempts and extra attempts are
	// counted, at least 10ns. Zero means 10s.
	Window time.Duration

	// Clock is the source of time; nil means real time.
	Clock Clock
}

// Validate reports the first invalid field of c, wrapped around
// ErrInvalid: a Ratio or MinPerSecond outside its range (any negative
// value but None, NaN, an infinity), or a negative or too short Window.
func (c RatioBudgetConfig) Validate() error {
	if err := validateClock("RatioBudgetConfig", c.Clock); err != nil {
		return err
	}
	switch {
	case c.Ratio != None && !(c.Ratio >= 0 && c.Ratio <= 1): // catches NaN too
		return invalid("RatioBudgetConfig.Ratio must be in (0, 1], zero for the default, or None; not %v", c.Ratio)
	case c.MinPerSecond != None && !(c.MinPerSecond >= 0 && c.MinPerSecond <= 1e9):
		return invalid("RatioBudgetConfig.MinPerSecond must be in (0, 1e9], zero for the default, or None; not %v", c.MinPerSecond)
	case c.Window < 0 || (c.Window > 0 && c.Window < ratioBuckets):
		return invalid("RatioBudgetConfig.Window must be at least %dns, or zero for the default; not %v", ratioBuckets, c.Window)
	}
	return nil
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
// Create one per dependency with NewRatioBudget and share it between any
// number of policies and goroutines: it is safe for concurrent use. A
// first attempt takes no lock (the call that succeeds at once costs one
// clock read); Extra takes one. The zero value is ready to use and behaves
// as NewRatioBudget(RatioBudgetConfig{}): a Ratio of 0.2 and a floor of 10
// extra attempts a second, over a 10s window. A RatioBudget must not be
// copied after first use.
type RatioBudget struct {
	cfg RatioBudgetConfig // read-only after NewRatioBudget; zero fields mean the defaults

	// firsts counts the first attempts, a slice of the window per bucket,
	// striped so that parallel first attempts seldom write one cache
	// line: a first attempt takes no lock. It is set on first use, after
	// origin.
	firsts atomic.Pointer[timeWindow]
	origin time.Time    // the time of the first use; epochs count from it
	latest atomic.Int64 // the latest epoch seen

	mu     sync.Mutex // guards the first use and extras
	extras [ratioBuckets]ratioBucket
}

// ratioBucket counts the extra attempts of one slice of the window.
type ratioBucket struct {
	epoch, extras int64
}

var _ Budget = (*RatioBudget)(nil)

// NewRatioBudget returns an empty budget configured by cfg, or the error
// of cfg.Validate.
func NewRatioBudget(cfg RatioBudgetConfig) (*RatioBudget, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &RatioBudget{cfg: cfg}, nil
}

// Name returns the budget's RatioBudgetConfig.Name, for the events of
// Hooks.OnBudgetRefused.
func (b *RatioBudget) Name() string { return b.cfg.Name }

// setting returns a Ratio or MinPerSecond as the budget uses it.
func setting(v, def float64) float64 {
	switch v {
	case 0:
		return def
	case None:
		return 0
	}
	return v
}

// sliceLen returns the length of a slice of the window.
func (b *RatioBudget) sliceLen() time.Duration {
	if b.cfg.Window == 0 {
		return defaultBudgetWindow / ratioBuckets
	}
	return b.cfg.Window / ratioBuckets
}

// window returns the counts of first attempts, making them and the origin
// on first use.
func (b *RatioBudget) window() *timeWindow {
	if w := b.firsts.Load(); w != nil {
		return w
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if w := b.firsts.Load(); w != nil {
		return w
	}
	b.origin = now(b.cfg.Clock)
	w := newTimeWindow(b.sliceLen(), ratioBuckets, stripes())
	b.firsts.Store(w)
	return w
}

// epoch returns the slice of the window that time t falls in. Sub uses
// the monotonic readings when both times have one. A clock that goes
// backwards cannot move the epoch back: time stands still for the budget
// until the clock passes the latest epoch again, so epochs never decrease
// and never go below 0. Only the first call of a slice writes latest.
func (b *RatioBudget) epoch(t time.Time) int64 {
	e := int64(max(t.Sub(b.origin), 0) / b.sliceLen())
	for {
		l := b.latest.Load()
		if e <= l {
			return l
		}
		if b.latest.CompareAndSwap(l, e) {
			return e
		}
	}
}

// First counts a first attempt, without a lock. A first attempt whose
// goroutine stalls for a whole window between reading the clock and
// counting is not counted, which can only make the budget stricter by
// that attempt.
func (b *RatioBudget) First() {
	w := b.window()
	w.add(b.epoch(now(b.cfg.Clock)), false, false, 0)
}

// Extra reports whether one more extra attempt fits in the budget, and
// counts it if so.
func (b *RatioBudget) Extra() bool {
	w := b.window()
	b.mu.Lock()
	defer b.mu.Unlock()
	epoch := b.epoch(now(b.cfg.Clock))
	bk := &b.extras[epoch%ratioBuckets]
	if bk.epoch != epoch {
		*bk = ratioBucket{epoch: epoch}
	}
	var extras int64
	for i := range b.extras {
		// Stale buckets count nothing after an idle gap.
		if x := &b.extras[i]; epoch-x.epoch < ratioBuckets && x.epoch <= epoch {
			extras += x.extras
		}
	}
	first := w.totals(epoch).calls
	window := (b.sliceLen() * ratioBuckets).Seconds()
	ratio := setting(b.cfg.Ratio, defaultBudgetRatio)
	floor := setting(b.cfg.MinPerSecond, defaultBudgetMinPerSecond)
	if float64(extras+1) > ratio*float64(first)+floor*window {
		return false
	}
	bk.extras++
	return true
}

// Result does nothing: a ratio budget counts attempts, not outcomes.
func (b *RatioBudget) Result(ok bool) {}
