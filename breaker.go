package retry

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is the state of a Breaker.
type BreakerState uint8

const (
	// BreakerClosed lets calls through and counts their outcomes.
	BreakerClosed BreakerState = iota
	// BreakerOpen rejects calls with ErrBreakerOpen until its time is up.
	BreakerOpen
	// BreakerHalfOpen lets a few probe calls through to test the dependency.
	BreakerHalfOpen
)

// String returns the state's name: "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "BreakerState(" + strconv.Itoa(int(s)) + ")"
}

// Breaker is a circuit breaker: it stops calls to a dependency that keeps
// failing, so that callers fail fast (or serve a fallback) instead of
// waiting on it and adding to its load, and it lets a few probe calls
// through from time to time to find out when the dependency has recovered.
//
// Create one Breaker per dependency with NewBreaker and share it between
// any number of goroutines: it is safe for concurrent use, and one Breaker
// serves calls of any result type (see Guard, GuardFallback and Allow).
// While closed, a call takes no lock: the counters are atomic and spread
// over cache lines.
//
// The states: closed lets calls through until a trip rule fires (see
// BreakerConfig), then the breaker is open and rejects every call with a
// *BreakerError for the open duration, then half-open: it lets up to
// HalfOpenProbes calls through at a time, closes after HalfOpenSuccesses
// of them succeed and reopens on the first failure. Each change of state
// starts a new generation, and the outcome of a call that started in an
// earlier generation is ignored.
//
// BreakerConfig.Hooks hears every change of state, with the reason and
// the counts of the period that ended, and every rejection. Operators can
// take over with ForceOpen, ForceClosed and Reset.
//
// The zero value is ready to use and behaves as NewBreaker(BreakerConfig{}),
// with the defaults documented there. A Breaker must not be copied after
// first use.
type Breaker struct {
	// word is the generation and the state, gen<<2 | state, read by every
	// call and written only by a change of state (and by lazyInit: it is
	// zero only in a zero Breaker not used yet).
	word  atomic.Uint64
	stats atomic.Pointer[closedStats] // counts of the current closed period
	s     breakerSettings
	base  time.Time // elapsed times are measured from here

	rejected atomic.Uint64

	// fastMask picks the bits of word that must be zero for a call to be
	// admitted without the clock: the state's (zero is closed), or every
	// bit if the breaker needs the clock to admit a call (generations
	// start at 1, so word is never zero). It is zero in a zero Breaker,
	// whose stats then send the other states to the slow path (see admit).
	fastMask uint64

	mu        sync.Mutex // guards the fields below and every change of word
	openUntil time.Time  // zero while forced open until told otherwise
	reopens   int        // opens since the breaker last closed, the first excluded
	probes    int        // probe calls in flight
	probeOK   int        // successful probes of this half-open period
	probeBad  int        // failed probes of this half-open period (one at most)
	forced    forcing    // the state an operator holds the breaker in
	// rejectedAt is rejected at the start of the current period.
	rejectedAt uint64
	events     []queuedChange
	notifying  bool // a goroutine is delivering events
}

// queuedChange is a change of state waiting for OnBreakerChange, with the
// context of the call that made it.
type queuedChange struct {
	ctx    context.Context
	change BreakerChange
}

// forcing is the state an operator holds a breaker in, if any.
type forcing uint8

const (
	notForced forcing = iota
	forcedOpen
	forcedClosed
)

const stateMask = 3

// NewBreaker returns a closed Breaker configured by cfg, or the error of
// cfg.Validate.
func NewBreaker(cfg BreakerConfig) (*Breaker, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	b := &Breaker{s: s, fastMask: stateMask}
	if s.timed() {
		b.fastMask = ^uint64(0)
	}
	b.base = now(s.clock)
	b.stats.Store(newClosedStats(&b.s, 1<<2, false))
	b.word.Store(1 << 2) // generation 1, closed
	return b, nil
}

// State returns the breaker's state. An open breaker whose time is up
// reports BreakerOpen until a call makes it half-open.
func (b *Breaker) State() BreakerState { return BreakerState(b.word.Load() & stateMask) }

// BreakerSnapshot is a read-only view of a Breaker for metrics and tests.
type BreakerSnapshot struct {
	State      BreakerState // as State reports it
	Generation uint64       // 1 plus the changes of state since NewBreaker

	// Calls, Failures and Slow count the successes and failures, the
	// failures, and the slow calls in the rolling window of the closed
	// state (zero without a window); AverageDuration is the average
	// duration of those calls, if the breaker measures it.
	Calls, Failures, Slow int64
	AverageDuration       time.Duration
	// ConsecutiveFailures is the current run of failures while closed.
	ConsecutiveFailures int64

	// Probes is the number of probe calls in flight and ProbeSuccesses the
	// probes that succeeded, while half-open.
	Probes, ProbeSuccesses int
	// OpenUntil is when an open breaker lets the next probe through.
	OpenUntil time.Time
	// Rejected counts the calls rejected since NewBreaker.
	Rejected uint64
	// Forced: an operator holds the breaker in State (see ForceOpen and
	// ForceClosed), whatever the traffic, until released.
	Forced bool
}

// Snapshot returns the breaker's state and counts. It may be called from
// Hooks.OnBreakerChange.
func (b *Breaker) Snapshot() BreakerSnapshot {
	if b.word.Load() == 0 {
		b.lazyInit()
	}
	t := b.now()
	b.mu.Lock()
	w := b.word.Load()
	snap := BreakerSnapshot{
		State:      BreakerState(w & stateMask),
		Generation: w >> 2,
		Rejected:   b.rejected.Load(),
		// A force for a time is over once the time is up, even before
		// the call that ends it comes.
		Forced: b.forced == forcedClosed || b.forced == forcedOpen && (b.openUntil.IsZero() || t.Before(b.openUntil)),
	}
	switch snap.State {
	case BreakerOpen:
		snap.OpenUntil = b.openUntil
	case BreakerHalfOpen:
		snap.Probes, snap.ProbeSuccesses = b.probes, b.probeOK
	}
	st := b.stats.Load()
	b.mu.Unlock()
	if snap.State == BreakerClosed {
		c := b.closedCounts(st, t)
		snap.Calls, snap.Failures, snap.Slow = c.Calls, c.Failures, c.Slow
		snap.AverageDuration, snap.ConsecutiveFailures = c.AverageDuration, c.ConsecutiveFailures
	}
	return snap
}

// closedCounts returns the counts of the closed period whose stats are st,
// at time now.
func (b *Breaker) closedCounts(st *closedStats, now time.Time) BreakerCounts {
	c := BreakerCounts{ConsecutiveFailures: max(st.consecutive.Load(), 0)}
	tot := st.totals(now.Sub(b.base))
	c.Calls, c.Failures, c.Slow = tot.calls, min(tot.failures, tot.calls), min(tot.slow, tot.calls)
	if b.s.timed() && tot.calls > 0 {
		c.AverageDuration = time.Duration(tot.nanos / tot.calls)
	}
	return c
}

func (b *Breaker) now() time.Time { return now(b.s.clock) }

// ticket is what a call admitted by the breaker needs to report its
// outcome. It is a small value, so that admitting a call allocates nothing.
type ticket struct {
	word  uint64        // generation and state at admission
	stats *closedStats  // nil for a half-open probe
	start time.Duration // since b.base, if the breaker measures durations
}

// admit lets a call through or rejects it. A closed breaker that needs no
// clock takes this path: two atomic loads, no lock, no write; three with
// adaptive throttling, which sheds nothing while no call of the period has
// failed.
//
// The stats of a closed period are published before its word (see
// setState), so a call that loads the word of a closed period then
// finds its stats or those of a later period, never an earlier one; a
// call that finds stats of another period loads the word again.
//
// ctx is the call's, for the hooks.
func (b *Breaker) admit(ctx context.Context) (ticket, error) {
	w := b.word.Load()
	st := b.stats.Load()
	if w&b.fastMask != 0 || st == nil || st.word != w || st.throttles && st.failed() {
		return b.admitSlow(ctx)
	}
	return ticket{word: w, stats: st}, nil
}

func (b *Breaker) admitSlow(ctx context.Context) (ticket, error) {
	w := b.loadWord()
	if w&stateMask == uint64(BreakerClosed) && !b.s.timed() {
		// Closed, and the call's start does not matter: the clock is read
		// only if adaptive throttling needs it.
		if st := b.stats.Load(); st.word == w {
			if st.throttles && st.failed() && st.throttle(&b.s, b.throttleTime(st)) {
				return ticket{}, b.reject(ctx, rejectThrottled())
			}
			return ticket{word: w, stats: st}, nil
		}
	}
	return b.admitAt(ctx, w, b.now())
}

// throttleTime returns the time since the base that adaptive throttling
// over st needs: the time now for a time window, none for a count window.
func (b *Breaker) throttleTime(st *closedStats) time.Duration {
	if st.times == nil {
		return 0
	}
	return b.now().Sub(b.base)
}

// loadWord returns the breaker's word, making a zero Breaker ready first.
func (b *Breaker) loadWord() uint64 {
	if w := b.word.Load(); w != 0 {
		return w
	}
	return b.lazyInit()
}

// lazyInit makes a zero Breaker the Breaker of the zero BreakerConfig, once,
// and returns its word. The settings, base and stats are written before the
// word, which is stored last: a goroutine that loads a non-zero word sees
// them. fastMask stays zero, which is correct (if slower outside the
// closed state: see admit) because the default settings need no clock to
// admit a call.
func (b *Breaker) lazyInit() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if w := b.word.Load(); w != 0 {
		return w
	}
	s, err := (&BreakerConfig{}).settings()
	if err != nil {
		panic("retry: zero BreakerConfig is invalid: " + err.Error()) // cannot happen
	}
	b.s = s
	b.base = now(nil)
	b.stats.Store(newClosedStats(&b.s, 1<<2, false))
	b.word.Store(1 << 2)
	return 1 << 2
}

// admitAt is admit at time now for the cases that need a clock: a closed
// breaker that measures durations or throttles, and the other states,
// which take the lock.
func (b *Breaker) admitAt(ctx context.Context, w uint64, now time.Time) (ticket, error) {
	elapsed := now.Sub(b.base)
	if w&stateMask == uint64(BreakerClosed) {
		t := ticket{word: w, stats: b.stats.Load(), start: elapsed}
		if t.stats.word != w { // the breaker left that closed period
			return b.admitAt(ctx, b.word.Load(), now)
		}
		if t.stats.throttles && t.stats.throttle(&b.s, elapsed) {
			return ticket{}, b.reject(ctx, rejectThrottled())
		}
		return t, nil
	}
	b.mu.Lock()
	w = b.word.Load()
	switch BreakerState(w & stateMask) {
	case BreakerClosed: // it closed meanwhile
		b.mu.Unlock()
		return b.admitAt(ctx, w, now)
	case BreakerOpen:
		if b.forced == forcedOpen && b.openUntil.IsZero() || now.Before(b.openUntil) {
			until := b.openUntil
			b.mu.Unlock()
			return ticket{}, b.reject(ctx, rejectOpen(until, now))
		}
		b.forced = notForced // a force for a time is over
		w = b.setState(ctx, w, BreakerHalfOpen, ReasonOpenElapsed, now)
	}
	if b.probes >= b.s.probes {
		b.mu.Unlock()
		return ticket{}, b.reject(ctx, rejectProbes())
	}
	b.probes++
	b.mu.Unlock()
	t := ticket{word: w, start: elapsed}
	if b.s.onChange != nil {
		b.notifyAdmitted(ctx, t)
	}
	return t, nil
}

// reject counts a refused call and reports it to OnBreakerReject.
func (b *Breaker) reject(ctx context.Context, e *BreakerError) error {
	b.rejected.Add(1)
	if b.s.onReject != nil {
		b.s.onReject(ctx, BreakerReject{Name: b.s.name, Err: e})
	}
	return e
}

// notifyAdmitted delivers the queued changes of state for a probe t that
// has just taken its slot. The caller cannot release the slot if the hook
// panics (or calls runtime.Goexit), since admit does not return, so the
// slot is released here before the panic goes on: the call is not made.
func (b *Breaker) notifyAdmitted(ctx context.Context, t ticket) {
	delivered := false
	defer func() {
		if !delivered {
			b.finishProbe(ctx, t, BreakerIgnored, nil, time.Time{})
		}
	}()
	b.notify()
	delivered = true
}

func (b *Breaker) classifySlow(err error) BreakerOutcome {
	if err != nil && errors.Is(err, context.Canceled) {
		return BreakerIgnored // whatever Classify says: the caller gave up
	}
	if b.s.classify == nil {
		return defaultClassify(err)
	}
	return b.s.classify(err)
}

// outcome sorts the error of a call made with ctx. A failure once the
// caller has cancelled ctx is BreakerIgnored, whatever the error says: fn may
// return the cancellation's cause (ErrHedgeLost for a hedge loser, or a
// cause given to context.WithCancelCause, which net/http's HTTP/1
// transport returns as is) or whatever broke when its connection closed.
// A deadline is not a cancellation: it counts as classified.
func (b *Breaker) outcome(ctx context.Context, err error) BreakerOutcome {
	if err == nil && b.s.classify == nil {
		return BreakerSuccess // the fast path, inlined
	}
	return b.outcomeSlow(ctx, err)
}

func (b *Breaker) outcomeSlow(ctx context.Context, err error) BreakerOutcome {
	o := b.classifySlow(err)
	if o == BreakerFailure && ctx.Err() == context.Canceled {
		return BreakerIgnored
	}
	return o
}

// finish reports the outcome of an admitted call made with ctx; cause is
// its error. A success in a closed breaker without a window only reads the
// failure run, and resets it if it is not zero.
func (b *Breaker) finish(ctx context.Context, t ticket, o BreakerOutcome, cause error) {
	if !t.settled(o) {
		b.finishSlow(ctx, t, o, cause)
	}
}

// settled reports whether outcome o of the call of t needs no more work:
// a success in a closed breaker without a window whose failure run is
// zero. Stats of a closed period that is over are never read again, and a
// ticket's stats are those of its own period (see admit), so the
// generation need not be checked here.
func (t *ticket) settled(o BreakerOutcome) bool {
	return o == BreakerSuccess && t.stats != nil && t.stats.plain && t.stats.consecutive.Load() == 0
}

func (b *Breaker) finishSlow(ctx context.Context, t ticket, o BreakerOutcome, cause error) {
	switch {
	case t.stats == nil:
		b.finishProbe(ctx, t, o, cause, b.now())
		return
	case o == BreakerSuccess && t.stats.plain:
		t.stats.consecutive.Store(0)
		return
	case o == BreakerIgnored || b.word.Load() != t.word:
		return // not counted, or the breaker left that closed period
	}
	// Read the clock only if the window counts time or the call's duration
	// matters: a clock read is the dearest part of a call here.
	var now time.Time
	var elapsed, d time.Duration
	if t.stats.times != nil || b.s.timed() {
		now = b.now()
		elapsed = now.Sub(b.base)
		if b.s.timed() {
			d = elapsed - t.start
		}
	}
	// A breaker forced closed counts its calls (see Snapshot) but does
	// not trip.
	if why := t.stats.record(&b.s, o == BreakerFailure, elapsed, d); why != 0 && !t.stats.forced {
		if now.IsZero() {
			now = b.now()
		}
		b.trip(ctx, t.word, now, cause, why)
	}
}

// finishProbe reports the outcome of a half-open probe at time now.
func (b *Breaker) finishProbe(ctx context.Context, t ticket, o BreakerOutcome, cause error, now time.Time) {
	b.mu.Lock()
	w := b.word.Load()
	if w != t.word {
		b.mu.Unlock() // the half-open period it probed is over
		return
	}
	b.probes--
	switch o {
	case BreakerSuccess:
		b.probeOK++
		if b.probeOK >= b.s.successes {
			b.setState(ctx, w, BreakerClosed, ReasonProbesSucceeded, now)
			b.reopens = 0
		}
	case BreakerFailure:
		b.probeBad++
		b.reopens++
		b.open(ctx, w, now, cause, ReasonProbeFailed)
	}
	b.mu.Unlock()
	b.notify()
}

// trip opens a closed breaker whose call, admitted in generation and
// state w and made with ctx, fired the trip rule why at time now.
func (b *Breaker) trip(ctx context.Context, w uint64, now time.Time, cause error, why BreakerReason) {
	b.mu.Lock()
	if b.word.Load() != w {
		b.mu.Unlock() // another call tripped it first, or an operator acted
		return
	}
	b.open(ctx, w, now, cause, why)
	b.mu.Unlock()
	b.notify()
}

// open moves the breaker from w to open at time now, for the open
// duration that cause and the number of reopenings ask for. b.mu is held.
func (b *Breaker) open(ctx context.Context, w uint64, now time.Time, cause error, why BreakerReason) {
	b.openUntil = now.Add(b.openDuration(cause))
	b.setState(ctx, w, BreakerOpen, why, now)
}

// openDuration is the time to stay open: the delay cause asks for through
// After, if positive, or OpenDuration doubled for each reopening; capped
// by MaxOpenDuration either way. b.mu is held.
func (b *Breaker) openDuration(cause error) time.Duration {
	if d, ok := RequestedDelay(cause); ok && d > 0 {
		return min(d, b.s.maxOpen)
	}
	d := b.s.open
	for i := 0; i < b.reopens && d < b.s.maxOpen; i++ {
		if d > b.s.maxOpen/2 {
			return b.s.maxOpen // doubling would pass the cap, or overflow
		}
		d *= 2
	}
	return d
}

// setState starts the next generation, in state to, for the reason why at
// time now, and queues the change for OnBreakerChange with ctx, the
// context of the call that made it. A new closed period gets fresh stats,
// forced if b.forced says so; a new half-open one no probes; b.openUntil
// is set before a change to open. b.mu is held.
func (b *Breaker) setState(ctx context.Context, w uint64, to BreakerState, why BreakerReason, now time.Time) uint64 {
	next := nextWord(w, to)
	var ended BreakerCounts
	if b.s.onChange != nil {
		ended = b.periodCounts(w, now)
	}
	if to == BreakerClosed {
		// Fresh stats first, then the word: a lock-free admit that sees
		// the new closed word must not find the stats of an earlier
		// period (the failure run that tripped the breaker would trip it
		// again at the next failure).
		b.stats.Store(newClosedStats(&b.s, next, b.forced == forcedClosed))
	}
	b.word.Store(next)
	rejected := b.rejected.Load()
	ended.Rejected, b.rejectedAt = rejected-b.rejectedAt, rejected
	if to == BreakerHalfOpen {
		b.probes, b.probeOK, b.probeBad = 0, 0, 0
	}
	if b.s.onChange != nil {
		ch := BreakerChange{
			Name: b.s.name, From: BreakerState(w & stateMask), To: to,
			Reason: why, Manual: why.manual(), Forced: b.forced != notForced, Ended: ended,
		}
		if to == BreakerOpen {
			ch.Until = b.openUntil
		}
		b.events = append(b.events, queuedChange{ctx, ch})
	}
	return next
}

// periodCounts returns the counts of the period of word w, which is
// ending at time now. b.mu is held.
func (b *Breaker) periodCounts(w uint64, now time.Time) BreakerCounts {
	switch BreakerState(w & stateMask) {
	case BreakerClosed:
		return b.closedCounts(b.stats.Load(), now)
	case BreakerHalfOpen:
		return BreakerCounts{Calls: int64(b.probeOK + b.probeBad), Failures: int64(b.probeBad)}
	}
	return BreakerCounts{}
}

// nextWord is the word of the generation after w's, in state to.
func nextWord(w uint64, to BreakerState) uint64 { return (w>>2+1)<<2 | uint64(to) }
