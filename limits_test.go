package retry_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"
	"go.uber.org/goleak"

	"github.com/retrykit/retry"
)

// hang is an attempt that waits for its context to end.
func hang(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// MaxElapsed bounds the attempts too: one that hangs is cut short at
// start+MaxElapsed, not retried, and the call stops with ErrElapsed.
func TestMaxElapsedCutsAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		calls := 0
		var deadline time.Time
		fn := func(ctx context.Context) error {
			calls++
			if calls == 1 {
				return errTransient
			}
			deadline, _ = ctx.Deadline()
			return hang(ctx)
		}
		p := &retry.Policy{MaxAttempts: 5, MaxElapsed: 5 * time.Second, Backoff: retry.Constant{Interval: time.Second}}
		err := retry.Do(ctx, p, fn)
		var re *retry.Error
		if !errors.As(err, &re) || re.Reason != retry.ErrElapsed || re.Attempts != 2 || calls != 2 {
			t.Fatalf("err = %v after %d calls, want ErrElapsed after 2", err, calls)
		}
		if took := time.Since(start); took != 5*time.Second || !deadline.Equal(start.Add(5*time.Second)) {
			t.Errorf("took %v, attempt deadline %v after the start; want 5s and 5s", took, deadline.Sub(start))
		}
		// Last is the attempt's own error; the caller's deadline did not
		// pass, and it is no attempt timeout.
		if re.Last != context.DeadlineExceeded || errors.Is(err, retry.ErrDeadline) || errors.Is(err, retry.ErrAttemptTimeout) {
			t.Errorf("err = %v: Last %v", err, re.Last)
		}
		if ctx.Err() != nil {
			t.Errorf("the caller's context ended: %v", ctx.Err())
		}
		// As documented: the attempt's own error still says that its
		// context's deadline passed, and the call timed out.
		if !errors.Is(err, context.DeadlineExceeded) || !re.Timeout() {
			t.Errorf("err = %v hides the attempt's context.DeadlineExceeded, or is no timeout", err)
		}
	})
}

// With AttemptTimeout too, the attempts time out and are retried until
// MaxElapsed cuts the last one short.
func TestMaxElapsedWithAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var timedOut []error
		p := &retry.Policy{MaxAttempts: 10, MaxElapsed: 5 * time.Second, AttemptTimeout: 2 * time.Second, Backoff: retry.Constant{},
			Hooks: &retry.Hooks{OnRetry: func(_ context.Context, e retry.RetryEvent) { timedOut = append(timedOut, e.Err) }}}
		err := retry.Do(context.Background(), p, hang)
		var re *retry.Error
		if !errors.As(err, &re) || re.Reason != retry.ErrElapsed || re.Attempts != 3 || time.Since(start) != 5*time.Second {
			t.Fatalf("err = %v after %v, want ErrElapsed after 3 attempts and 5s", err, time.Since(start))
		}
		if len(timedOut) != 2 || !errors.Is(timedOut[0], retry.ErrAttemptTimeout) || !errors.Is(timedOut[1], retry.ErrAttemptTimeout) {
			t.Errorf("retried errors %v, want two attempt timeouts", timedOut)
		}
		if errors.Is(re.Last, retry.ErrAttemptTimeout) {
			t.Errorf("the cut attempt's error %v reads as its own timeout", re.Last)
		}
	})
}

// SplitDeadline shares the time left before the end of MaxElapsed when the
// context has no deadline.
func TestSplitDeadlineSharesMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var deadlines []time.Duration
		fn := func(ctx context.Context) error {
			dl, _ := ctx.Deadline()
			deadlines = append(deadlines, dl.Sub(start))
			return hang(ctx)
		}
		p := &retry.Policy{MaxAttempts: 3, MaxElapsed: 9 * time.Second, SplitDeadline: true, Backoff: retry.Constant{}}
		err := retry.Do(context.Background(), p, fn)
		want := []time.Duration{3 * time.Second, 6 * time.Second, 9 * time.Second}
		if !errors.Is(err, retry.ErrElapsed) || len(deadlines) != 3 || deadlines[0] != want[0] || deadlines[1] != want[1] || deadlines[2] != want[2] {
			t.Fatalf("err = %v, attempt deadlines %v; want ErrElapsed and %v", err, deadlines, want)
		}
	})
}

// Unlimited has no cap on the attempts: MaxElapsed, the context's deadline
// or its cancellation ends the call.
func TestUnlimited(t *testing.T) {
	t.Run("no cap", func(t *testing.T) {
		fn, calls := failing(1000, errTransient)
		p := &retry.Policy{MaxAttempts: retry.Unlimited, Backoff: retry.Constant{}}
		if err := retry.Do(context.Background(), p, fn); err != nil || *calls != 1001 {
			t.Fatalf("err = %v after %d calls, want success after 1001", err, *calls)
		}
	})
	t.Run("MaxElapsed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			fn, calls := failing(1<<30, errTransient)
			p := &retry.Policy{MaxAttempts: retry.Unlimited, MaxElapsed: 10 * time.Second, Backoff: retry.Constant{Interval: time.Second}}
			start := time.Now()
			err := retry.Do(context.Background(), p, fn)
			// Attempts at 0s, 1s, ... 9s; a wait to 10s would leave none.
			if re, ok := errors.AsType[*retry.Error](err); !ok || re.Reason != retry.ErrElapsed || re.Attempts != 10 || *calls != 10 || time.Since(start) != 9*time.Second {
				t.Fatalf("err = %v after %d calls and %v", err, *calls, time.Since(start))
			}
		})
	})
	t.Run("deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5500*time.Millisecond)
			defer cancel()
			fn, calls := failing(1<<30, errTransient)
			p := &retry.Policy{MaxAttempts: retry.Unlimited, Backoff: retry.Constant{Interval: time.Second}}
			err := retry.Do(ctx, p, fn)
			if re, ok := errors.AsType[*retry.Error](err); !ok || re.Reason != retry.ErrDeadline || re.Attempts != 6 || *calls != 6 {
				t.Fatalf("err = %v after %d calls", err, *calls)
			}
		})
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		fn, calls := failing(1<<30, errTransient)
		p := &retry.Policy{MaxAttempts: retry.Unlimited, Backoff: retry.Constant{},
			Hooks: &retry.Hooks{OnRetry: func(_ context.Context, e retry.RetryEvent) {
				if e.Attempt == 100 {
					cancel()
				}
			}}}
		err := retry.Do(ctx, p, fn)
		if re, ok := errors.AsType[*retry.Error](err); !ok || !errors.Is(re.Reason, context.Canceled) || re.Attempts != 100 || *calls != 100 {
			t.Fatalf("err = %v after %d calls", err, *calls)
		}
	})
}

// An attempt that runs out of its own time is retried and says so; the
// caller's deadline does not read as an attempt timeout.
func TestAttemptTimeoutVersusCallerDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &retry.Policy{MaxAttempts: 2, AttemptTimeout: time.Second, Backoff: retry.Constant{}}
		err := retry.Do(context.Background(), p, hang)
		re, _ := errors.AsType[*retry.Error](err)
		if re == nil || re.Reason != retry.ErrExhausted || !errors.Is(re.Last, retry.ErrAttemptTimeout) || !errors.Is(re.Last, context.DeadlineExceeded) {
			t.Fatalf("own timeout: err = %v, want ErrExhausted with an attempt timeout", err)
		}
		if !re.Timeout() {
			t.Error("own timeout: Timeout() = false")
		}

		// The caller's deadline comes first: no attempt timeout.
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		p = &retry.Policy{MaxAttempts: 5, AttemptTimeout: time.Second, Backoff: retry.Constant{}}
		var retried []error
		p.Hooks = &retry.Hooks{OnRetry: func(_ context.Context, e retry.RetryEvent) { retried = append(retried, e.Err) }}
		err = retry.Do(ctx, p, hang)
		re, _ = errors.AsType[*retry.Error](err)
		if re == nil || re.Reason != context.DeadlineExceeded || re.Attempts != 2 || errors.Is(re.Last, retry.ErrAttemptTimeout) {
			t.Fatalf("caller's deadline: err = %v, want its Reason, and no attempt timeout in the last attempt", err)
		}
		if len(retried) != 1 || !errors.Is(retried[0], retry.ErrAttemptTimeout) {
			t.Errorf("caller's deadline: retried %v, want the first attempt's timeout", retried)
		}
	})
}

// nowAfterClock is the least a Clock can be: Now and After, nothing else.
// Its time moves only when Add is called.
type nowAfterClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []nowAfterTimer
}

type nowAfterTimer struct {
	at time.Time
	ch chan time.Time
}

func (c *nowAfterClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *nowAfterClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, nowAfterTimer{c.now.Add(d), ch})
	return ch
}

// Add moves the time forward by d and fires the timers due.
func (c *nowAfterClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(c.now) {
			kept = append(kept, tm)
		} else {
			tm.ch <- c.now
		}
	}
	c.timers = kept
}

// AttemptTimeout works with any Clock: the attempt's deadline is read on
// it, and its After ends the attempt.
func TestAttemptTimeoutAnyClock(t *testing.T) {
	for name, clk := range map[string]interface {
		retry.Clock
		Add(time.Duration)
	}{
		"Now and After": &nowAfterClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		"clock.Mock":    clock.NewMock(),
	} {
		t.Run(name, func(t *testing.T) {
			started := make(chan time.Time)
			calls := 0
			fn := func(ctx context.Context) error {
				calls++
				if calls > 1 {
					return nil
				}
				dl, ok := ctx.Deadline()
				if !ok {
					return errors.New("no deadline")
				}
				started <- dl
				return hang(ctx)
			}
			var retried error
			p := &retry.Policy{MaxAttempts: 2, AttemptTimeout: time.Second, Backoff: retry.Constant{}, Clock: clk,
				Hooks: &retry.Hooks{OnRetry: func(_ context.Context, e retry.RetryEvent) { retried = e.Err }}}
			before := time.Now()
			done := make(chan error)
			go func() { done <- retry.Do(context.Background(), p, fn) }()
			// The deadline is in real time, whatever the Clock reads, for
			// the code in the attempt that compares it with time.Now.
			if dl := <-started; dl.Before(before.Add(time.Second)) || dl.After(time.Now().Add(time.Second)) {
				t.Errorf("attempt deadline %v, want 1s after the attempt started, in real time (%v)", dl, before)
			}
			clk.Add(time.Second)
			if err := <-done; err != nil || calls != 2 {
				t.Fatalf("err = %v after %d calls, want success after 2", err, calls)
			}
			if !errors.Is(retried, retry.ErrAttemptTimeout) || !errors.Is(retried, context.DeadlineExceeded) {
				t.Errorf("first attempt's error %v, want an attempt timeout", retried)
			}
		})
	}
}

// The goroutine that waits for a Clock's timer ends with the attempt, even
// on a clock that never moves.
func TestAttemptTimeoutClockNoLeak(t *testing.T) {
	defer goleak.VerifyNone(t)
	mock := clock.NewMock()
	fn, calls := failing(2, errTransient)
	p := &retry.Policy{AttemptTimeout: time.Hour, MaxElapsed: 2 * time.Hour, Backoff: retry.Constant{}, Clock: mock}
	if err := retry.Do(context.Background(), p, fn); err != nil || *calls != 3 {
		t.Fatalf("err = %v after %d calls", err, *calls)
	}
}

// An attempt's context made on a Clock behaves as a context: a child sees
// its deadline pass as context.DeadlineExceeded, and the caller's
// cancellation reaches it.
func TestClockAttemptContext(t *testing.T) {
	mock := clock.NewMock()
	p := &retry.Policy{MaxAttempts: 1, AttemptTimeout: time.Second, Clock: mock}
	errChild := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		_ = retry.Do(context.Background(), p, func(ctx context.Context) error {
			child, cancel := context.WithCancel(ctx)
			defer cancel()
			close(ready)
			<-child.Done()
			errChild <- child.Err()
			return ctx.Err()
		})
	}()
	<-ready
	mock.Add(time.Second)
	if err := <-errChild; err != context.DeadlineExceeded {
		t.Errorf("child's error %v, want context.DeadlineExceeded", err)
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stop")
	err := retry.Do(ctx, p, func(actx context.Context) error {
		cancel(stop)
		<-actx.Done()
		if !errors.Is(actx.Err(), context.Canceled) || context.Cause(actx) != stop {
			t.Errorf("attempt's context: %v, cause %v; want Canceled and the caller's cause", actx.Err(), context.Cause(actx))
		}
		return actx.Err()
	})
	if !errors.Is(err, stop) || errors.Is(err, retry.ErrAttemptTimeout) {
		t.Errorf("err = %v, want the caller's cancellation", err)
	}
}

// Every way MaxElapsed ends a call matches context.DeadlineExceeded: an
// attempt cut short, and a wait that would pass the end.
func TestMaxElapsedIsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &retry.Policy{MaxAttempts: 5, MaxElapsed: 5 * time.Second, Backoff: retry.Constant{Interval: 3 * time.Second}}
		err := retry.Do(context.Background(), p, func(context.Context) error { return errors.New("transient") })
		var re *retry.Error
		if !errors.As(err, &re) || re.Reason != retry.ErrElapsed || re.Attempts != 2 {
			t.Fatalf("err = %v, want ErrElapsed before the third attempt", err)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !re.Timeout() {
			t.Errorf("err = %v: Is DeadlineExceeded %v, Timeout %v", err, errors.Is(err, context.DeadlineExceeded), re.Timeout())
		}
	})
}
