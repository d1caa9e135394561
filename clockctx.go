package retry

import (
	"context"
	"sync"
	"time"
)

// clockContext is a child of a context that expires at a deadline read on
// a Clock, so that an attempt's time limit follows a fake clock as the
// waits do. Any Clock will do: the deadline is Now plus the limit, and
// Clock.After ends it. One goroutine waits for the first of the clock,
// the parent and cancel; cancel stops it, even on a clock that never
// moves.
type clockContext struct {
	parent   context.Context
	deadline time.Time
	done     chan struct{}

	mu  sync.Mutex
	err error
	own bool // err is its own deadline's
}

// withClockDeadline returns a child of parent that expires d from now on
// c, and the function that cancels it and stops its goroutine. Its
// Deadline is in real time, time.Now()+d, whatever c's time reads: code
// in the attempt (net.Dialer, an HTTP/2 transport, a nested httpx call)
// compares it with time.Now, and a fake clock's date would make it
// already past, or years away.
func withClockDeadline(parent context.Context, c Clock, d time.Duration) (*clockContext, context.CancelFunc) {
	ctx := &clockContext{parent: parent, deadline: time.Now().Add(d), done: make(chan struct{})}
	switch err := parent.Err(); {
	case err != nil:
		ctx.end(err)
		return ctx, func() {}
	case d <= 0: // a Clock need not fire a timer that is due already
		ctx.end(errOwnLimit)
		return ctx, func() {}
	}
	timeUp := c.After(d) // before fn runs, so that a mock moved then fires it
	go func() {
		select {
		case <-timeUp:
			ctx.end(errOwnLimit)
		case <-parent.Done():
			ctx.end(parent.Err())
		case <-ctx.done:
		}
	}()
	return ctx, func() { ctx.end(context.Canceled) }
}

// end makes ctx done with err, unless it is done already; errOwnLimit
// means its own time ran out, and reads as context.DeadlineExceeded.
func (ctx *clockContext) end(err error) {
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	if ctx.err == nil {
		ctx.own = err == errOwnLimit
		if ctx.own {
			err = context.DeadlineExceeded
		}
		ctx.err = err
		close(ctx.done)
	}
}

// expired reports whether ctx ended because its own time ran out, before
// its parent ended or it was cancelled.
func (ctx *clockContext) expired() bool {
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	return ctx.own
}

// Deadline returns the earlier of the parent's deadline and ctx's own.
func (ctx *clockContext) Deadline() (time.Time, bool) {
	if dl, ok := ctx.parent.Deadline(); ok && dl.Before(ctx.deadline) {
		return dl, true
	}
	return ctx.deadline, true
}

func (ctx *clockContext) Done() <-chan struct{} { return ctx.done }

func (ctx *clockContext) Err() error {
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	return ctx.err
}

func (ctx *clockContext) Value(key any) any { return ctx.parent.Value(key) }
