package retry

import (
	"context"
	"reflect"
	"time"
)

// Clock is the source of time for waits, elapsed-time limits, the time
// limits of attempts and deadline checks. The real clock and *clock.Mock
// of github.com/benbjohnson/clock satisfy it as they are. A nil Clock
// means real time (package time), which also makes the policies work
// inside a testing/synctest bubble.
//
// An attempt's time limit on a Clock is a context that After ends, whose
// Deadline reads in real time (time.Now plus the limit, for the code in the
// attempt that compares it with time.Now); it costs a goroutine per
// attempt, stopped when the attempt returns. A Clock that holds a nil
// pointer (a *clock.Mock declared and not made) is invalid, not real time.
type Clock interface {
	Now() time.Time                         // the current time
	After(d time.Duration) <-chan time.Time // sends the time once d has passed, as time.After
}

// nilValue reports whether v, an interface value that is not nil, holds a
// nil pointer, map, func or channel, whose methods would likely panic: a
// typed nil is bad input, not "none".
func nilValue(v any) bool {
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// validateClock reports a Clock that holds a nil value.
func validateClock(owner string, c Clock) error {
	if c != nil && nilValue(c) {
		return invalid("%s.Clock is a nil %T", owner, c)
	}
	return nil
}

// until returns the time left before dl, a context's deadline, at t read
// on c. A deadline is in real time whatever c reads, so on a Clock the
// time left is measured in real time: a fake clock's date says nothing
// about it.
func until(c Clock, dl, t time.Time) time.Duration {
	if c == nil {
		return dl.Sub(t) // t is time.Now()
	}
	return time.Until(dl)
}

// since is the time from start, read on c, to now. On real time it reads
// only the monotonic clock, which costs less than a full reading.
func since(c Clock, start time.Time) time.Duration {
	if c == nil {
		return time.Since(start)
	}
	return c.Now().Sub(start)
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
