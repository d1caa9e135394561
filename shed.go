package retry

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Reasons a Bulkhead or Limiter refuses a call, found in ShedError.Reason
// and with errors.Is.
var (
	// ErrLimitReached: every slot was taken and the call could not wait for
	// one (waiting is off, or every place in the wait queue was taken).
	ErrLimitReached = errors.New("retry: concurrency limit reached")
	// ErrWaitTimeout: the call waited for a slot as long as it may
	// (MaxWait) and none came free.
	ErrWaitTimeout = errors.New("retry: no slot came free in time")
)

// ShedError is the error of a call that a Bulkhead or Limiter refused to
// let through: the call was not made, and Wait is how long the caller
// should wait before trying again. errors.Is matches its Reason.
//
// Admit returns it marked with After(err, Wait), so that a retry loop
// around Admit treats the refusal as pushback (RequestedDelay reports
// Wait) and an HTTP server can answer with Retry-After (see httpx.Shed).
type ShedError struct {
	Reason error         // ErrLimitReached or ErrWaitTimeout
	Limit  int           // the limit on calls in flight when the call was refused
	Wait   time.Duration // a suggested wait before trying again; positive
}

// Error says why the call was refused and how long to wait.
func (e *ShedError) Error() string {
	var b strings.Builder
	b.WriteString("retry: load shed (")
	reason := "no reason given"
	if e.Reason != nil {
		reason = strings.TrimPrefix(e.Reason.Error(), "retry: ")
	}
	b.WriteString(reason)
	b.WriteString(", limit ")
	b.WriteString(strconv.Itoa(e.Limit))
	b.WriteString("); retry after ")
	b.WriteString(e.Wait.String())
	return b.String()
}

// Unwrap returns the Reason.
func (e *ShedError) Unwrap() error { return e.Reason }

// refuse returns the error of a refusal: a *ShedError marked with After so
// that retry loops and servers see pushback.
func refuse(reason error, limit int, wait time.Duration) error {
	wait = max(wait, time.Millisecond)
	return After(&ShedError{Reason: reason, Limit: limit, Wait: wait}, wait)
}

// Admitter lets calls through up to a limit on calls in flight: a
// *Bulkhead (a fixed limit) or a *Limiter (a limit found from latency and
// errors), the two implementations (a Permit cannot be made outside this
// package). Use it through Admit, or Acquire and Permit.Done where a
// function cannot wrap the call (HTTP middleware, streams).
type Admitter interface {
	// Acquire waits, as the Admitter allows, for a slot for one call. It
	// returns a *ShedError (marked with After, see ShedError) if the call
	// must not run, ctx's error if ctx ended while it waited, or a Permit
	// that the caller must end with Done once the call has ended.
	Acquire(ctx context.Context) (Permit, error)
}

// permitOwner is what hands out permits and takes them back.
type permitOwner interface {
	release(p Permit, err error)
}

// Permit is a slot taken from an Admitter by Acquire for one call. Call
// Done exactly once when the call has ended, whatever happened (defer
// it): a Permit never ended holds its slot for good. Done twice on one
// Permit frees it once, but it is a value, so that taking a slot
// allocates nothing, and copies cannot tell: Done on two copies frees the
// slot twice (then one call too many gets through, or a Bulkhead with no
// other slot taken panics). The zero Permit's Done does nothing.
type Permit struct {
	owner permitOwner
	ctx   context.Context
	start int64 // when the call started, on the owner's clock; -1 if not timed (Limiter)
}

// Done frees the slot and reports the call's error, nil for success. For
// a Limiter the call's latency and error are a sample of the dependency's
// health, except when they say nothing about it: an error that matches
// context.Canceled, any error once the context given to Acquire was
// cancelled (the caller gave up), and another admitter's or a breaker's
// refusal (a *ShedError, a *BreakerError, or Admit's error for a deadline
// that came while its call waited for a slot) free the slot without a
// sample.
// Done(context.Canceled) is the way to free a slot without a sample.
func (p *Permit) Done(err error) {
	if p.owner != nil {
		o := p.owner
		p.owner = nil
		o.release(*p, err)
	}
}

// ignored reports whether the error of a call says nothing about the
// dependency: the caller's cancellation, or a refusal before the call
// could reach it.
func (p *Permit) ignored(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || (p.ctx != nil && p.ctx.Err() == context.Canceled) {
		return true
	}
	if isShed(err) {
		return true
	}
	_, ok := errors.AsType[*BreakerError](err)
	return ok
}

// Admit calls fn once a takes a slot for it, and frees the slot when fn
// returns. If a refuses the call, fn is not called and the error is a
// *ShedError marked with After (see ShedError): a retry loop around Admit
// waits ShedError.Wait before the next attempt, within Policy.MaxAfter.
// If ctx ends while the call waits for a slot, or is done already, fn is
// not called and the error is ctx's (errors.Is finds it; a deadline's is
// marked as a refusal, so that a Retry whose AttemptTimeout ran out while
// the call waited charges its Budget no failure: nothing was sent). A panic in fn frees the slot, without
// a sample, and goes on.
//
// With a retry loop and a circuit breaker, put the loop outside, the
// admitter next and the breaker inside it, so that every attempt asks
// both, an open breaker's fast rejections teach a Limiter nothing, and
// refusals for load never count as the dependency's failures:
//
//	v, err := retry.Retry(ctx, policy, func(ctx context.Context) (T, error) {
//		return retry.Admit(ctx, limiter, func(ctx context.Context) (T, error) {
//			return retry.Guard(ctx, breaker, fn)
//		})
//	})
//
// A nil a, ctx or fn returns an error wrapping ErrInvalid without calling
// fn.
func Admit[T any](ctx context.Context, a Admitter, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if ctx == nil || fn == nil || a == nil {
		return zero, invalidAdmit(ctx == nil, fn == nil)
	}
	p, err := a.Acquire(ctx)
	if err != nil {
		if err == context.DeadlineExceeded {
			err = &unsentError{err}
		}
		return zero, err
	}
	finished := false
	defer func() {
		if !finished { // fn panicked or called runtime.Goexit
			p.Done(context.Canceled) // no sample
		}
	}()
	v, err := fn(ctx)
	finished = true
	p.Done(err)
	return v, err
}

func invalidAdmit(nilCtx, nilFn bool) error {
	switch {
	case nilCtx:
		return invalid("nil Context")
	case nilFn:
		return invalid("nil function")
	}
	return invalid("nil Admitter")
}

func invalidAcquire(nilCtx bool, admitter string) error {
	if nilCtx {
		return invalid("nil Context")
	}
	return invalid("nil %s", admitter)
}

// isShed reports whether err is a load shedder's refusal, or a call whose
// deadline came while it waited for a slot: nothing was sent, so it costs
// a Budget nothing.
func isShed(err error) bool {
	if _, ok := errors.AsType[*ShedError](err); ok {
		return true
	}
	_, ok := errors.AsType[*unsentError](err)
	return ok
}

// unsentError is the error of a call that Admit never made because its
// context's deadline came while it waited for a slot: that error, which
// errors.Is still finds, marked as sending nothing.
type unsentError struct{ err error }

func (e *unsentError) Error() string { return "retry: deadline reached while waiting for a slot" }
func (e *unsentError) Unwrap() error { return e.err }
