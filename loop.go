package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// call is the state of one call of Retry or Do past its first attempt.
type call struct {
	p           *Policy
	start       time.Time // when the call started, if MaxElapsed is set
	deadline    time.Time // the context's, if hasDeadline
	hasDeadline bool
	maxAttempts int
	prev        time.Duration // the last wait
	fixed       bool          // the Backoff waits the same every time (a Constant without jitter)...
	wait        time.Duration // ...this long
}

// run makes the attempts of a call after its first, which the fast path
// made and which returned v and err, or all of them if err is nil.
func run[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error), v T, err error) (T, error) {
	c := call{p: p, maxAttempts: p.maxAttempts()}
	if p.MaxElapsed > 0 {
		c.start = now(p.Clock)
	}
	c.deadline, c.hasDeadline = ctx.Deadline()
	bare := p.plain() // each attempt is a call of fn, and nothing else
	// Callbacks that run after the loop reads the context.
	hooks := p.Hooks != nil || p.Retryable != nil || p.Budget != nil
	// Nothing but the Backoff and MaxAttempts decides after an error
	// without marks: no callback to ask, and no end to fit a wait in.
	simple := p.Retryable == nil && p.Budget == nil && p.MaxElapsed <= 0 && !c.hasDeadline
	if b, ok := p.Backoff.(Constant); ok && b.Jitter == NoJitter {
		c.wait, c.fixed = b.Delay(0, 0, 0), true
	}
	if err == nil {
		if p.Budget != nil {
			p.Budget.First()
		}
		var cut bool
		if v, err, cut = attempt(ctx, p, 1, c.start, fn); err == nil {
			return v, nil
		} else if cut {
			return v, &Error{Attempts: 1, Reason: ErrElapsed, Last: err}
		}
	}
	for n := 1; ; n++ {
		// Once the caller's context is done, no error is retried.
		if ctx.Err() != nil {
			return v, &Error{Attempts: n, Reason: ctxReason(ctx), Last: err}
		}
		var delay time.Duration
		var reason error
		if m := marksOf(err); simple && n < c.maxAttempts && m.none() {
			delay, reason = c.delay(n) // what next would decide, in short
		} else {
			delay, reason = c.next(n, err, m)
		}
		if reason != nil {
			if reason == ErrBudgetExhausted {
				p.Hooks.refused(ctx, p.Name, p.Budget, n+1)
			}
			return v, &Error{Attempts: n, Reason: reason, Last: err}
		}
		c.prev = delay
		if h := p.Hooks; h != nil && h.OnRetry != nil {
			h.OnRetry(ctx, RetryEvent{Name: p.Name, Attempt: n, Err: err, Delay: delay})
		}
		// A zero wait still sees a context that a callback ended.
		if delay > 0 && sleep(ctx, p.Clock, delay) != nil || delay == 0 && hooks && ctx.Err() != nil {
			return v, &Error{Attempts: n, Reason: ctxReason(ctx), Last: err}
		}
		if bare {
			if v, err = fn(ctx); err == nil {
				return v, nil
			}
			continue
		}
		// A wait that ended late (a busy machine's timer) must not start
		// an attempt past the end of the call.
		if p.MaxElapsed > 0 && now(p.Clock).Sub(c.start) >= p.MaxElapsed {
			return v, &Error{Attempts: n, Reason: ErrElapsed, Last: err}
		}
		var cut bool
		if v, err, cut = attempt(ctx, p, n+1, c.start, fn); err == nil {
			return v, nil
		} else if cut {
			return v, &Error{Attempts: n + 1, Reason: ErrElapsed, Last: err}
		}
	}
}

// next decides what follows failed attempt n, whose error has marks m,
// while the caller's context is live: the wait before attempt n+1, or the
// reason to stop.
func (c *call) next(n int, err error, m marks) (time.Duration, error) {
	p := c.p
	if m.permanent {
		return 0, ErrNotRetryable
	}
	if m.rejection != nil {
		return c.probe(n, m)
	}
	if p.Retryable != nil && !p.Retryable(err) {
		return 0, ErrNotRetryable
	}
	if p.Budget != nil && !m.unsent { // a load shedder's refusal: nothing was sent
		p.Budget.Result(false)
	}
	if n >= c.maxAttempts {
		return 0, ErrExhausted
	}
	var delay time.Duration
	var reason error
	if m.after != nil {
		delay, reason = pushback(m.after, p.maxAfter())
	} else {
		delay, reason = c.delay(n)
	}
	if reason != nil {
		return 0, reason
	}
	if reason := c.fits(delay); reason != nil {
		return 0, reason
	}
	if p.Budget != nil && !p.Budget.Extra() {
		return 0, ErrBudgetExhausted
	}
	return delay, nil
}

// probe is next for an attempt that a circuit breaker rejected. Such a
// rejection is sorted here, whatever Retryable says (it says nothing about
// the dependency's error), and it costs the Budget nothing (nothing was
// sent): fail fast, unless told to wait for an open breaker's probe, the
// breaker says when that is (not so when forced open until told), and
// another attempt is allowed. The attempt after it takes the rejected
// one's place, which was counted already (as the first, or by Extra), so
// it asks the Budget for no Extra.
func (c *call) probe(n int, m marks) (time.Duration, error) {
	p, rej := c.p, m.rejection
	if !p.WaitForProbe || rej.Reason != ErrBreakerOpen || rej.Until.IsZero() || n >= c.maxAttempts {
		return 0, rej
	}
	limit := p.maxAfter()
	var delay time.Duration
	if m.after != nil {
		var reason error
		if delay, reason = pushback(m.after, limit); reason != nil {
			return 0, reason
		}
	}
	// Until, on our clock; never more than the breaker's own Wait, in
	// case the breaker reads another clock.
	wait := min(max(rej.Until.Sub(now(p.Clock)), 0), rej.Wait)
	if wait > limit {
		return 0, rej
	}
	delay = max(delay, wait)
	if reason := c.fits(delay); reason != nil {
		return 0, reason
	}
	return delay, nil
}

// pushback returns the wait that a server asked for, or the reason not to
// retry: it asked for none, or for more than limit.
func pushback(a *afterError, limit time.Duration) (time.Duration, error) {
	switch {
	case a.delay < 0:
		return 0, ErrNotRetryable
	case a.delay > limit:
		return 0, &PushbackError{Requested: a.delay, Limit: limit}
	}
	return a.delay, nil
}

// fits reports why a wait of delay must not start, if it must not: a
// wait that ends when the call must end leaves no time for the attempt
// after it.
func (c *call) fits(delay time.Duration) error {
	p := c.p
	if p.MaxElapsed <= 0 && !c.hasDeadline {
		return nil
	}
	t := now(p.Clock)
	// A wait that ends when the call must end leaves no time for the
	// attempt after it.
	if p.MaxElapsed > 0 && delay >= p.MaxElapsed-max(t.Sub(c.start), 0) { // a clock set back: no time passed
		return ErrElapsed
	}
	if c.hasDeadline && delay >= until(p.Clock, c.deadline, t) {
		return ErrDeadline
	}
	return nil
}

// delay returns the Backoff's wait after failed attempt n, or, if it is
// negative, the reason to stop.
func (c *call) delay(n int) (time.Duration, error) {
	if c.fixed {
		return c.wait, nil
	}
	return c.backoff(n)
}

// backoff returns the Backoff's wait after failed attempt n, or, if it
// is negative, the reason to stop. A random number is drawn from Rand only
// for a jitter that uses one.
func (c *call) backoff(n int) (time.Duration, error) {
	p := c.p
	var d time.Duration
	switch b := p.Backoff.(type) {
	case nil:
		d = defaultBackoff.Delay(n, c.prev, p.random())
	case Constant:
		d = b.Delay(n, c.prev, p.draw(b.Jitter))
	case Exponential:
		d = b.Delay(n, c.prev, p.draw(b.Jitter))
	case Linear:
		d = b.Delay(n, c.prev, p.draw(b.Jitter))
	default:
		d = b.Delay(n, c.prev, p.random())
	}
	if d < 0 {
		return 0, invalid("%T returned a negative delay (%v) for attempt %d", p.Backoff, d, n)
	}
	return d, nil
}

// draw returns a random number for jitter j, or 0 for NoJitter, which
// uses none.
func (p *Policy) draw(j Jitter) float64 {
	if j == NoJitter {
		return 0
	}
	return p.random()
}

func (p *Policy) random() float64 {
	if p.Rand != nil {
		return p.Rand()
	}
	return rand.Float64()
}
