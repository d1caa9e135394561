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
// it ends, bad input and a panic included.
func observed[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error)) (v T, err error) {
	h := p.Hooks
	err = p.check(ctx, fn == nil)
	if h.OnDone == nil {
		if err != nil {
			return v, err
		}
		return run(ctx, p, fn, v, nil)
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
		h.OnDone(ctx, CallEvent{Name: p.Name, Attempts: started, Duration: since(p.Clock, start), Err: pe})
		if r != nil {
			panic(r)
		}
	}()
	counted := func(ctx context.Context) (T, error) {
		started++
		return fn(ctx)
	}
	v, err = run(ctx, p, counted, v, nil)
	returned = true
	e := CallEvent{Name: p.Name, Attempts: started, Duration: since(p.Clock, start), Err: err}
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
