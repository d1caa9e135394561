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
	openUntil time.Time
	reopens   int // opens since the breaker last closed, the first excluded
	probes    int // probe calls in flight
	probeOK   int // successful probes of this half-open period
	events    []stateChange
	notifying bool // a goroutine is delivering events
}

type stateChange struct{ from, to BreakerState }

const stateMask = 3

// NewBreaker returns a closed Breaker configured by cfg, or the error of
// cfg.Validate.
func NewBreaker(cfg BreakerConfig) (*Breaker, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	b := &Breaker{s: s, fastMask: stateMask}
	if s.timed() || s.adaptive {
		b.fastMask = ^uint64(0)
	}
	b.base = now(s.clock)
	b.stats.Store(newClosedStats(&b.s, 1<<2))
	b.word.Store(1 << 2) // generation 1, closed
	return b, nil
}

// State returns the breaker's state. An open breaker whose time is up
// reports BreakerOpen until a call makes it half-open.
func (b *Breaker) State() BreakerState { return BreakerState(b.word.Load() & stateMask) }

// BreakerSnapshot is a read-only view of a Breaker for metrics and tests.
type BreakerSnapshot struct {
	State      BreakerState
	Generation uint64 // 1 plus the changes of state since NewBreaker

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
}

// Snapshot returns the breaker's state and counts. It may be called from
// OnStateChange.
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
		snap.ConsecutiveFailures = max(st.consecutive.Load(), 0)
		tot := st.totals(t.Sub(b.base))
		snap.Calls, snap.Failures, snap.Slow = tot.calls, min(tot.failures, tot.calls), min(tot.slow, tot.calls)
		if b.s.timed() && tot.calls > 0 {
			snap.AverageDuration = time.Duration(tot.nanos / tot.calls)
		}
	}
	return snap
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
// clock takes this path: two atomic loads, no lock, no write.
//
// The stats of a closed period are published before its word (see
// finishProbe), so a call that loads the word of a closed period then
// finds its stats or those of a later period, never an earlier one; a
// call that finds stats of another period loads the word again.
func (b *Breaker) admit() (ticket, error) {
	w := b.word.Load()
	st := b.stats.Load()
	if w&b.fastMask != 0 || st == nil || st.word != w {
		return b.admitSlow()
	}
	return ticket{word: w, stats: st}, nil
}

func (b *Breaker) admitSlow() (ticket, error) {
	w := b.word.Load()
	if w == 0 {
		w = b.lazyInit()
	}
	return b.admitAt(w, b.now())
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
	b.stats.Store(newClosedStats(&b.s, 1<<2))
	b.word.Store(1 << 2)
	return 1 << 2
}

// admitAt is admit at time now for the cases that need a clock: a closed
// breaker that measures durations or throttles, and the other states,
// which take the lock.
func (b *Breaker) admitAt(w uint64, now time.Time) (ticket, error) {
	elapsed := now.Sub(b.base)
	if w&stateMask == uint64(BreakerClosed) {
		t := ticket{word: w, stats: b.stats.Load(), start: elapsed}
		if t.stats.word != w { // the breaker left that closed period
			return b.admitAt(b.word.Load(), now)
		}
		if b.s.adaptive && t.stats.throttle(&b.s, elapsed) {
			b.rejected.Add(1)
			return ticket{}, rejectThrottled()
		}
		return t, nil
	}
	b.mu.Lock()
	w = b.word.Load()
	switch BreakerState(w & stateMask) {
	case BreakerClosed: // it closed meanwhile
		b.mu.Unlock()
		return b.admitAt(w, now)
	case BreakerOpen:
		if now.Before(b.openUntil) {
			until := b.openUntil
			b.mu.Unlock()
			b.rejected.Add(1)
			return ticket{}, rejectOpen(until, now)
		}
		w = b.setState(w, BreakerHalfOpen)
		b.probes, b.probeOK = 0, 0
	}
	if b.probes >= b.s.probes {
		b.mu.Unlock()
		b.rejected.Add(1)
		return ticket{}, rejectProbes()
	}
	b.probes++
	b.mu.Unlock()
	t := ticket{word: w, start: elapsed}
	if b.s.hook != nil {
		b.notifyAdmitted(t)
	}
	return t, nil
}

// notifyAdmitted delivers the queued changes of state for a probe t that
// has just taken its slot. The caller cannot release the slot if the hook
// panics (or calls runtime.Goexit), since admit does not return, so the
// slot is released here before the panic goes on: the call is not made.
func (b *Breaker) notifyAdmitted(t ticket) {
	delivered := false
	defer func() {
		if !delivered {
			b.finishProbe(t, BreakerIgnored, nil, time.Time{})
		}
	}()
	b.notify()
	delivered = true
}

// classify sorts a call's error, calling the default classifier directly
// when there is no other.
func (b *Breaker) classify(err error) BreakerOutcome {
	if err == nil && b.s.classify == nil {
		return BreakerSuccess
	}
	return b.classifySlow(err)
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

// finish reports the outcome of an admitted call; cause is its error. A
// success in a closed breaker without a window only reads the failure
// run, and resets it if it is not zero.
func (b *Breaker) finish(t ticket, o BreakerOutcome, cause error) {
	// Stats of a closed period that is over are never read again, and a
	// ticket's stats are those of its own period (see admit), so the
	// generation need not be checked here.
	if o == BreakerSuccess && t.stats != nil && t.stats.plain && t.stats.consecutive.Load() == 0 {
		return
	}
	b.finishSlow(t, o, cause)
}

func (b *Breaker) finishSlow(t ticket, o BreakerOutcome, cause error) {
	switch {
	case t.stats == nil:
		b.finishProbe(t, o, cause, b.now())
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
	if t.stats.record(&b.s, o == BreakerFailure, elapsed, d) {
		if now.IsZero() {
			now = b.now()
		}
		b.trip(t.word, now, cause)
	}
}

// finishProbe reports the outcome of a half-open probe at time now.
func (b *Breaker) finishProbe(t ticket, o BreakerOutcome, cause error, now time.Time) {
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
			// Fresh stats first, then the word: a lock-free admit that
			// sees the new closed word must not find the stats of the
			// period that tripped (its failure run would trip the
			// breaker again at the next failure).
			b.stats.Store(newClosedStats(&b.s, nextWord(w, BreakerClosed)))
			b.setState(w, BreakerClosed)
			b.reopens = 0
		}
	case BreakerFailure:
		b.reopens++
		b.open(w, now, cause)
	}
	b.mu.Unlock()
	b.notify()
}

// trip opens a closed breaker whose call, admitted in generation and
// state w, fired a trip rule at time now.
func (b *Breaker) trip(w uint64, now time.Time, cause error) {
	b.mu.Lock()
	if b.word.Load() != w {
		b.mu.Unlock() // another call tripped it first
		return
	}
	b.open(w, now, cause)
	b.mu.Unlock()
	b.notify()
}

// open moves the breaker from w to open at time now, for the open
// duration that cause and the number of reopenings ask for. b.mu is held.
func (b *Breaker) open(w uint64, now time.Time, cause error) {
	b.setState(w, BreakerOpen)
	b.openUntil = now.Add(b.openDuration(cause))
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

// setState starts the next generation in state to and queues the change
// for OnStateChange. b.mu is held.
func (b *Breaker) setState(w uint64, to BreakerState) uint64 {
	next := nextWord(w, to)
	b.word.Store(next)
	if b.s.hook != nil {
		b.events = append(b.events, stateChange{BreakerState(w & stateMask), to})
	}
	return next
}

// nextWord is the word of the generation after w's, in state to.
func nextWord(w uint64, to BreakerState) uint64 { return (w>>2+1)<<2 | uint64(to) }
