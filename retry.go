package retry

import (
	"context"
	"math"
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

// Unlimited, as Policy.MaxAttempts, lets a call retry with no cap on its
// attempts: it goes on until it succeeds or something else stops it, such
// as MaxElapsed, the context, a Permanent error, Retryable or the Budget.
// Nothing else bounds it: with none of these, a call whose attempts keep
// failing retries for as long as the program runs.
const Unlimited int = -1

// Policy says how Retry and Do retry a failing call. The zero value (and a
// nil *Policy) makes 3 attempts with exponential backoff
// and full jitter: waits drawn from [0, 100ms], [0, 200ms], ... up to 10s.
//
// A Policy is read-only once in use: build it once, for instance as a
// package-level variable (see Must), and share it between any number of
// goroutines. It holds no per-call state.
type Policy struct {
	// Name, if set, identifies the policy in every event its hooks receive
	// (see Hooks), as a metric label or a log field.
	Name string

	// MaxAttempts caps the attempts of one call, the first included. Zero
	// means 3; 1 disables retries; Unlimited removes the cap. Any other
	// negative number is invalid.
	MaxAttempts int

	// Backoff chooses the wait before each retry. Nil means
	// Exponential{Jitter: FullJitter}. Every call checks it before its
	// first attempt (see Retry); a nil BackoffFunc, or a nil pointer to
	// one of this package's strategies, is invalid.
	Backoff Backoff

	// MaxElapsed, if positive, bounds the whole call, attempts included,
	// from its start, read on Clock: no attempt's context outlives
	// start+MaxElapsed, and a wait that would end then or later is not
	// started. Either way the call stops with ErrElapsed as its Reason.
	//
	// An attempt cut short this way is not retried: Last is its error.
	// ErrElapsed, ErrDeadline and ErrAttemptTimeout all match
	// context.DeadlineExceeded, as does the caller's own deadline: test
	// ErrElapsed, or your own ctx.Err(), to tell which limit ended the
	// call.
	//
	// With MaxElapsed set, as with AttemptTimeout, each attempt whose
	// limit comes before the caller's deadline runs on a context of its
	// own, cancelled when fn returns: return values that do not depend on
	// it (read a response body within fn). It costs a clock read and a
	// timer per attempt, the first included.
	MaxElapsed time.Duration

	// AttemptTimeout, if positive, gives each attempt a context that
	// expires after that long, read on Clock. An attempt that runs out of
	// its own time is retried, and its error matches ErrAttemptTimeout
	// (and context.DeadlineExceeded); the caller's own deadline is not
	// retried. The attempt's context is cancelled when fn returns, unless
	// the caller's deadline comes first: then the attempt runs on the
	// caller's context.
	AttemptTimeout time.Duration

	// SplitDeadline, if set, gives each attempt at most an equal share of
	// the time left before the call must end (the context's deadline, or
	// start+MaxElapsed if that is earlier), so that a hanging first
	// attempt cannot use up the time of the later ones: with 9s left and
	// three attempts to go, the next attempt gets 3s. AttemptTimeout, if
	// also set, still caps each share. The last attempt allowed has no
	// share of its own: the end of the call bounds it. SplitDeadline
	// needs a count to share the time among: with MaxAttempts Unlimited it
	// is invalid (set AttemptTimeout instead).
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
	// refused by Retryable, nor ended by the caller's context or
	// MaxElapsed; a breaker's rejection counts nothing, as nothing was
	// sent, and the attempt after it (see WaitForProbe) asks no Extra: it
	// takes the rejected one's place. A load shedder's refusal (a
	// *ShedError) counts nothing either, but the retry after its wait is
	// an extra attempt like any other.
	Budget Budget

	// MarkAttempts makes each attempt's context carry its Attempt, which
	// fn reads with AttemptFrom (to send an attempt header, say). It costs
	// one small allocation per attempt, so it is off by default.
	MarkAttempts bool

	// Hooks, if set, receives the events of this policy's calls (see Hooks).
	Hooks *Hooks

	// Clock is the source of time of the waits, MaxElapsed and the
	// attempts' time limits (AttemptTimeout, SplitDeadline); nil means real
	// time. Any Clock will do.
	Clock Clock

	// Rand returns uniform random numbers in [0, 1) for jitter. Nil means
	// math/rand/v2's Float64. It must be safe for concurrent use.
	Rand func() float64
}

// RetryEvent describes a failed attempt that is about to be retried.
type RetryEvent struct {
	Name    string        // the policy's name
	Attempt int           // number of the failed attempt, from 1
	Err     error         // its error
	Delay   time.Duration // the wait before the next attempt
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
// Bad input is reported before the first attempt, without calling fn: a
// nil ctx or fn, or an invalid setting of p, its Backoff included (a
// Backoff of your own by its Validate method, if it has one), makes Retry
// return an error wrapping ErrInvalid, not a *Error (see Policy.Validate,
// and Must to fail at program start). Only a delay that the Backoff
// returns is checked when a wait needs it: if it is negative, no wait
// starts and the call stops with a *Error whose Reason wraps ErrInvalid
// and whose Last is the failed attempt's error.
//
// fn receives ctx, or a child of it when an attempt has a time limit
// (AttemptTimeout, SplitDeadline, MaxElapsed) or a mark (MarkAttempts). A
// panic in fn is not recovered: it reaches the caller unchanged, and
// nothing retries it. (With Hooks.OnDone set, it is recovered and raised
// again, with the same value, once OnDone has seen it.)
//
// p.Hooks, if set, sees the call (see Hooks); OnDone and OnAttempt cost a
// clock read each, and take the call off the path that checks nothing
// more than it must.
func Retry[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error)) (T, error) {
	if p == nil {
		p = &zeroPolicy
	}
	// Three tests, not one chain: joined, the compiler (Go 1.26) turns
	// knownValid's answer into a flag and reloads every argument before
	// testing it.
	if fn == nil || ctx == nil || !p.fast() {
		return retrySlow(ctx, p, fn)
	}
	if p.Backoff != nil && !knownValid(p.Backoff) {
		return retrySlow(ctx, p, fn)
	}
	if p.Hooks != nil && p.Hooks.watchesCall() {
		return retrySlow(ctx, p, fn)
	}
	if ctx.Err() != nil {
		return retrySlow(ctx, p, fn)
	}
	v, err := fn(ctx)
	if err == nil {
		return v, nil // the fast path: nothing else to do
	}
	return run(ctx, p, fn, v, err)
}

// retrySlow is Retry for a call that the fast path cannot vouch for: it
// checks the input in full, then makes every attempt. It is out of line
// so that the fast path compiles to straight compare-and-branch code,
// with no register spills before its checks.
func retrySlow[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if p != nil && p.Hooks != nil && p.Hooks.watchesCall() {
		return observed(ctx, p, fn)
	}
	if fn != nil && ctx != nil && p.fastBudgeted() && ctx.Err() == nil {
		p.Budget.First()
		v, err := fn(ctx)
		if err == nil {
			p.Budget.Result(true)
			return v, nil
		}
		return run(ctx, p, fn, v, err)
	}
	if err := p.check(ctx, fn == nil); err != nil {
		return zero, err
	}
	return run(ctx, p, fn, zero, nil)
}

// Do is Retry for calls that return only an error. It checks its input
// as Retry does.
func Do(ctx context.Context, p *Policy, fn func(context.Context) error) error {
	if p == nil {
		p = &zeroPolicy
	}
	// As in Retry: three tests, not one chain.
	if fn == nil || ctx == nil || !p.fast() {
		return doSlow(ctx, p, fn)
	}
	if p.Backoff != nil && !knownValid(p.Backoff) {
		return doSlow(ctx, p, fn)
	}
	if p.Hooks != nil && p.Hooks.watchesCall() {
		return doSlow(ctx, p, fn)
	}
	if ctx.Err() != nil {
		return doSlow(ctx, p, fn)
	}
	err := fn(ctx)
	if err == nil {
		return nil
	}
	return runDo(ctx, p, fn, err)
}

// doSlow is retrySlow for Do.
func doSlow(ctx context.Context, p *Policy, fn func(context.Context) error) error {
	if p != nil && p.Hooks != nil && p.Hooks.watchesCall() {
		var f func(context.Context) (struct{}, error) // nil for a nil fn, which observed reports
		if fn != nil {
			f = func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) }
		}
		_, err := observed(ctx, p, f)
		return err
	}
	if fn != nil && ctx != nil && p.fastBudgeted() && ctx.Err() == nil {
		p.Budget.First()
		err := fn(ctx)
		if err == nil {
			p.Budget.Result(true)
			return nil
		}
		return runDo(ctx, p, fn, err)
	}
	if err := p.check(ctx, fn == nil); err != nil {
		return err
	}
	return runDo(ctx, p, fn, nil)
}

// runDo is run for Do.
func runDo(ctx context.Context, p *Policy, fn func(context.Context) error, err error) error {
	_, err = run(ctx, p, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) }, struct{}{}, err)
	return err
}

var zeroPolicy Policy

// fast reports, cheaply, whether p's settings other than its Backoff are
// valid and its attempts are bare calls of fn on real time: the common
// case, whose first attempt Retry and Do make at once when knownValid
// vouches for the Backoff. False sends a call to check, which validates p
// in full (a Clock included), and to run for its first attempt.
func (p *Policy) fast() bool {
	return p.Budget == nil && p.fastSettings()
}

// fastSettings is fast but for the Budget.
func (p *Policy) fastSettings() bool {
	return p.MaxAttempts >= Unlimited && p.MaxElapsed == 0 && p.AttemptTimeout == 0 && p.MaxAfter >= 0 &&
		!p.MarkAttempts && !p.SplitDeadline && p.Clock == nil
}

// fastBudgeted reports, cheaply, whether p is valid and its attempts are
// bare calls of fn on real time, with a Budget of this package (so the
// budget's First and Result are the only additions): the first attempt
// of such a call, if it succeeds, needs no other check. The caller has
// set aside Hooks that watch the call.
func (p *Policy) fastBudgeted() bool {
	switch b := p.Budget.(type) {
	case *TokenBucket:
		if b == nil {
			return false
		}
	case *RatioBudget:
		if b == nil {
			return false
		}
	default:
		return false
	}
	return p.fastSettings() && (p.Backoff == nil || knownValid(p.Backoff))
}

// plain reports whether p's attempts are bare calls of fn, with no time
// limit, mark, Budget or OnAttempt.
func (p *Policy) plain() bool {
	return p.AttemptTimeout <= 0 && p.MaxElapsed <= 0 && p.Budget == nil && !p.MarkAttempts && !p.SplitDeadline &&
		(p.Hooks == nil || p.Hooks.OnAttempt == nil)
}

func (p *Policy) maxAfter() time.Duration {
	if p.MaxAfter == 0 {
		return defaultMaxAfter
	}
	return p.MaxAfter
}

func (p *Policy) maxAttempts() int {
	switch p.MaxAttempts {
	case 0:
		return defaultMaxAttempts
	case Unlimited:
		return math.MaxInt
	}
	return p.MaxAttempts
}
