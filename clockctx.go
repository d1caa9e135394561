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
}

// withClockDeadline returns a child of parent that expires d from now on
// c, at deadline, and the function that cancels it and stops its
// goroutine.
func withClockDeadline(parent context.Context, c Clock, deadline time.Time, d time.Duration) (context.Context, context.CancelFunc) {
	ctx := &clockContext{parent: parent, deadline: deadline, done: make(chan struct{})}
	switch err := parent.Err(); {
	case err != nil:
		ctx.end(err)
		return ctx, func() {}
	case d <= 0: // a Clock need not fire a timer that is due already
		ctx.end(context.DeadlineExceeded)
		return ctx, func() {}
	}
	timeUp := c.After(d) // before fn runs, so that a mock moved then fires it
	go func() {
		select {
		case <-timeUp:
			ctx.end(context.DeadlineExceeded)
		case <-parent.Done():
			ctx.end(parent.Err())
		case <-ctx.done:
		}
	}()
	return ctx, func() { ctx.end(context.Canceled) }
}

// end makes ctx done with err, unless it is done already.
func (ctx *clockContext) end(err error) {
	ctx.mu.Lock()
	defer ctx.mu.Unlock()
	if ctx.err == nil {
		ctx.err = err
		close(ctx.done)
	}
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
