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

// PanicError is a panic recovered from an attempt of Hedge after the call
// had been decided, so that it could not reach the caller: OnDiscard
// receives it. A panic in an attempt of an undecided call is raised again
// in the caller with its own value instead.
type PanicError struct {
	Attempt int    // number of the attempt that panicked
	Value   any    // the value passed to panic
	Stack   []byte // the attempt goroutine's stack when it panicked
}

func (p *PanicError) Error() string {
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
	panicked bool // fn panicked (value in pv) or called runtime.Goexit (goexit)
	goexit   bool
	pv       any
	stack    []byte
}

// hedgeCall is the state of one call of Hedge. The caller's goroutine runs
// the call (the coordinator); attempts run in their own goroutines and
// share only results, mu and decided with it. No attempt writes anything
// else: only the coordinator picks the winner.
type hedgeCall[T any] struct {
	h       *HedgePolicy
	fn      func(context.Context) (T, error)
	max     int
	results chan result[T] // capacity max: a send never blocks

	mu      sync.Mutex
	decided bool // the call has its outcome; later results are their attempts' own to discard

	// Owned by the coordinator.
	cancels  [MaxHedgeAttempts]context.CancelCauseFunc
	finished [MaxHedgeAttempts]bool
	started  int
	running  int
	errs     []error
	begin    time.Time // when the call started, if OnHedge or Latency needs it
	delay    time.Duration
	timer    *time.Timer
	tick     <-chan time.Time // the next timed hedge; nil when none is due
	stop     error            // why no more attempts start, if known
	returned bool             // win or fail returned normally
}

// run is the coordinator: it starts attempts and waits for a result, the
// hedge delay or the caller's context, until the call is decided.
func (c *hedgeCall[T]) run(ctx context.Context) (T, context.CancelCauseFunc, error) {
	h := c.h
	if ctx.Err() != nil { // no attempt for a caller who is gone
		var zero T
		return zero, nil, &Error{Reason: ctxReason(ctx)}
	}
	if h.Budget != nil {
		h.Budget.First()
	}
	if h.OnHedge != nil || h.Latency != nil {
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
		case r := <-c.results:
			c.running--
			c.finished[r.n-1] = true
			if r.panicked {
				c.reraise(r)
			}
			if r.err == nil {
				return c.win(r)
			}
			if reason := c.failed(ctx, r.err); reason != nil {
				return c.fail(reason)
			}
			if wait, ok := RequestedDelay(r.err); ok {
				// Server pushback: no copy at once. A negative delay
				// means no more copies at all; a wait past the deadline
				// likewise.
				if reason := c.pushback(ctx, wait); reason != nil {
					c.max, c.stop = c.started, reason
				}
			} else if c.started < c.max {
				if why := c.extra(ctx, r.err); why != nil {
					c.stop = why
				} else if c.started < c.max {
					c.arm(c.delay) // the next timed hedge counts from this attempt
				}
			}
			if c.running == 0 && (c.started == c.max || c.tick == nil) {
				return c.fail(c.stopReason())
			}
		case <-c.tick:
			c.tick = nil
			if c.started < c.max {
				if why := c.extra(ctx, nil); why != nil {
					c.stop = why
				} else if c.started < c.max {
					c.arm(c.delay)
				}
			}
			if c.running == 0 { // after a pushback, with the hedge refused
				return c.fail(c.stopReason())
			}
		case <-ctx.Done():
			return c.fail(ctxReason(ctx))
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
	actx, cancel := context.WithCancelCause(ctx)
	actx = withAttempt(actx, Attempt{Number: n, Hedge: c.running > 0})
	c.cancels[n-1] = cancel
	c.started = n
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
	r.v, r.err = c.fn(ctx)
	returned = true
}

// deliver hands r to the coordinator, or discards it if the call is
// already decided.
func (c *hedgeCall[T]) deliver(r result[T]) {
	c.mu.Lock()
	if !c.decided {
		c.results <- r
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

// extra starts one more attempt if the caller's context and the budget
// allow it, and otherwise returns the reason it did not. err is the failure that asks for
// it, or nil for a timed hedge.
func (c *hedgeCall[T]) extra(ctx context.Context, err error) error {
	h := c.h
	switch {
	case ctx.Err() != nil:
		return ctxReason(ctx)
	case h.Budget != nil && !h.Budget.Extra():
		return ErrBudgetExhausted
	}
	if h.OnHedge != nil {
		h.OnHedge(HedgeEvent{Attempt: c.started + 1, Running: c.running, Elapsed: now(h.Clock).Sub(c.begin), Delay: c.delay, Err: err})
	}
	c.launch(ctx)
	return nil
}

// pushback handles a failure by which the server asked for a wait before
// the next attempt (see After): the next hedge starts after that wait
// instead of at once. It returns the reason to start no more attempts: the
// server asked for none (a negative wait), or the wait would pass the
// context's deadline.
func (c *hedgeCall[T]) pushback(ctx context.Context, wait time.Duration) error {
	if wait < 0 {
		return ErrNotRetryable
	}
	if dl, ok := ctx.Deadline(); ok && wait >= dl.Sub(now(c.h.Clock)) {
		return ErrDeadline
	}
	if c.started < c.max {
		c.arm(wait)
	}
	return nil
}

// failed records a failed attempt and returns the reason to stop the call
// now, or nil to go on.
func (c *hedgeCall[T]) failed(ctx context.Context, err error) error {
	c.errs = append(c.errs, err)
	if ctx.Err() != nil {
		return ctxReason(ctx)
	}
	if isPermanent(err) || c.h.Retryable != nil && !c.h.Retryable(err) {
		return ErrNotRetryable
	}
	if c.h.Budget != nil {
		c.h.Budget.Result(false)
	}
	return nil
}

// win ends the call with r's value.
func (c *hedgeCall[T]) win(r result[T]) (T, context.CancelCauseFunc, error) {
	h := c.h
	if h.Budget != nil {
		h.Budget.Result(true)
	}
	if h.Latency != nil {
		switch {
		case r.n == 1:
			h.Latency.Record(now(h.Clock).Sub(c.begin))
		case !c.finished[0]:
			// The first attempt lost while still running, so the first
			// hedge started on the timer: the first attempt took longer
			// than the delay. Record that lower bound (see HedgePolicy.Latency).
			h.Latency.Record(c.delay)
		}
	}
	c.cancelAll(r.n, ErrHedgeLost)
	if p := c.decide(); p != nil {
		c.discardValue(r.v)
		c.cancels[r.n-1](errCallEnded)
		panic(p.Value)
	}
	c.returned = true
	return r.v, c.cancels[r.n-1], nil
}

// fail ends the call with no winner.
func (c *hedgeCall[T]) fail(reason error) (T, context.CancelCauseFunc, error) {
	c.cancelAll(0, errCallEnded)
	err := &Error{Attempts: c.started, Reason: reason, Last: joinErrors(c.errs)}
	if p := c.decide(); p != nil {
		panic(p.Value)
	}
	c.returned = true
	var zero T
	return zero, nil, err
}

// reraise ends the call with the panic, or runtime.Goexit, of attempt r,
// raised again on the caller's goroutine.
func (c *hedgeCall[T]) reraise(r result[T]) {
	c.cancelAll(0, errCallEnded)
	c.decide()
	if r.goexit {
		runtime.Goexit()
	}
	panic(r.pv)
}

// cancelAll cancels the context of every attempt but the winner (0 for
// none).
func (c *hedgeCall[T]) cancelAll(winner int, cause error) {
	for i := range c.started {
		if i+1 != winner {
			c.cancels[i](cause)
		}
	}
}

// decide marks the call decided, so that attempts still running discard
// their own results, and discards the results already sent. It returns
// the first of those that panicked, if OnDiscard does not take it, for
// the caller to raise.
func (c *hedgeCall[T]) decide() *PanicError {
	c.mu.Lock()
	c.decided = true
	c.mu.Unlock()
	var first *PanicError
	for {
		select {
		case r := <-c.results:
			if p := c.discard(r); p != nil && first == nil {
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

// cleanup stops the timer and, if a callback (OnHedge, Retryable, the
// Budget) panicked on the coordinator, ends the call so that no attempt is
// left running uncancelled and no result undisposed.
func (c *hedgeCall[T]) cleanup() {
	if c.timer != nil {
		c.timer.Stop()
	}
	switch {
	case !c.decided: // written only by this goroutine
		c.cancelAll(0, errCallEnded)
		c.decide()
	case !c.returned:
		// A hook (OnDiscard, the Budget, the Latency tracker) panicked
		// after the decision: the winner's context must not outlive it.
		c.cancelAll(0, errCallEnded)
	}
}

func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
