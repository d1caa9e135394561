package retry

import (
	"context"
	"errors"
)

// errGoexit is the Value of the *PanicError that Hooks.OnDone receives
// for a call ended by runtime.Goexit (t.FailNow in a test, say).
var errGoexit = errors.New("runtime.Goexit called")

// observed is Retry for a policy whose Hooks watch calls or attempts
// (OnDone, OnAttempt): it reports the call to OnDone exactly once, however
// it ends, bad input and a panic included. checked says that the
// arguments and p are known to be valid and ctx live (the fast path's
// tests passed).
func observed[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error), checked bool) (v T, err error) {
	h := p.Hooks
	if !checked {
		err = p.check(ctx, fn == nil)
	}
	if h.OnDone == nil {
		if err != nil {
			return v, err
		}
		return loop(ctx, p, fn, v, nil, nil)
	}
	if err != nil {
		// No clock read: the Clock may be what is invalid.
		h.OnDone(orBackground(ctx), CallEvent{Name: p.Name, Err: err})
		return v, err
	}
	start := now(p.Clock)
	started := 0
	returned := false
	defer func() {
		if returned {
			return
		}
		// fn or a hook panicked, or called runtime.Goexit: report it and
		// let it go on, with the same value.
		r := recover()
		pe := &PanicError{Attempt: started, Value: r, inRetry: true}
		if r == nil {
			pe.Value = errGoexit
		}
		h.OnDone(ctx, CallEvent{Name: p.Name, Attempts: started, Duration: now(p.Clock).Sub(start), Err: pe})
		if r != nil {
			panic(r)
		}
	}()
	v, err = loop(ctx, p, fn, v, nil, &started)
	returned = true
	e := CallEvent{Name: p.Name, Attempts: started, Duration: now(p.Clock).Sub(start), Err: err}
	if err == nil {
		e.Winner = started
	}
	h.OnDone(ctx, e)
	return v, err
}

// orBackground is ctx, or context.Background() if ctx is nil: hooks
// never receive a nil context.
func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
