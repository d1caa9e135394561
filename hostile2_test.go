package retry_test

// Second hostile pass (issue 11): attacks on the fixes of the first.
// Each test states what the documentation promises; a failing one is a
// defect to fix in the code, not in the test.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/retrykit/retry"
)

// underOuterLimit returns the error of a call with the inner policy whose
// attempts hang, made inside the one attempt of a call whose
// AttemptTimeout is 1s: the outer limit is the inner call's caller
// deadline.
func underOuterLimit(inner *retry.Policy) error {
	outer := &retry.Policy{MaxAttempts: 1, AttemptTimeout: time.Second}
	var innerErr error
	_ = retry.Do(context.Background(), outer, func(ctx context.Context) error {
		innerErr = retry.Do(ctx, inner, func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		return innerErr
	})
	return innerErr
}

// A Retry inside another Retry's attempt, both on real time: the outer
// attempt's AttemptTimeout is the inner call's caller deadline. The inner
// call's own AttemptTimeout (10s) never fired, so its error must not
// match ErrAttemptTimeout nor say "timed out after 10s" (ErrAttemptTimeout:
// "the caller's own deadline never makes it match").
func TestHostile2NestedOuterLimitIsNotInnerAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		innerErr := underOuterLimit(&retry.Policy{MaxAttempts: 3, AttemptTimeout: 10 * time.Second, Backoff: retry.Constant{}})
		if errors.Is(innerErr, retry.ErrAttemptTimeout) || strings.Contains(innerErr.Error(), "after 10s") {
			t.Errorf("inner call ended by the outer attempt's 1s limit reads as its own 10s attempt timeout: %v", innerErr)
		}
	})
}

// The same with the inner call bounded by MaxElapsed (10s): it was cut by
// its caller's deadline (the outer attempt's 1s), not by its own
// MaxElapsed, so its Reason is not ErrElapsed.
func TestHostile2NestedOuterLimitIsNotInnerElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		innerErr := underOuterLimit(&retry.Policy{MaxAttempts: 3, MaxElapsed: 10 * time.Second, Backoff: retry.Constant{}})
		if re, ok := errors.AsType[*retry.Error](innerErr); !ok || re.Reason == retry.ErrElapsed {
			t.Errorf("inner call ended after 1s of its 10s MaxElapsed reports ErrElapsed: %v", innerErr)
		}
	})
}

// A Retry inside another's attempt, both on one fake Clock (the setting
// the Clock is for). The outer attempt has 10s on that Clock; the inner
// call's next wait is a minute, past that, so it must stop with
// ErrDeadline ("the next wait would end at or past the context's
// deadline") rather than start a wait its caller's limit will cut.
func TestHostile2NestedSameClockSeesDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		outer := &retry.Policy{MaxAttempts: 1, AttemptTimeout: 10 * time.Second, Clock: mock}
		inner := &retry.Policy{MaxAttempts: 5, Backoff: retry.Constant{Interval: time.Minute}, Clock: mock}
		done := make(chan error, 1)
		go func() {
			_ = retry.Do(context.Background(), outer, func(ctx context.Context) error {
				err := retry.Do(ctx, inner, func(context.Context) error { return errors.New("transient") })
				done <- err
				return err
			})
		}()
		synctest.Wait()
		select {
		case err := <-done:
			if !errors.Is(err, retry.ErrDeadline) {
				t.Errorf("inner err = %v, want ErrDeadline", err)
			}
		default:
			t.Errorf("inner call started a 1m wait on the Clock with 10s left on the same Clock (its caller's Deadline is in real time, its Now on the mock)")
			mock.Add(11 * time.Second)
			<-done
		}
	})
}

// A fake Clock set ahead of real time (a test of "tomorrow") with a
// caller deadline an hour away: AttemptTimeout must still bound each
// attempt. Moving the Clock past it must end the attempt's context.
func TestHostile2ClockAheadKeepsAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mock := clock.NewMock()
		mock.Set(time.Now().Add(24 * time.Hour))
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		p := &retry.Policy{MaxAttempts: 1, AttemptTimeout: time.Second, Clock: mock}
		started := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- retry.Do(ctx, p, func(ctx context.Context) error {
				close(started)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(30 * time.Minute): // bubble time: the limit never came
					return errors.New("attempt context still live after AttemptTimeout on the Clock")
				}
			})
		}()
		<-started
		mock.Add(2 * time.Second)
		if err := <-done; !errors.Is(err, retry.ErrAttemptTimeout) {
			t.Errorf("err = %v, want ErrAttemptTimeout after the Clock moved past AttemptTimeout", err)
		}
	})
}

// seqClock returns its times in order (the last one for ever) and records
// the durations its After was asked for; its timers never fire.
type seqClock struct {
	mu     sync.Mutex
	times  []time.Time
	afters []time.Duration
}

func (c *seqClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.times[0]
	if len(c.times) > 1 {
		c.times = c.times[1:]
	}
	return t
}

func (c *seqClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.afters = append(c.afters, d)
	return nil
}

// A clock set back between the call's start and its first attempt: "a
// clock set back reads as no time passed" (loop.go), so the attempt has
// at most MaxElapsed, not MaxElapsed plus the hour the clock went back.
func TestHostile2BackwardsClockAttemptLimit(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &seqClock{times: []time.Time{t0, t0.Add(-time.Hour)}}
	p := &retry.Policy{MaxAttempts: 1, MaxElapsed: 10 * time.Second, Clock: clk}
	if err := retry.Do(context.Background(), p, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, d := range clk.afters {
		if d > p.MaxElapsed {
			t.Errorf("the attempt's limit on a clock set back an hour is %v, more than MaxElapsed %v", d, p.MaxElapsed)
		}
	}
}

// Messages stay on one line whatever the errors they quote hold: the
// cause given to cancel is quoted in the Reason.
func TestHostile2OneLineCancelCause(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("shutting down\r\nbye"))
	err := retry.Do(ctx, &retry.Policy{}, func(context.Context) error { return nil })
	if err == nil || strings.ContainsAny(err.Error(), "\r\n") {
		t.Errorf("message not on one line: %q", err)
	}
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		err := retry.Do(ctx, &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{Interval: time.Second}}, func(context.Context) error {
			cancel(errors.New("drain\nnow"))
			return errors.New("x")
		})
		if err == nil || strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("message not on one line: %q", err)
		}
	})
	// A hand-built Error with a Reason of several lines.
	e := &retry.Error{Attempts: 2, Reason: errors.New("a\nb"), Last: errors.New("c")}
	if strings.ContainsAny(e.Error(), "\r\n") {
		t.Errorf("message not on one line: %q", e.Error())
	}
}

// A quoted error's trailing newline (log-style messages end with one) or
// leading one is a line break, not a separator: the line must not end
// with "; " nor show an empty part.
func TestHostile2OneLineEdges(t *testing.T) {
	for _, msg := range []string{"boom\n", "boom\r\n", "\nboom", "boom\n\n"} {
		err := retry.Do(context.Background(), &retry.Policy{MaxAttempts: 1}, func(context.Context) error { return errors.New(msg) })
		s := err.Error()
		if strings.HasSuffix(s, "; ") || strings.HasSuffix(s, ";") || strings.Contains(s, ": ; ") || strings.Contains(s, "; ; ") {
			t.Errorf("quoted %q: message %q has an empty part", msg, s)
		}
	}
}

// Must catches the panic of a nil value's Validate; a non-nil value whose
// Validate panics for another reason must not be reported as "nil".
type panickyConfig struct{ n *int }

func (c *panickyConfig) Validate() error {
	if *c.n < 0 { // c is not nil; its field is
		return errors.New("negative")
	}
	return nil
}

func TestHostile2MustNonNilPanicNotCalledNil(t *testing.T) {
	defer func() {
		v := recover()
		err, ok := v.(error)
		if ok && strings.Contains(err.Error(), "is nil") {
			t.Errorf("Must(&panickyConfig{}) says %q: the value is not nil, its Validate panicked", err)
		}
	}()
	retry.Must(&panickyConfig{})
}
