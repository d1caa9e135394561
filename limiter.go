package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Limiter is an adaptive concurrency limiter: it lets through as many
// calls at once as the dependency can serve without queueing them, and
// finds that number from the calls' latencies and errors instead of being
// told it. Calls beyond the limit wait, if the config allows, in a
// bounded FIFO queue for a bounded time; otherwise they are refused at
// once with a *ShedError (see Admit), which retry loops and httpx.Shed
// treat as pushback.
//
// The limit follows a gradient rule (after Netflix's concurrency-limits):
// once per window of calls, it is scaled by Tolerance × the no-load
// latency / the window's average latency (between 0.5 and 1), so that it
// shrinks as soon as calls queue, and grows while they do not, faster the
// more headroom the latencies show, but only when the calls in flight
// came near the limit. A window that held a dropped call (a timeout,
// pushback; see LimiterConfig.Drop) multiplies the limit by Backoff
// instead (AIMD). The no-load latency is the lowest average latency of a
// window seen, measured again every ProbeInterval. The caller's
// cancellation is not a sample.
//
// Create one per dependency (or per server) with NewLimiter and share it:
// it is safe for concurrent use, and letting a call through takes no lock
// while no call waits. The zero value is ready to use and behaves as
// NewLimiter(LimiterConfig{}). A Limiter must not be copied after first
// use.
type Limiter struct {
	once sync.Once
	cfg  LimiterConfig // with defaults, after once
	base time.Time     // the origin of the int64 times below

	_        [64]byte
	inflight atomic.Int64 // calls let through and not yet done
	_        [56]byte
	limit    atomic.Int64  // the current limit on inflight
	waiting  atomic.Int64  // calls in the queue, or about to enter it
	rate     atomic.Uint64 // a call is timed if a random uint32 is below it
	_        [48]byte
	win      window // samples of the current window
	_        [64]byte

	mu    sync.Mutex
	queue []*limitWaiter // FIFO; under mu
	rule  gradient       // under mu
}

var _ Admitter = (*Limiter)(nil)

const (
	allCalls  = 1 << 32               // Limiter.rate that times every call
	minWindow = 10 * time.Millisecond // the least Window by default
)

// limitWaiter is a call waiting in a Limiter's queue.
type limitWaiter struct {
	ready   chan struct{} // closed when granted
	granted bool          // under mu: a slot was taken for it
}

// NewLimiter returns a Limiter set up by cfg, or an error wrapping
// ErrInvalid if cfg is invalid.
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{cfg: cfg}
	l.init()
	return l, nil
}

func (l *Limiter) init() {
	l.once.Do(func() {
		l.cfg = l.cfg.withDefaults()
		l.base = now(l.cfg.Clock)
		l.rule.init(&l.cfg, 0)
		l.limit.Store(int64(l.cfg.InitialLimit))
		l.win.reset(0, l.cfg.Window)
		l.rate.Store(allCalls)
	})
}

// now returns the time on l's clock, as nanoseconds since l.base.
func (l *Limiter) now() int64 {
	if l.cfg.Clock == nil {
		return int64(time.Since(l.base))
	}
	return int64(l.cfg.Clock.Now().Sub(l.base))
}

// Limit returns the current limit on calls in flight.
func (l *Limiter) Limit() int {
	l.init()
	return int(l.limit.Load())
}

// InFlight returns the number of calls let through and not yet done (for
// an instant it may count a call that is being refused).
func (l *Limiter) InFlight() int {
	return int(l.inflight.Load())
}

// Acquire takes a slot for one call, waiting for one if l's config
// allows (see Admitter).
func (l *Limiter) Acquire(ctx context.Context) (Permit, error) {
	if ctx == nil || l == nil {
		return Permit{}, invalidAcquire(ctx == nil, "*Limiter")
	}
	l.init()
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	if l.cfg.MaxWaiters == 0 { // no queue: no lock
		if l.tryAcquire(false) {
			return l.permit(ctx), nil
		}
		return Permit{}, l.refusal(ErrLimitReached)
	}
	if l.waiting.Load() == 0 && l.tryAcquire(false) { // no queue to jump
		return l.permit(ctx), nil
	}
	return l.acquireSlow(ctx)
}

// tryAcquire takes a slot if one is free. It counts the call first and
// takes it back if that passed the limit: one atomic operation on the
// shared counter instead of a load and a compare-and-swap. Without mu,
// taking it back goes through free, as the count may have hidden a slot
// freed meanwhile from a release that saw no waiter yet; under mu, the
// release that freed such a slot saw the waiter and waits for mu to hand
// it over.
func (l *Limiter) tryAcquire(locked bool) bool {
	n := l.inflight.Add(1)
	if n <= l.limit.Load() {
		l.win.inflight(n)
		return true
	}
	if locked {
		l.inflight.Add(-1)
	} else {
		l.free()
	}
	return false
}

func (l *Limiter) acquireSlow(ctx context.Context) (Permit, error) {
	// waiting rises before the last try and release reads it after
	// freeing a slot, so either this try sees the slot or the release
	// sees this call, and hands it the slot (see grant).
	l.waiting.Add(1)
	l.mu.Lock()
	if len(l.queue) == 0 && l.tryAcquire(true) {
		l.mu.Unlock()
		l.waiting.Add(-1)
		return l.permit(ctx), nil
	}
	if len(l.queue) >= l.cfg.MaxWaiters {
		l.mu.Unlock()
		l.waiting.Add(-1)
		return Permit{}, l.refusal(ErrLimitReached)
	}
	w := &limitWaiter{ready: make(chan struct{})}
	l.queue = append(l.queue, w)
	l.grantLocked() // the slot freed before waiting rose, if any
	l.mu.Unlock()

	var expired <-chan time.Time
	if d := l.cfg.MaxWait; d > 0 {
		if l.cfg.Clock == nil {
			t := time.NewTimer(d)
			defer t.Stop()
			expired = t.C
		} else {
			expired = l.cfg.Clock.After(d)
		}
	}
	var err error
	select {
	case <-w.ready:
		return l.permit(ctx), nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = l.refusal(ErrWaitTimeout)
	}
	l.mu.Lock()
	if w.granted { // the slot came as the wait ended: give it back
		l.mu.Unlock()
		l.free()
		return Permit{}, err
	}
	l.queue = slices.DeleteFunc(l.queue, func(q *limitWaiter) bool { return q == w })
	l.mu.Unlock()
	l.waiting.Add(-1)
	return Permit{}, err
}

// refusal returns the error of a refused call.
func (l *Limiter) refusal(reason error) error {
	wait := l.cfg.RetryAfter
	if wait == 0 {
		wait = time.Duration(l.win.lastAvg.Load())
	}
	return refuse(reason, int(l.limit.Load()), wait)
}

// grantLocked hands free slots to the calls at the head of the queue.
func (l *Limiter) grantLocked() {
	for len(l.queue) > 0 && l.tryAcquire(true) {
		w := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		w.granted = true
		l.waiting.Add(-1)
		close(w.ready)
	}
}

// free gives back a slot, to the first waiting call if there is one.
func (l *Limiter) free() {
	l.inflight.Add(-1)
	if l.waiting.Load() > 0 {
		l.mu.Lock()
		l.grantLocked()
		l.mu.Unlock()
	}
}

// permit returns the permit of a call let through now. Only some calls
// are timed, enough for a sample window (see updateLocked): a clock read
// costs more than the rest of admission.
func (l *Limiter) permit(ctx context.Context) Permit {
	start := int64(-1)
	if r := l.rate.Load(); r == allCalls || uint64(rand.Uint32()) < r {
		start = l.now()
	}
	return Permit{owner: l, ctx: ctx, start: start}
}

// release ends a call let through by Acquire: it records the call's
// sample, frees its slot and, at the end of a window, updates the limit.
func (l *Limiter) release(p Permit, err error) {
	if p.ignored(err) {
		l.free()
		return
	}
	drop := err != nil && l.dropped(err)
	if p.start < 0 { // not timed
		if drop {
			l.win.drops.Add(1)
		}
		l.free()
		return
	}
	t := l.now()
	l.win.add(t-p.start, drop, err != nil && !drop)
	l.free()
	if l.win.due(t) && l.mu.TryLock() {
		if l.win.due(t) {
			l.updateLocked(t)
		}
		l.mu.Unlock()
	}
}

// dropped reports whether err, a call's error, is a sign of overload. If
// Drop panics, the call's slot is freed before the panic goes on.
func (l *Limiter) dropped(err error) bool {
	if l.cfg.Drop != nil {
		done := false
		defer func() {
			if !done {
				l.free()
			}
		}()
		drop := l.cfg.Drop(err)
		done = true
		return drop
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	_, ok := RequestedDelay(err)
	return ok
}

// updateLocked ends the window at t and sets the limit from it.
func (l *Limiter) updateLocked(t int64) {
	s := l.win.take(t, l.inflight.Load())
	limit := l.rule.next(s, t)
	l.limit.Store(int64(limit))
	window := l.cfg.Window
	if window == 0 {
		window = max(4*time.Duration(l.rule.noLoad), minWindow)
	}
	l.win.span.Store(int64(window))
	// Time between 64 and 256 calls a window, or all of them.
	switch r := l.rate.Load(); {
	case s.count > 256 && r > allCalls/256:
		l.rate.Store(r / 2)
	case s.count < 64 && r < allCalls:
		l.rate.Store(r * 2)
	}
	l.grantLocked() // the limit may have grown
}
