package retry

import (
	"context"
	"time"
)

// Clock is the source of time for waits, elapsed-time limits, the time
// limits of attempts and deadline checks. The real clock and *clock.Mock
// of github.com/benbjohnson/clock satisfy it as they are. A nil Clock
// means real time (package time), which also makes the policies work
// inside a testing/synctest bubble.
//
// An attempt's time limit on a Clock is a context whose deadline is Now
// plus the limit and which After ends; it costs a goroutine per attempt,
// stopped when the attempt returns.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
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
