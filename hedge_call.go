package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// PanicError is a panic recovered from an attempt of Hedge. A panic in an
// attempt of an undecided call is raised again in the caller's goroutine
// as a *PanicError; one in an attempt that ended after the call was
// decided, which could not reach the caller, goes to
// HedgePolicy.OnDiscard. Hooks.OnDone also receives one as the error of a
// call that panicked: for Retry and Do, with no Stack (the panic goes on
// with its own) and Attempt the attempt that was running, if any.
//
// Its message, unlike any other error of this package, spans several
// lines: it ends with the attempt's stack, so that the crash report of an
// unrecovered panic shows where fn panicked. To log it on one line, log
// Attempt and Value instead.
type PanicError struct {
	Attempt int    // number of the attempt that panicked
	Value   any    // the value passed to panic
	Stack   []byte // the attempt goroutine's stack when it panicked

	inRetry bool // from Retry or Do: no stack, and no hedged attempt
}

// Error returns the attempt, the panic value and the attempt's stack.
func (p *PanicError) Error() string {
	if p.inRetry {
		return fmt.Sprintf("retry: call panicked in attempt %d: %v", p.Attempt, p.Value)
	}
	return fmt.Sprintf("retry: hedged attempt %d panicked: %v\n\n%s", p.Attempt, p.Value, p.Stack)
}

// Unwrap returns the panic value if it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// result is what an attempt sends back: exactly one per attempt.
type result[T any] struct {
	n        int // attempt number, from 1
	v        T
	err      error
	took     time.Duration // attempt 1 only, with a Latency tracker: from the call's start to fn's return
	panicked bool          // fn panicked (value in pv) or called runtime.Goexit (goexit)
	goexit   bool
	pv       any
	stack    []byte
}

// hedgeCall is the state of one call of Hedge. The caller's goroutine runs
// the call (the coordinator); attempts run in their own goroutines and
// share only results, mu and decided with it, and each writes its own
// result's slot, under mu, before sending its number. No attempt writes
// anything else: only the coordinator picks the winner.
type hedgeCall[T any] struct {
	h   *HedgePolicy
	ctx context.Context // the caller's, for the hooks
	fn  func(context.Context) (T, error)
	max int
	// results carries the numbers of the attempts whose result is in
	// its slot (see slot): capacity max, so a send never blocks. A
	// channel of ints is one allocation, one of results two.
	results chan int
	first   hedgeAttempt[T]   // attempt 1
	rest    []hedgeAttempt[T] // the others, made as attempt 2 starts

	mu      sync.Mutex
	decided bool // the call has its outcome; later results are their attempts' own to discard, and none is sent
	won     bool // an attempt won; written before decided, so whoever sees decided sees it

	// Owned by the coordinator.
	started  int
	running  int
	hedges   int // attempts started while another ran
	errs     []error
	begin    time.Time // when the call started, if Latency or a hook needs it
	delay    time.Duration
	timer    *time.Timer
	tick     <-chan time.Time // the next timed hedge; nil when none is due
	stop     error            // why no more attempts start, if known
	returned bool             // win or fail returned normally
	reported bool             // Hooks.OnDone was called
}

// run is the coordinator: it starts attempts and waits for a result, the
// hedge delay or the caller's context, until the call is decided.
func (c *hedgeCall[T]) run(ctx context.Context) (T, context.CancelCauseFunc, error) {
	h := c.h
	if ctx.Err() != nil { // no attempt for a caller who is gone
		var zero T
		err := &Error{Reason: ctxReason(ctx)}
		if h.Hooks != nil && h.Hooks.OnDone != nil {
			h.Hooks.OnDone(ctx, CallEvent{Name: h.Name, Err: err})
		}
		return zero, nil, err
	}
	if h.Budget != nil {
		h.Budget.First()
	}
	if h.Latency != nil || h.Hooks != nil && (h.Hooks.OnHedge != nil || h.Hooks.OnDone != nil) {
		c.begin = now(h.Clock)
	}
	c.launch(ctx)
	if c.max > 1 {
		c.delay = h.delay()
		c.arm(c.delay)
	}
	defer c.cleanup()
	for {
		select {
		case n := <-c.results:
			r := *c.slot(n)
			c.running--
			if r.panicked {
				c.reraise(r)
			}
			if r.err == nil {
				return c.win(r)
			}
			if reason := c.failed(ctx, r.err); reason != nil {
				return c.fail(reason)
			}
		case <-c.tick:
			c.tick = nil
			c.extra(ctx, nil)
		case <-ctx.Done():
			return c.fail(ctxReason(ctx))
		}
		// Nothing running and nothing due (c.tick is set only while
		// another attempt may start): nothing more can come.
		if c.running == 0 && c.tick == nil {
			return c.fail(c.stopReason())
		}
	}
}

// stopReason is why the call ended with no attempt left running.
func (c *hedgeCall[T]) stopReason() error {
	if c.stop != nil {
		return c.stop
	}
	return ErrExhausted
}

// launch starts the next attempt in its own goroutine.
func (c *hedgeCall[T]) launch(ctx context.Context) {
	n := c.started + 1
	cctx, cancel := context.WithCancelCause(ctx)
	if n == 2 {
		c.rest = make([]hedgeAttempt[T], c.max-1)
	}
	a := c.at(n)
	// The attempt's context is marked inside c, which is allocated
	// anyway: one allocation fewer than withAttempt.
	actx := &a.ctx
	actx.Context, actx.a = cctx, boxAttempt(Attempt{Number: n, Hedge: c.running > 0})
	a.cancel = cancel
	c.started = n
	if c.running > 0 {
		c.hedges++
	}
	c.running++
	go c.attempt(actx, n)
}

// attempt runs fn once and delivers its outcome, a panic included.
func (c *hedgeCall[T]) attempt(ctx context.Context, n int) {
	r := result[T]{n: n}
	returned := false
	defer func() {
		if !returned {
			if c.h.OnDiscard == nil && c.isDecided() {
				// No caller left to raise it in, and no hook to take it:
				// let it run its course, with its own stack.
				return
			}
			r.panicked = true
			if r.pv = recover(); r.pv == nil {
				r.goexit = true // recover returns nil only for runtime.Goexit
			} else {
				r.stack = debug.Stack()
			}
		}
		c.deliver(r)
	}()
	var began time.Time
	watch := c.h.Hooks != nil && c.h.Hooks.OnAttempt != nil
	if watch {
		began = now(c.h.Clock)
	}
	r.v, r.err = c.fn(ctx)
	if watch {
		c.report(ctx, &r, began)
	}
	returned = true
	if n == 1 && c.h.Latency != nil {
		r.took = now(c.h.Clock).Sub(c.begin)
	}
}

// report calls Hooks.OnAttempt for the attempt that returned r, which
// began at began. If the hook panics, the panic is the attempt's (see
// attempt), and a value that r held is discarded: it never reaches the
// coordinator.
func (c *hedgeCall[T]) report(ctx context.Context, r *result[T], began time.Time) {
	reported := false
	defer func() {
		if !reported && r.err == nil {
			v := r.v
			var zero T
			r.v = zero
			c.discardValue(v)
		}
	}()
	c.h.Hooks.OnAttempt(ctx, AttemptEvent{Name: c.h.Name, Attempt: r.n, Hedge: c.isHedge(ctx),
		Duration: since(c.h.Clock, began), Err: r.err})
	reported = true
}

// isHedge reports whether the attempt of ctx started while another ran.
func (c *hedgeCall[T]) isHedge(ctx context.Context) bool {
	a, _ := AttemptFrom(ctx)
	return a.Hedge
}

// hedgeAttempt is what a hedged call keeps of one of its attempts.
type hedgeAttempt[T any] struct {
	ctx    attemptCtx // the attempt's context, marked with its Attempt
	cancel context.CancelCauseFunc
	// res is where the attempt's result waits for the coordinator: the
	// attempt writes it before sending its number on results, and the
	// coordinator reads it after receiving the number.
	res result[T]
}

// at returns attempt n's, which the coordinator sets before the attempt
// starts.
func (c *hedgeCall[T]) at(n int) *hedgeAttempt[T] {
	if n == 1 {
		return &c.first
	}
	return &c.rest[n-2]
}

// slot is where the result of attempt n waits for the coordinator.
func (c *hedgeCall[T]) slot(n int) *result[T] { return &c.at(n).res }

// deliver hands r to the coordinator, or discards it if the call is
// already decided.
func (c *hedgeCall[T]) deliver(r result[T]) {
	c.mu.Lock()
	if !c.decided {
		*c.slot(r.n) = r
		c.results <- r.n
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if p := c.discard(r); p != nil {
		panic(p) // no caller to raise it in: crash, with the attempt's stack
	}
}

func (c *hedgeCall[T]) isDecided() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.decided
}

// extra starts one more attempt, unless the call has started all it may
// or the context or the budget refuses; a refusal halts the call. It arms
// the timer for the attempt after it. err is the failure that asks for it,
// or nil for a timed hedge.
func (c *hedgeCall[T]) extra(ctx context.Context, err error) {
	h := c.h
	c.disarm()
	switch {
	case c.started >= c.max:
		return
	case ctx.Err() != nil:
		c.halt(ctxReason(ctx))
		return
	case h.Budget != nil && !h.Budget.Extra():
		c.halt(ErrBudgetExhausted)
		h.Hooks.refused(ctx, h.Name, h.Budget, c.started+1)
		return
	}
	if h.Hooks != nil && h.Hooks.OnHedge != nil {
		h.Hooks.OnHedge(ctx, HedgeEvent{Name: h.Name, Attempt: c.started + 1, Running: c.running,
			Elapsed: since(h.Clock, c.begin), Delay: c.delay, Err: err})
		if ctx.Err() != nil { // the hook ended the call: no attempt on a dead context
			c.halt(ctxReason(ctx))
			return
		}
	}
	c.launch(ctx)
	if c.started < c.max {
		c.arm(c.delay) // the next timed hedge counts from this attempt
	}
}

// halt starts no further attempt in this call and leaves the running ones
// alone: the call ends with reason (or the first reason given) when the
// last of them has failed.
func (c *hedgeCall[T]) halt(reason error) {
	if c.stop == nil {
		c.stop = reason
	}
	c.max = c.started
	c.disarm()
}

// failed handles a failed attempt: it returns the reason to end the call
// now, cancelling the others, or nil to go on. Every failure that Retry
// would count is counted in the Budget, once.
func (c *hedgeCall[T]) failed(ctx context.Context, err error) error {
	h := c.h
	c.errs = append(c.errs, err)
	if ctx.Err() != nil {
		return ctxReason(ctx)
	}
	if isPermanent(err) {
		return ErrNotRetryable
	}
	// The third outcome (gRFC A6): start no more copies, but let the
	// attempts already running finish. A breaker's refusal of one copy
	// says nothing about the others, a probe above all, and costs the
	// Budget nothing: nothing was sent.
	if rej, ok := errors.AsType[*BreakerError](err); ok {
		c.halt(rej)
		return nil
	}
	retryable := h.Retryable == nil || h.Retryable(err)
	if retryable && h.Budget != nil && !isShed(err) { // a load shedder's refusal: nothing was sent
		h.Budget.Result(false)
	}
	if stopsHedging(err) {
		c.halt(ErrExhausted)
		return nil
	}
	if !retryable {
		return ErrNotRetryable
	}
	if wait, ok := RequestedDelay(err); ok {
		// Server pushback: no copy at once, but after the wait asked
		// for. A negative wait means no more copies at all; a wait past
		// the deadline likewise.
		limit := orDefault(h.MaxAfter, defaultMaxAfter)
		switch {
		case wait < 0:
			c.halt(ErrNotRetryable)
		case wait > limit:
			c.halt(&PushbackError{Requested: wait, Limit: limit})
		case pastDeadline(ctx, c.h.Clock, wait):
			c.halt(ErrDeadline)
		case c.started < c.max:
			c.arm(wait)
		}
		return nil
	}
	c.extra(ctx, err)
	return nil
}

func pastDeadline(ctx context.Context, clk Clock, wait time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && wait >= dl.Sub(now(clk))
}

// win ends the call with r's value. The call is decided before any hook
// runs, so that later results are their attempts' own to discard, and the
// value is either returned or, if a hook panics, discarded: never lost.
func (c *hedgeCall[T]) win(r result[T]) (T, context.CancelCauseFunc, error) {
	h := c.h
	c.won = true
	c.markDecided()
	c.cancelAll(r.n, ErrHedgeLost)
	kept := false
	defer func() {
		if !kept { // a hook panicked, or a loser did before the decision
			c.at(r.n).cancel(errCallEnded)
			c.discardValue(r.v)
		}
	}()
	if h.Budget != nil {
		h.Budget.Result(true)
	}
	if r.n == 1 && h.Latency != nil {
		h.Latency.Record(r.took)
	}
	if p := c.drain(); p != nil {
		panic(p)
	}
	c.done(r.n, nil)
	kept = true
	c.returned = true
	return r.v, c.at(r.n).cancel, nil
}

// fail ends the call with no winner. A breaker's refusal is its reason
// only if the last attempt to end was refused: a copy refused while the
// half-open breaker's probe ran is stale once that probe has failed.
func (c *hedgeCall[T]) fail(reason error) (T, context.CancelCauseFunc, error) {
	if _, ok := reason.(*BreakerError); ok && len(c.errs) > 0 {
		if _, last := errors.AsType[*BreakerError](c.errs[len(c.errs)-1]); !last {
			reason = ErrExhausted
		}
	}
	c.cancelAll(0, errCallEnded)
	err := &Error{Attempts: c.started, Reason: reason, Last: joinErrors(c.errs), hedged: true}
	c.markDecided()
	if p := c.drain(); p != nil {
		panic(p)
	}
	c.done(0, err)
	c.returned = true
	var zero T
	return zero, nil, err
}

// done reports the call's end to Hooks.OnDone, if set, once: won by
// attempt winner, or failed with err.
func (c *hedgeCall[T]) done(winner int, err error) {
	h := c.h
	if h.Hooks == nil || h.Hooks.OnDone == nil || c.reported {
		return
	}
	c.reported = true
	h.Hooks.OnDone(c.ctx, CallEvent{Name: h.Name, Attempts: c.started, Hedges: c.hedges, Winner: winner,
		Duration: since(h.Clock, c.begin), Err: err})
}

// reraise ends the call with the panic, or runtime.Goexit, of attempt r,
// raised again on the caller's goroutine. A panic is raised as a
// *PanicError, which carries the stack of the attempt's goroutine: the
// caller's own stack says nothing of where fn panicked.
func (c *hedgeCall[T]) reraise(r result[T]) {
	c.cancelAll(0, errCallEnded)
	c.markDecided()
	c.drain()
	p := &PanicError{Attempt: r.n, Value: r.pv, Stack: r.stack}
	if r.goexit {
		c.done(0, &PanicError{Attempt: r.n, Value: errGoexit})
		runtime.Goexit()
	}
	c.done(0, p)
	panic(p)
}

// cancelAll cancels the context of every attempt but the winner (0 for
// none).
func (c *hedgeCall[T]) cancelAll(winner int, cause error) {
	for i := range c.started {
		if i+1 != winner {
			c.at(i + 1).cancel(cause)
		}
	}
}

// markDecided marks the call decided, so that attempts still running
// discard their own results; none is sent after it.
func (c *hedgeCall[T]) markDecided() {
	c.mu.Lock()
	c.decided = true
	c.mu.Unlock()
}

// drain discards the results sent before the call was decided. It returns
// the first of those that panicked, if OnDiscard does not take it, for the
// caller to raise.
func (c *hedgeCall[T]) drain() *PanicError {
	var first *PanicError
	for {
		select {
		case n := <-c.results:
			if p := c.discard(*c.slot(n)); p != nil && first == nil {
				first = p
			}
		default:
			return first
		}
	}
}

// discard disposes of a result that came after the call was decided. It
// returns a panic that OnDiscard did not take.
func (c *hedgeCall[T]) discard(r result[T]) *PanicError {
	if r.n == 1 && c.won && !r.panicked && c.h.Latency != nil {
		c.recordLoser(r)
	}
	switch {
	case r.goexit:
	case r.panicked:
		p := &PanicError{Attempt: r.n, Value: r.pv, Stack: r.stack}
		if c.h.OnDiscard == nil {
			return p
		}
		c.h.OnDiscard(p)
	case r.err == nil:
		c.discardValue(r.v)
	}
	return nil
}

// recordLoser records a first attempt that returned after another attempt
// had won (see HedgePolicy.Latency): its latency if it succeeded anyway,
// else, as it was most likely cut short by its cancellation, the time it
// ran plus half the delay. It ran past the delay, and its sample must land
// above the quantile whenever its true latency would: the time it ran
// alone, a lower bound, lets a delay that is too short stay too short on a
// long tail; the full delay on top makes the delay overshoot when slow
// samples crowd the window (docs/measurements.md).
func (c *hedgeCall[T]) recordLoser(r result[T]) {
	if r.err != nil {
		r.took += c.delay / 2
	}
	c.h.Latency.Record(r.took)
}

// discardValue releases a successful value that is not returned.
func (c *hedgeCall[T]) discardValue(v T) {
	if c.h.OnDiscard != nil {
		c.h.OnDiscard(v)
	} else if cl, ok := any(v).(io.Closer); ok {
		_ = cl.Close()
	}
}

// arm schedules the next timed hedge d from now.
func (c *hedgeCall[T]) arm(d time.Duration) {
	switch {
	case c.h.Clock != nil:
		c.tick = c.h.Clock.After(d)
	case c.timer == nil:
		c.timer = time.NewTimer(d)
		c.tick = c.timer.C
	default:
		c.timer.Reset(d)
		c.tick = c.timer.C
	}
}

// disarm cancels the next timed hedge, if any.
func (c *hedgeCall[T]) disarm() {
	if c.tick != nil && c.timer != nil {
		c.timer.Stop()
	}
	c.tick = nil
}

// cleanup stops the timer and, if the call did not return normally (fn
// panicked, or a callback did: OnHedge, Retryable, the Budget, OnDiscard),
// ends it so that no attempt is left running uncancelled, the winner's
// included, and no result undisposed.
//
// A panic not yet reported (a callback's, as a *PanicError of attempt 0,
// or a loser's found as the call was decided) is reported to
// Hooks.OnDone, if set, and goes on with the same value.
func (c *hedgeCall[T]) cleanup() {
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.returned {
		return
	}
	c.cancelAll(0, errCallEnded)
	c.markDecided()
	c.drain()
	if h := c.h.Hooks; h == nil || h.OnDone == nil || c.reported {
		return
	}
	r := recover()
	p, ok := r.(*PanicError) // a loser's, found as the call was decided
	switch {
	case r == nil:
		p = &PanicError{Value: errGoexit}
	case !ok:
		p = &PanicError{Value: r}
	}
	c.done(0, p)
	if r != nil {
		panic(r)
	}
}
