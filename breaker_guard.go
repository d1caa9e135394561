package retry

import (
	"context"
	"sync/atomic"
)

// Guard calls fn through the breaker b and returns its result. If b rejects
// the call, fn is not called and the error is a *BreakerError (errors.Is
// matches ErrBreakerOpen, ErrTooManyProbes or ErrBreakerThrottled). If ctx
// is already done, fn is not called either and the error is ctx's. Otherwise
// fn's outcome, sorted by BreakerConfig.Classify, counts toward b's rules; a
// panic in fn counts as a failure and is raised again.
//
// A failure once ctx has been cancelled (ctx.Err() is context.Canceled,
// whatever the cause) is BreakerIgnored, whatever Classify says: the caller
// gave up, or a hedged call cancelled a loser (ErrHedgeLost), and what fn
// returns then, the cancellation's cause or whatever broke when its
// connection closed, says nothing about the dependency. net/http's HTTP/1
// transport, for one, returns the cause given to context.WithCancelCause,
// which errors.Is does not match with context.Canceled. A deadline is no
// cancellation: a call that runs out of time counts as Classify says.
//
// To retry, put the retry loop outside the breaker, so that every attempt
// asks the breaker:
//
//	v, err := retry.Retry(ctx, policy, func(ctx context.Context) (T, error) {
//		return retry.Guard(ctx, breaker, fn)
//	})
//
// A rejection then stops the loop at once, with the *BreakerError as the
// Reason of its *Error: the caller fails fast instead of waiting for the
// breaker. Set Policy.WaitForProbe to have the loop wait instead, while the
// breaker is open, until its next probe may start (within Policy.MaxAfter
// and the context's deadline), and try again.
//
// A nil b returns an error wrapping ErrInvalid, as does a nil ctx or fn,
// without calling fn. Unlike a nil policy, a nil *Breaker has no default: a
// breaker is shared state, so no zero one can stand in.
func Guard[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if ctx == nil || fn == nil || b == nil {
		return zero, invalidGuard(ctx == nil, fn == nil)
	}
	if err := ctx.Err(); err != nil {
		return zero, err // do not spend a probe on a call that cannot run
	}
	t, err := b.admit(ctx)
	if err != nil {
		return zero, err
	}
	finished := false
	defer func() {
		if !finished { // fn panicked or called runtime.Goexit
			b.finish(ctx, t, BreakerFailure, nil)
		}
	}()
	v, err := fn(ctx)
	o := b.outcome(ctx, err) // before finished: a Classify that panics must not keep the slot
	finished = true
	if !t.settled(o) { // the fast path, inlined
		b.finishSlow(ctx, t, o, err)
	}
	return v, err
}

// GuardFallback is Guard with a fallback ("degradation"): when b rejects the
// call, or the call fails (its outcome is BreakerFailure), fallback is
// called with ctx and that error, and its result is returned instead, with
// fellBack set, so the caller always knows that the value did not come from
// fn. A fallback that cannot help returns the error it was given (or
// another). A BreakerIgnored outcome, such as the caller's own cancellation
// (see Guard), goes to the caller as it is. A nil fallback makes
// GuardFallback behave as Guard. A nil b, ctx or fn returns an error
// wrapping ErrInvalid, as in Guard, and calls neither fn nor fallback.
func GuardFallback[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error), fallback func(context.Context, error) (T, error)) (v T, fellBack bool, err error) {
	if ctx == nil || fn == nil || b == nil {
		return v, false, invalidGuard(ctx == nil, fn == nil)
	}
	if err := ctx.Err(); err != nil {
		return v, false, err
	}
	t, err := b.admit(ctx)
	if err != nil {
		if fallback == nil {
			return v, false, err
		}
		v, err = fallback(ctx, err)
		return v, true, err
	}
	finished := false
	defer func() {
		if !finished {
			b.finish(ctx, t, BreakerFailure, nil)
		}
	}()
	v, err = fn(ctx)
	o := b.outcome(ctx, err)
	finished = true
	if !t.settled(o) { // the fast path, inlined
		b.finishSlow(ctx, t, o, err)
	}
	if o != BreakerFailure || fallback == nil || err == nil {
		return v, false, err
	}
	v, err = fallback(ctx, err)
	return v, true, err
}

func invalidGuard(nilCtx, nilFn bool) error {
	switch {
	case nilCtx:
		return invalid("nil Context")
	case nilFn:
		return invalid("nil function")
	}
	return invalid("nil *Breaker")
}

// Allow is the two-step form of Guard, for callers that cannot wrap the call
// in a function, such as HTTP middleware or a stream. If the breaker rejects
// the call, err is a *BreakerError (see Guard) and done does nothing.
// Otherwise make the call, then call done with its error exactly once,
// whatever happens, including a panic (defer it): until done is called a
// half-open breaker holds the call's probe slot. Later calls of done are
// ignored. BreakerConfig.Classify sorts the error, except that one matching
// context.Canceled is BreakerIgnored whatever Classify says: pass
// context.Canceled for a call that tells nothing, such as one whose context
// the caller cancelled.
//
// Allow knows no context: the hooks (BreakerConfig.Hooks) receive
// context.Background(). AllowContext passes the call's.
//
// Allow costs two small allocations (done and its once-only flag); Guard
// costs none. Allow on a nil *Breaker returns an error wrapping ErrInvalid.
func (b *Breaker) Allow() (done func(err error), err error) {
	return b.AllowContext(context.Background())
}

// AllowContext is Allow for a call made with ctx, as Guard is: the hooks
// receive ctx; if ctx is already done, the breaker is not asked and err is
// ctx's; and a failure once ctx has been cancelled is BreakerIgnored,
// whatever Classify says. A nil ctx returns an error wrapping ErrInvalid.
func (b *Breaker) AllowContext(ctx context.Context) (done func(err error), err error) {
	if ctx == nil || b == nil {
		return doneNothing, invalidGuard(ctx == nil, false)
	}
	if err := ctx.Err(); err != nil {
		return doneNothing, err
	}
	t, err := b.admit(ctx)
	if err != nil {
		return doneNothing, err
	}
	var once atomic.Bool
	return func(err error) {
		if !once.Swap(true) {
			finished := false
			defer func() {
				if !finished { // Classify panicked or called runtime.Goexit
					b.finish(ctx, t, BreakerFailure, nil)
				}
			}()
			o := b.outcome(ctx, err)
			finished = true
			b.finish(ctx, t, o, err)
		}
	}, nil
}

func doneNothing(error) {}
