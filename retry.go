package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// defaultMaxAttempts is the number of attempts of a Policy whose
// MaxAttempts is zero, the first included.
const defaultMaxAttempts = 3

// defaultMaxAfter is the longest server-requested wait (see After) that a
// Policy with a zero MaxAfter honours.
const defaultMaxAfter = time.Minute

// defaultBackoff is the Backoff of a Policy whose Backoff is nil.
var defaultBackoff Backoff = Exponential{Jitter: FullJitter}

// Policy says how Retry and Do retry a failing call. The zero value (and a
// nil *Policy) makes 3 attempts with exponential backoff
// and full jitter: waits drawn from [0, 100ms], [0, 200ms], ... up to 10s.
//
// A Policy is read-only once in use: build it once, for instance as a
// package-level variable, and share it between any number of goroutines.
// It holds no per-call state.
type Policy struct {
	// MaxAttempts caps the attempts of one call, the first included. Zero
	// means 3; 1 disables retries; negative is invalid.
	MaxAttempts int

	// Backoff chooses the wait before each retry. Nil means
	// Exponential{Jitter: FullJitter}; a nil BackoffFunc, or a nil pointer
	// to one of this package's strategies, is invalid.
	Backoff Backoff

	// MaxElapsed, if positive, bounds the time from the start of the call:
	// a wait that would end later is not started and the call stops with
	// ErrElapsed. The context's deadline is always honoured the same way.
	MaxElapsed time.Duration

	// AttemptTimeout, if positive, gives each attempt a context that
	// expires after that long. An attempt that runs out of time is retried;
	// the caller's own deadline is not.
	AttemptTimeout time.Duration

	// SplitDeadline, if set, gives each attempt at most an equal share of
	// the time left before the context's deadline, so that a hanging first
	// attempt cannot use up the time of the later ones: with 9s left and
	// three attempts to go, the next attempt gets 3s. AttemptTimeout, if
	// also set, still caps each share.
	SplitDeadline bool

	// MaxAfter caps a wait that the server asked for through After. A longer
	// request stops the call at once with a *PushbackError as its Reason.
	// Zero means 1 minute.
	MaxAfter time.Duration

	// WaitForProbe, if set, makes a rejection by an open circuit breaker
	// (a *BreakerError for ErrBreakerOpen, see Guard) wait until the breaker lets
	// its next probe through (BreakerError.Until, read on Clock) and try
	// again, instead of stopping the call. The wait is bounded like any
	// other: by MaxAfter (a longer one stops the call with the
	// *BreakerError as its Reason), MaxElapsed and the context's
	// deadline; and a rejection of the last attempt allowed stops the call
	// with the *BreakerError too. Other rejections stop the call whatever
	// it says. A Permanent error is never retried, rejection or not.
	WaitForProbe bool

	// Retryable, if set, says whether an error is worth another attempt.
	// Errors marked with Permanent, and any error once the caller's context
	// is done, are never retried, whatever it says. Nil means retry every
	// other error.
	Retryable func(error) bool

	// OnRetry, if set, is called before each wait, on the caller's
	// goroutine, with the failed attempt and the wait chosen. Use it for
	// logging and metrics.
	OnRetry func(RetryEvent)

	// Budget, if set, is asked before every retry, and a refusal stops the
	// call at once with ErrBudgetExhausted. Share one Budget between the
	// policies that call the same dependency. See TokenBucket and
	// RatioBudget; a nil *TokenBucket or *RatioBudget is invalid.
	//
	// Its Extra is asked before the wait that precedes the retry, so the
	// retry is counted (and a RatioBudget charged) from then on: a retry
	// whose wait is cancelled, or whose call stops for a deadline during
	// the wait, still counts against the budget although it never ran.
	// Result(false) counts every failure that is neither Permanent nor
	// refused by Retryable; a breaker's rejection counts nothing, as
	// nothing was sent, and the attempt after it (see WaitForProbe) asks
	// no Extra: it takes the rejected one's place.
	Budget Budget

	// MarkAttempts makes each attempt's context carry its Attempt, which
	// fn reads with AttemptFrom (to send an attempt header, say). It costs
	// one small allocation per attempt, so it is off by default.
	MarkAttempts bool

	// Clock is the source of time; nil means real time. With a Clock set,
	// AttemptTimeout needs one that also has
	// WithTimeout(context.Context, time.Duration) (context.Context, context.CancelFunc),
	// as the clocks of github.com/benbjohnson/clock do.
	Clock Clock

	// Rand returns uniform random numbers in [0, 1) for jitter. Nil means
	// math/rand/v2's Float64. It must be safe for concurrent use.
	Rand func() float64
}

// RetryEvent describes a failed attempt that is about to be retried.
type RetryEvent struct {
	Attempt int           // number of the failed attempt, from 1
	Err     error         // its error
	Delay   time.Duration // the wait before the next attempt
}

// Validate reports the first invalid setting of p, wrapped around
// ErrInvalid. A nil *Policy is valid.
//
// Retry and Do check p as they go, so that a call that succeeds at once
// costs next to nothing: the settings that the first attempt needs before
// it, the Backoff before the first wait; either way the call returns the
// error and makes no further attempt. Call Validate yourself to fail
// earlier, for instance at start-up or in a test.
func (p *Policy) Validate() error {
	if err := p.validateSettings(); err != nil || p == nil {
		return err
	}
	return validateBackoff(p.Backoff)
}

func (p *Policy) validateSettings() error {
	if p == nil {
		return nil
	}
	switch {
	case p.MaxAttempts < 0:
		return invalid("Policy.MaxAttempts is negative (%d)", p.MaxAttempts)
	case p.MaxElapsed < 0:
		return invalid("Policy.MaxElapsed is negative (%v)", p.MaxElapsed)
	case p.AttemptTimeout < 0:
		return invalid("Policy.AttemptTimeout is negative (%v)", p.AttemptTimeout)
	case p.MaxAfter < 0:
		return invalid("Policy.MaxAfter is negative (%v)", p.MaxAfter)
	}
	if (p.AttemptTimeout > 0 || p.SplitDeadline) && p.Clock != nil {
		if _, ok := p.Clock.(timeoutClock); !ok {
			return invalid("Policy.AttemptTimeout and SplitDeadline need a Clock with a WithTimeout method, and %T has none", p.Clock)
		}
	}
	return validateBudget("Policy", p.Budget)
}

// validateBudget reports a nil pointer to one of this package's budgets
// in a non-nil Budget, whose methods would panic.
func validateBudget(owner string, b Budget) error {
	switch b := b.(type) {
	case *TokenBucket:
		if b == nil {
			return invalid("%s.Budget is a nil *TokenBucket", owner)
		}
	case *RatioBudget:
		if b == nil {
			return invalid("%s.Budget is a nil *RatioBudget", owner)
		}
	}
	return nil
}

// validateBackoff validates the strategies of this package without an
// interface lookup, which keeps the fast path of a call fast.
func validateBackoff(b Backoff) error {
	switch b := b.(type) {
	case nil:
		return nil
	case Exponential:
		return b.Validate()
	case Constant:
		return b.Validate()
	case Linear:
		return b.Validate()
	case DecorrelatedJitter:
		return b.Validate()
	case BackoffFunc:
		if b == nil {
			return invalid("Policy.Backoff is a nil BackoffFunc")
		}
		return nil
	case *BackoffFunc:
		if b == nil || *b == nil {
			return invalid("Policy.Backoff is a nil *BackoffFunc or points to a nil one")
		}
		return nil
	// Nil pointers to the strategies would panic in Validate and Delay.
	case *Exponential:
		return validatePtr(b)
	case *Constant:
		return validatePtr(b)
	case *Linear:
		return validatePtr(b)
	case *DecorrelatedJitter:
		return validatePtr(b)
	case interface{ Validate() error }:
		return b.Validate()
	}
	return nil
}

func validatePtr[T interface{ Validate() error }](b *T) error {
	if b == nil {
		return invalid("Policy.Backoff is a nil %T", b)
	}
	return (*b).Validate()
}

// Retry calls fn until it succeeds or p says to stop, and returns fn's
// result. A nil p means the zero Policy.
//
// On success the error is nil. Otherwise it is a *Error that says why the
// call stopped and after how many attempts, and wraps the last attempt's
// error and any context error; the value returned is then the one returned
// by the last attempt (usually T's zero value). If ctx is already done,
// Retry calls nothing, as Hedge and Guard do: the *Error has Attempts 0
// and the context's error, and its cancel cause, as its Reason.
//
// Bad input is checked in two steps, so that a call that succeeds at once
// costs next to nothing. A nil ctx or fn, or an invalid setting of p
// (anything but its Backoff), makes Retry return an error wrapping
// ErrInvalid, not a *Error, before the first attempt, without calling fn.
// p.Backoff is checked only when a wait is first needed, after an attempt
// failed with a retryable error: if it is invalid, or if a delay it returns
// is negative, no wait starts and the call stops with a *Error whose
// Reason wraps ErrInvalid and whose Last is the failed attempt's error; fn
// has then been called at least once. Call Policy.Validate to fail early
// instead.
//
// fn receives ctx, or a child of it when p.AttemptTimeout is set. A panic in
// fn is not recovered: it reaches the caller unchanged, and nothing retries
// it.
func Retry[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error)) (T, error) {
	var v T
	if err := p.check(ctx, fn == nil); err != nil {
		return v, err
	}
	if p == nil {
		p = &zeroPolicy
	}
	start := p.start()
	var err error
	if p.plain() {
		v, err = fn(ctx)
		if err == nil {
			return v, nil // the fast path: nothing else to do
		}
	}
	// The closure is made only here, off the fast path.
	call := func(ctx context.Context) (err error) {
		v, err = fn(ctx)
		return err
	}
	if !p.plain() {
		if err = validateBudget("Policy", p.Budget); err != nil {
			return v, err
		}
		if err = p.first(ctx, call); err == nil {
			return v, nil
		}
	}
	err = p.retry(ctx, call, err, start)
	return v, err
}

// Do is Retry for calls that return only an error. It checks its input
// as Retry does.
func Do(ctx context.Context, p *Policy, fn func(context.Context) error) error {
	if err := p.check(ctx, fn == nil); err != nil {
		return err
	}
	if p == nil {
		p = &zeroPolicy
	}
	start := p.start()
	var err error
	if p.plain() {
		err = fn(ctx)
	} else {
		if err = validateBudget("Policy", p.Budget); err != nil {
			return err
		}
		err = p.first(ctx, fn)
	}
	if err == nil {
		return nil
	}
	return p.retry(ctx, fn, err, start)
}

var zeroPolicy Policy

// check validates the arguments of a call and the settings that its
// first attempt needs, and stops a call whose context is already done.
// The Backoff is validated before the first wait.
func (p *Policy) check(ctx context.Context, nilFn bool) error {
	if nilFn || ctx == nil || p != nil && (p.MaxAttempts < 0 || p.MaxElapsed < 0 || p.AttemptTimeout < 0 ||
		p.MaxAfter < 0 || (p.AttemptTimeout > 0 || p.SplitDeadline) && p.Clock != nil) || ctx.Err() != nil {
		return p.checkSlow(ctx, nilFn)
	}
	return nil
}

func (p *Policy) checkSlow(ctx context.Context, nilFn bool) error {
	switch {
	case nilFn:
		return invalid("nil function")
	case ctx == nil:
		return invalid("nil Context")
	}
	if err := p.validateSettings(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return &Error{Attempts: 0, Reason: ctxReason(ctx)}
	}
	return nil
}

// start returns the time the call starts, if MaxElapsed needs it.
func (p *Policy) start() time.Time {
	if p.MaxElapsed > 0 {
		return now(p.Clock)
	}
	return time.Time{}
}

// plain reports whether an attempt is a bare call of fn.
func (p *Policy) plain() bool {
	return p.AttemptTimeout <= 0 && p.Budget == nil && !p.MarkAttempts && !p.SplitDeadline
}

func (p *Policy) maxAttempts() int {
	if p.MaxAttempts == 0 {
		return defaultMaxAttempts
	}
	return p.MaxAttempts
}

// timeout returns the time limit of attempt n, or 0 for none.
func (p *Policy) timeout(ctx context.Context, n int) time.Duration {
	d := p.AttemptTimeout
	if !p.SplitDeadline {
		return d
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return d
	}
	share := dl.Sub(now(p.Clock)) / time.Duration(max(p.maxAttempts()-n+1, 1))
	if share <= 0 {
		share = 1 // the deadline has passed: the context is done anyway
	}
	if d > 0 {
		return min(d, share)
	}
	return share
}

// first makes the first attempt of a call that is not plain.
func (p *Policy) first(ctx context.Context, call func(context.Context) error) error {
	if p.Budget != nil {
		p.Budget.First()
	}
	return p.attempt(ctx, 1, call)
}

// attempt makes attempt n: marked, within AttemptTimeout, and counted by
// the Budget as a success if it is one. Failures are counted by next, which
// knows whether they were retryable.
func (p *Policy) attempt(ctx context.Context, n int, call func(context.Context) error) error {
	if p.MarkAttempts {
		ctx = withAttempt(ctx, Attempt{Number: n})
	}
	var err error
	if d := p.timeout(ctx, n); d > 0 {
		actx, cancel := withTimeout(ctx, p.Clock, d)
		defer cancel()
		err = call(actx)
	} else {
		err = call(ctx)
	}
	if err == nil && p.Budget != nil {
		p.Budget.Result(true)
	}
	return err
}

// retry goes on after the first attempt failed with err.
func (p *Policy) retry(ctx context.Context, call func(context.Context) error, err error, start time.Time) error {
	maxAttempts := p.maxAttempts()
	var prev time.Duration
	for n := 1; ; n++ {
		delay, reason := p.next(ctx, n, err, prev, start, maxAttempts)
		if reason != nil {
			return &Error{Attempts: n, Reason: reason, Last: err}
		}
		if p.OnRetry != nil {
			p.OnRetry(RetryEvent{Attempt: n, Err: err, Delay: delay})
		}
		if sleep(ctx, p.Clock, delay) != nil {
			return &Error{Attempts: n, Reason: ctxReason(ctx), Last: err}
		}
		prev = delay
		if err = p.attempt(ctx, n+1, call); err == nil {
			return nil
		}
	}
}

// next decides what follows failed attempt n: the wait before attempt n+1,
// or the reason to stop.
func (p *Policy) next(ctx context.Context, n int, err error, prev time.Duration, start time.Time, maxAttempts int) (time.Duration, error) {
	if ctx.Err() != nil {
		return 0, ctxReason(ctx)
	}
	if isPermanent(err) {
		return 0, ErrNotRetryable
	}
	// A breaker's rejection is sorted here, whatever Retryable says (it
	// says nothing about the dependency's error), and it costs the Budget
	// nothing (nothing was sent): fail fast, unless told to wait for an
	// open breaker's probe and another attempt is allowed.
	rej, rejected := rejection(err)
	if !rejected && p.Retryable != nil && !p.Retryable(err) {
		return 0, ErrNotRetryable
	}
	if p.Budget != nil && !rejected {
		p.Budget.Result(false)
	}
	if rejected && (!p.WaitForProbe || rej.Reason != ErrBreakerOpen || n >= maxAttempts) {
		return 0, rej
	}
	if n >= maxAttempts {
		return 0, ErrExhausted
	}
	limit := p.MaxAfter
	if limit == 0 {
		limit = defaultMaxAfter
	}
	var delay time.Duration
	if d, ok := RequestedDelay(err); ok {
		switch {
		case d < 0:
			return 0, ErrNotRetryable
		case d > limit:
			return 0, &PushbackError{Requested: d, Limit: limit}
		}
		delay = d
	} else if !rejected {
		b := p.Backoff
		if b == nil {
			b = defaultBackoff
		} else if err := validateBackoff(b); err != nil {
			return 0, err
		}
		delay = b.Delay(n, prev, p.random())
		if delay < 0 {
			return 0, invalid("%T returned a negative delay (%v) for attempt %d", b, delay, n)
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
	if p.MaxElapsed > 0 || hasDeadline(ctx) {
		t := now(p.Clock)
		if p.MaxElapsed > 0 && delay > p.MaxElapsed-t.Sub(start) {
			return 0, ErrElapsed
		}
		if dl, ok := ctx.Deadline(); ok && delay >= dl.Sub(t) {
			return 0, ErrDeadline
		}
	}
	// An attempt after a rejection takes the rejected one's place, which
	// was counted already (as the first, or by Extra): nothing was sent.
	if p.Budget != nil && !rejected && !p.Budget.Extra() {
		return 0, ErrBudgetExhausted
	}
	return delay, nil
}

// rejection returns the breaker's rejection that ended an attempt. For a
// nested call's *Error (a hedged round, say), that is its Reason alone: a
// refused copy joined in its Last may be stale.
func rejection(err error) (*BreakerError, bool) {
	if e, ok := errors.AsType[*Error](err); ok {
		return errors.AsType[*BreakerError](e.Reason)
	}
	return errors.AsType[*BreakerError](err)
}

func hasDeadline(ctx context.Context) bool {
	_, ok := ctx.Deadline()
	return ok
}

func (p *Policy) random() float64 {
	if p.Rand != nil {
		return p.Rand()
	}
	return rand.Float64()
}
