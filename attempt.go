package retry

import (
	"context"
	"time"
)

// Attempt describes the attempt of a call that a context was made for, so
// that fn can tell the callee (an attempt header, a log field).
type Attempt struct {
	Number int  // from 1
	Hedge  bool // started by Hedge while an earlier attempt was still running
}

type attemptKey struct{}

// AttemptFrom returns the Attempt that ctx was made for, and false if ctx
// carries none: Retry and Do mark the contexts of their attempts only when
// Policy.MarkAttempts is set; Hedge always marks them.
func AttemptFrom(ctx context.Context) (Attempt, bool) {
	a, ok := ctx.Value(attemptKey{}).(Attempt)
	return a, ok
}

// WithAttempt returns a copy of ctx that carries a, for AttemptFrom. Retry
// and Hedge mark the contexts they make themselves; a layer that runs an
// attempt on a context of its own, such as an HTTP request whose body
// outlives its attempt, copies the mark with it.
func WithAttempt(ctx context.Context, a Attempt) context.Context { return withAttempt(ctx, a) }

func withAttempt(ctx context.Context, a Attempt) context.Context {
	return context.WithValue(ctx, attemptKey{}, boxAttempt(a))
}

// boxAttempt returns a in an interface, without allocating for the common
// attempts.
func boxAttempt(a Attempt) any {
	if a.Number >= 1 && a.Number < len(boxedAttempts) {
		h := 0
		if a.Hedge {
			h = 1
		}
		return boxedAttempts[a.Number][h]
	}
	return a
}

// attemptCtx is a context marked with an Attempt, as withAttempt makes
// one, for a caller that keeps it inside a value it allocates anyway (a
// hedged call keeps one per attempt), saving the allocation of its own.
type attemptCtx struct {
	context.Context
	a any // the Attempt, boxed
}

func (c *attemptCtx) Value(key any) any {
	if key == (attemptKey{}) {
		return c.a
	}
	return c.Context.Value(key)
}

// boxedAttempts holds the common Attempts already in interfaces, so that
// marking an attempt costs one allocation (the context), not two. It is
// filled once and only read.
var boxedAttempts = func() (t [17][2]any) {
	for n := range t {
		t[n] = [2]any{Attempt{Number: n}, Attempt{Number: n, Hedge: true}}
	}
	return t
}()

// attempt makes attempt n of a call that started at start (read if
// MaxElapsed is set): marked, within its time limit, reported to
// Hooks.OnAttempt, and counted by the Budget as a success if it is one (failures are counted by next, which
// knows whether they were retryable). cut reports that it failed because
// MaxElapsed ended it.
func attempt[T any](ctx context.Context, p *Policy, n int, start time.Time, fn func(context.Context) (T, error)) (v T, err error, cut bool) {
	if p.MarkAttempts {
		ctx = withAttempt(ctx, Attempt{Number: n})
	}
	var began time.Time
	watch := p.Hooks != nil && p.Hooks.OnAttempt != nil
	if watch {
		began = now(p.Clock)
	}
	if p.AttemptTimeout > 0 || p.SplitDeadline || p.MaxElapsed > 0 {
		v, err, cut = limited(ctx, p, n, start, fn)
	} else {
		v, err = fn(ctx)
	}
	if watch {
		p.Hooks.OnAttempt(ctx, AttemptEvent{Name: p.Name, Attempt: n, Duration: since(p.Clock, began), Err: err})
	}
	if err == nil && p.Budget != nil {
		p.Budget.Result(true)
	}
	return v, err, cut
}

// attemptLimit is when an attempt's context expires, if before the
// caller's deadline.
type attemptLimit struct {
	at  time.Time     // on the policy's Clock
	in  time.Duration // at, from the time the attempt starts
	own time.Duration // the attempt's own limit (AttemptTimeout, or its share), if at is that
	end bool          // at is the end of the call, start+MaxElapsed
}

// limit returns the time limit of attempt n, and false if nothing but the
// caller's context bounds it.
func (p *Policy) limit(ctx context.Context, n int, start time.Time) (attemptLimit, bool) {
	var l attemptLimit
	t := now(p.Clock)
	set := p.MaxElapsed > 0
	if set {
		l.in, l.end = p.MaxElapsed-max(t.Sub(start), 0), true // a clock set back: no time passed
	}
	dl, hasDeadline := ctx.Deadline()
	var callerLeft time.Duration
	if hasDeadline {
		callerLeft = until(p.Clock, dl, t)
	}
	own := p.AttemptTimeout
	if p.SplitDeadline {
		// An equal share of the time left before the call must end among
		// this attempt and those that may follow it; the last one's share
		// is all of it.
		left, ok := callerLeft, hasDeadline
		if set && (!ok || l.in < left) {
			left, ok = l.in, true
		}
		if ok {
			share := max(left/time.Duration(max(p.maxAttempts()-n+1, 1)), 1)
			if own <= 0 || share < own {
				own = share
			}
		}
	}
	if own > 0 && (!set || own < l.in) {
		l.in, l.end, l.own, set = own, false, own, true
	}
	if !set || hasDeadline && callerLeft <= l.in {
		return attemptLimit{}, false // the caller's deadline comes first
	}
	l.at = t.Add(l.in)
	return l, true
}

// errOwnLimit is the cause (see context.Cause) of an attempt's context
// that its own time limit ended (AttemptTimeout, its share, or the end of
// MaxElapsed) rather than the caller's context. It matches
// context.DeadlineExceeded, so an fn that returns the cause reads as one
// that returns ctx.Err().
var errOwnLimit error = ownLimitError{}

type ownLimitError struct{}

func (ownLimitError) Error() string        { return "the attempt's time limit passed" }
func (ownLimitError) Is(target error) bool { return target == context.DeadlineExceeded }
func (ownLimitError) Timeout() bool        { return true }

// limited makes attempt n within its time limit, if it has one. An
// attempt whose own limit ran out while ctx was live gets an error that
// says so (ErrAttemptTimeout); one that the end of the call cut short is
// reported as cut.
func limited[T any](ctx context.Context, p *Policy, n int, start time.Time, fn func(context.Context) (T, error)) (v T, err error, cut bool) {
	l, ok := p.limit(ctx, n, start)
	if !ok {
		v, err = fn(ctx)
		return v, err, false
	}
	// The limit that fired first decides: the attempt's own, even if the
	// caller's deadline passed before fn returned, or the caller's.
	var expired func() bool
	if p.Clock == nil {
		actx, cancel := context.WithDeadlineCause(ctx, l.at, errOwnLimit)
		defer cancel()
		v, err = fn(actx)
		expired = func() bool { return context.Cause(actx) == errOwnLimit }
	} else {
		actx, cancel := withClockDeadline(ctx, p.Clock, l.in)
		defer cancel()
		v, err = fn(actx)
		expired = actx.expired
	}
	if err == nil || !expired() {
		return v, err, false
	}
	if l.end {
		return v, err, true
	}
	return v, &attemptTimeoutError{err: err, limit: l.own}, false
}
