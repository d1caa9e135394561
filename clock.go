package retry

import (
	"context"
	"time"
)

// Clock is the source of time for waits, elapsed-time limits and deadline
// checks. The real clock and *clock.Mock of github.com/benbjohnson/clock
// satisfy it as they are. A nil Clock means real time (package time), which
// also makes the policies work inside a testing/synctest bubble.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// timeoutClock is a Clock that can also make a context that expires in its
// own time, as benbjohnson/clock's clocks can. Policy.AttemptTimeout needs
// one when a Clock is set.
type timeoutClock interface {
	WithTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc)
}

func now(c Clock) time.Time {
	if c == nil {
		return time.Now()
	}
	return c.Now()
}

// sleep waits for d on c, or until ctx is done. It returns a non-nil error
// only when ctx is done, before or during the wait.
func sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d > 0 {
		if c == nil {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		} else {
			select {
			case <-c.After(d):
			case <-ctx.Done():
			}
		}
	}
	return ctx.Err()
}

// withTimeout returns a child of ctx that expires after d on c.
func withTimeout(ctx context.Context, c Clock, d time.Duration) (context.Context, context.CancelFunc) {
	if c == nil {
		return context.WithTimeout(ctx, d)
	}
	return c.(timeoutClock).WithTimeout(ctx, d) // checked by Policy.Validate
}
