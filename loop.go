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
	hooks       bool          // p has callbacks that run after next reads the context
	fixed       bool          // the Backoff waits the same every time (a Constant without jitter)...
	wait        time.Duration // ...this long
}

// run makes the attempts of a call after its first, which the fast path
// made and which returned v and err, or all of them if err is nil.
func run[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error), v T, err error) (T, error) {
	c := call{p: p, maxAttempts: p.maxAttempts(), hooks: p.OnRetry != nil || p.Retryable != nil || p.Budget != nil}
	if p.MaxElapsed > 0 {
		c.start = now(p.Clock)
	}
	c.deadline, c.hasDeadline = ctx.Deadline()
	if b, ok := p.Backoff.(Constant); ok && b.Jitter == NoJitter {
		c.wait, c.fixed = b.Delay(0, 0, 0), true
	}
	bare := p.plain() // each attempt is a call of fn, and nothing else
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
		delay, reason := c.next(n, err)
		if reason != nil {
			return v, &Error{Attempts: n, Reason: reason, Last: err}
		}
		if p.OnRetry != nil {
			p.OnRetry(RetryEvent{Attempt: n, Err: err, Delay: delay})
		}
		// A zero wait still sees a context that a callback ended.
		if delay > 0 && sleep(ctx, p.Clock, delay) != nil || delay == 0 && c.hooks && ctx.Err() != nil {
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

// next decides what follows failed attempt n, while the caller's context
// is live: the wait before attempt n+1, or the reason to stop.
func (c *call) next(n int, err error) (time.Duration, error) {
	p := c.p
	m := marksOf(err)
	if m.permanent {
		return 0, ErrNotRetryable
	}
	// A breaker's rejection is sorted here, whatever Retryable says (it
	// says nothing about the dependency's error), and it costs the Budget
	// nothing (nothing was sent): fail fast, unless told to wait for an
	// open breaker's probe and another attempt is allowed.
	rej := m.rejection
	rejected := rej != nil
	if !rejected && p.Retryable != nil && !p.Retryable(err) {
		return 0, ErrNotRetryable
	}
	if p.Budget != nil && !rejected {
		p.Budget.Result(false)
	}
	if rejected && (!p.WaitForProbe || rej.Reason != ErrBreakerOpen || n >= c.maxAttempts) {
		return 0, rej
	}
	if n >= c.maxAttempts {
		return 0, ErrExhausted
	}
	limit := p.MaxAfter
	if limit == 0 {
		limit = defaultMaxAfter
	}
	var delay time.Duration
	if m.after != nil {
		delay = m.after.delay
		switch {
		case delay < 0:
			return 0, ErrNotRetryable
		case delay > limit:
			return 0, &PushbackError{Requested: delay, Limit: limit}
		}
	} else if c.fixed && !rejected {
		delay = c.wait
	} else if !rejected {
		if delay = p.delay(n, c.prev); delay < 0 {
			return 0, invalid("%T returned a negative delay (%v) for attempt %d", p.Backoff, delay, n)
		}
	}
	if rejected {
		// Until, on our clock; never more than the breaker's own Wait, in
		// case the breaker reads another clock.
		wait := min(max(rej.Until.Sub(now(p.Clock)), 0), rej.Wait)
		if wait > limit {
			return 0, rej
		}
		delay = max(delay, wait)
	}
	if p.MaxElapsed > 0 || c.hasDeadline {
		t := now(p.Clock)
		// A wait that ends when the call must end leaves no time for the
		// attempt after it.
		if p.MaxElapsed > 0 && delay >= p.MaxElapsed-max(t.Sub(c.start), 0) { // a clock set back reads as no time passed
			return 0, ErrElapsed
		}
		if c.hasDeadline && delay >= c.deadline.Sub(t) {
			return 0, ErrDeadline
		}
	}
	// An attempt after a rejection takes the rejected one's place, which
	// was counted already (as the first, or by Extra): nothing was sent.
	if p.Budget != nil && !rejected && !p.Budget.Extra() {
		return 0, ErrBudgetExhausted
	}
	c.prev = delay
	return delay, nil
}

// delay is the Backoff's wait after failed attempt n, with prev the wait
// before it. A random number is drawn from Rand only for a jitter that
// uses one. (run finds a Constant without jitter once per call.)
func (p *Policy) delay(n int, prev time.Duration) time.Duration {
	switch b := p.Backoff.(type) {
	case nil:
		return defaultBackoff.Delay(n, prev, p.random())
	case Exponential:
		if b.Jitter == NoJitter {
			return b.Delay(n, prev, 0)
		}
	case Linear:
		if b.Jitter == NoJitter {
			return b.Delay(n, prev, 0)
		}
	}
	return p.Backoff.Delay(n, prev, p.random())
}

func (p *Policy) random() float64 {
	if p.Rand != nil {
		return p.Rand()
	}
	return rand.Float64()
}
