package retry_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/internal/stepclock"
)

// The clocks of github.com/benbjohnson/clock satisfy Clock as they are.
var (
	_ retry.Clock = clock.New()
	_ retry.Clock = clock.NewMock()
)

// stepClock is a Clock whose waits end at once, moving its time forward by
// the wait; it records every wait.
type stepClock = stepclock.Clock

func newStepClock() *stepClock {
	return stepclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

// failing returns a call that fails n times with err, then succeeds, and a
// counter of its calls.
func failing(n int, err error) (func(context.Context) error, *int) {
	calls := 0
	return func(context.Context) error {
		calls++
		if calls <= n {
			return err
		}
		return nil
	}, &calls
}

var errTransient = errors.New("transient")

func TestDelaysChosen(t *testing.T) {
	tests := []struct {
		name    string
		backoff retry.Backoff
		rand    float64
		want    []time.Duration
	}{
		{"constant", retry.Constant{Interval: time.Second}, 0.5,
			[]time.Duration{time.Second, time.Second, time.Second}},
		{"linear", retry.Linear{Step: time.Second, Max: 2500 * time.Millisecond}, 0.5,
			[]time.Duration{time.Second, 2 * time.Second, 2500 * time.Millisecond}},
		{"exponential", retry.Exponential{Base: time.Second, Max: 5 * time.Second}, 0.5,
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{"exponential x3", retry.Exponential{Base: time.Second, Max: 20 * time.Second, Multiplier: 3}, 0.5,
			[]time.Duration{time.Second, 3 * time.Second, 9 * time.Second}},
		{"full jitter", retry.Exponential{Base: time.Second, Jitter: retry.FullJitter}, 0.25,
			[]time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}},
		{"equal jitter", retry.Exponential{Base: time.Second, Jitter: retry.EqualJitter}, 0.5,
			[]time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second}},
		{"spread", retry.Linear{Step: time.Second, Jitter: retry.Spread(0.2)}, 0,
			[]time.Duration{800 * time.Millisecond, 1600 * time.Millisecond, 2400 * time.Millisecond}},
		{"decorrelated", retry.DecorrelatedJitter{Base: time.Second, Max: time.Minute}, 1,
			[]time.Duration{3 * time.Second, 9 * time.Second, 27 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newStepClock()
			fn, calls := failing(3, errTransient)
			p := &retry.Policy{MaxAttempts: 4, Backoff: tt.backoff, Clock: clk, Rand: func() float64 { return tt.rand }}
			if err := retry.Do(context.Background(), p, fn); err != nil {
				t.Fatal(err)
			}
			if *calls != 4 {
				t.Errorf("calls = %d, want 4", *calls)
			}
			if got := clk.Waits(); !slices.Equal(got, tt.want) {
				t.Errorf("waits = %v, want %v", got, tt.want)
			}
		})
	}
}

// The seed's retryDo slept after its last attempt too; there must be no
// wait once no attempt follows.
func TestNoWaitAfterLastAttempt(t *testing.T) {
	clk := newStepClock()
	fn, calls := failing(10, errTransient)
	err := retry.Do(context.Background(), &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{Interval: time.Second}, Clock: clk}, fn)
	if !errors.Is(err, retry.ErrExhausted) || !errors.Is(err, errTransient) {
		t.Fatalf("err = %v, want ErrExhausted wrapping the last error", err)
	}
	if *calls != 3 || len(clk.Waits()) != 2 {
		t.Errorf("calls = %d, waits = %v; want 3 calls and 2 waits", *calls, clk.Waits())
	}
}

func TestMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn, calls := failing(10, errTransient)
		p := &retry.Policy{MaxAttempts: 10, MaxElapsed: 3500 * time.Millisecond,
			Backoff: retry.Constant{Interval: time.Second}}
		start := time.Now()
		err := retry.Do(context.Background(), p, fn)
		var re *retry.Error
		if !errors.As(err, &re) || !errors.Is(err, retry.ErrElapsed) {
			t.Fatalf("err = %v, want *Error with ErrElapsed", err)
		}
		// Waits end at 1s, 2s, 3s; a fourth would end at 4s > 3.5s.
		if re.Attempts != 4 || *calls != 4 || time.Since(start) != 3*time.Second {
			t.Errorf("attempts = %d, calls = %d, after %v", re.Attempts, *calls, time.Since(start))
		}
	})
}

// A wait that would outlive the caller's deadline is not started: the call
// returns at once, and the deadline shows in the error.
func TestWaitPastDeadlineNotStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
		defer cancel()
		fn, calls := failing(10, errTransient)
		start := time.Now()
		err := retry.Do(ctx, &retry.Policy{MaxAttempts: 10, Backoff: retry.Constant{Interval: time.Second}}, fn)
		if !errors.Is(err, retry.ErrDeadline) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errTransient) {
			t.Fatalf("err = %v", err)
		}
		if elapsed := time.Since(start); elapsed != 2*time.Second {
			t.Errorf("returned after %v, want 2s (no third wait)", elapsed)
		}
		if *calls != 3 {
			t.Errorf("calls = %d, want 3", *calls)
		}
		if ctx.Err() != nil {
			t.Error("the deadline has not passed yet, but ctx is done")
		}
	})
}

func TestCancelDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		fn, calls := failing(10, errTransient)
		go func() {
			time.Sleep(1500 * time.Millisecond)
			cancel()
		}()
		start := time.Now()
		err := retry.Do(ctx, &retry.Policy{MaxAttempts: 10, Backoff: retry.Constant{Interval: time.Hour}}, fn)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) {
			t.Fatalf("err = %v, want Canceled and the last error", err)
		}
		if elapsed := time.Since(start); elapsed != 1500*time.Millisecond {
			t.Errorf("returned after %v, want 1.5s", elapsed)
		}
		if *calls != 1 {
			t.Errorf("calls = %d, want 1", *calls)
		}
	})
}

// The same, with benbjohnson/clock's mock: its timer never fires, so only
// the cancellation can end the wait.
func TestCancelDuringWaitMockClock(t *testing.T) {
	mock := clock.NewMock()
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("shutting down")
	p := &retry.Policy{
		Backoff: retry.Constant{Interval: time.Minute},
		Clock:   mock,
		Hooks:   &retry.Hooks{OnRetry: func(context.Context, retry.RetryEvent) { cancel(stop) }},
	}
	err := retry.Do(ctx, p, func(context.Context) error { return errTransient })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, stop) || !errors.Is(err, errTransient) {
		t.Fatalf("err = %v, want Canceled, its cause and the last error", err)
	}
}

func TestMockClockWaitsItsTime(t *testing.T) {
	mock := clock.NewMock()
	var retryAt time.Time // mock time when the wait was chosen
	p := &retry.Policy{
		Backoff: retry.Constant{Interval: time.Minute},
		Clock:   mock,
		Hooks:   &retry.Hooks{OnRetry: func(context.Context, retry.RetryEvent) { retryAt = mock.Now() }},
	}
	fn, calls := failing(1, errTransient)
	done := make(chan error)
	go func() { done <- retry.Do(context.Background(), p, fn) }()
	for {
		select {
		case err := <-done:
			if err != nil || *calls != 2 {
				t.Fatalf("err = %v, calls = %d", err, *calls)
			}
			if waited := mock.Now().Sub(retryAt); waited < time.Minute {
				t.Fatalf("retried after %v of mock time, want at least 1m", waited)
			}
			return
		default:
			mock.Add(time.Second)
		}
	}
}

// An attempt's own timeout is retried; the caller's deadline is not.
func TestAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		fn := func(ctx context.Context) (string, error) {
			calls++
			if calls < 3 {
				<-ctx.Done() // hang until the attempt times out
				return "", ctx.Err()
			}
			return "ok", nil
		}
		start := time.Now()
		v, err := retry.Retry(context.Background(), &retry.Policy{
			MaxAttempts: 5, AttemptTimeout: time.Second, Backoff: retry.Constant{}}, fn)
		if err != nil || v != "ok" || calls != 3 {
			t.Fatalf("v, err = %q, %v after %d calls", v, err, calls)
		}
		if elapsed := time.Since(start); elapsed != 2*time.Second {
			t.Errorf("took %v, want 2s", elapsed)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		calls = -10 // hang every time
		_, err = retry.Retry(ctx, &retry.Policy{MaxAttempts: 5, AttemptTimeout: time.Second, Backoff: retry.Constant{}}, fn)
		var re *retry.Error
		if !errors.As(err, &re) || !errors.Is(err, context.DeadlineExceeded) || re.Attempts != 2 {
			t.Fatalf("err = %v, want the caller's deadline after 2 attempts", err)
		}
	})
}

func TestAttemptTimeoutMockClock(t *testing.T) {
	mock := clock.NewMock()
	started := make(chan struct{}, 1)
	fn := func(ctx context.Context) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}
	done := make(chan error)
	go func() {
		done <- retry.Do(context.Background(), &retry.Policy{MaxAttempts: 1, AttemptTimeout: time.Second, Clock: mock}, fn)
	}()
	<-started
	mock.Add(time.Second)
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, retry.ErrExhausted) {
		t.Fatalf("err = %v", err)
	}
}

// A delay the server asked for replaces the backoff for that wait.
func TestServerRequestedDelay(t *testing.T) {
	clk := newStepClock()
	calls := 0
	fn := func(context.Context) error {
		calls++
		switch calls {
		case 1:
			return retry.After(errTransient, 7*time.Second)
		case 2:
			return errTransient
		}
		return nil
	}
	p := &retry.Policy{Backoff: retry.Constant{Interval: time.Second}, Clock: clk}
	if err := retry.Do(context.Background(), p, fn); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{7 * time.Second, time.Second}; !slices.Equal(clk.Waits(), want) {
		t.Errorf("waits = %v, want %v", clk.Waits(), want)
	}
}

func TestServerRequestedDelayLimits(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
		max   time.Duration
		check func(error) bool
	}{
		{"over default cap", 2 * time.Minute, 0, func(err error) bool {
			var pe *retry.PushbackError
			return errors.As(err, &pe) && pe.Requested == 2*time.Minute && pe.Limit == time.Minute
		}},
		{"over set cap", 11 * time.Second, 10 * time.Second, func(err error) bool {
			var pe *retry.PushbackError
			return errors.As(err, &pe) && pe.Limit == 10*time.Second
		}},
		{"huge", time.Duration(1<<63 - 1), 0, func(err error) bool {
			var pe *retry.PushbackError
			return errors.As(err, &pe)
		}},
		{"negative: do not retry", -time.Second, 0, func(err error) bool {
			return errors.Is(err, retry.ErrNotRetryable)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newStepClock()
			fn, calls := failing(1, retry.After(errTransient, tt.delay))
			err := retry.Do(context.Background(), &retry.Policy{MaxAfter: tt.max, Clock: clk}, fn)
			if !tt.check(err) || !errors.Is(err, errTransient) {
				t.Fatalf("err = %v", err)
			}
			if *calls != 1 || len(clk.Waits()) != 0 {
				t.Errorf("calls = %d, waits = %v; want 1 call and no wait", *calls, clk.Waits())
			}
		})
	}
}

// A server-requested delay past the caller's deadline is not slept.
func TestServerRequestedDelayPastDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		fn, _ := failing(1, retry.After(errTransient, 30*time.Second))
		start := time.Now()
		err := retry.Do(ctx, nil, fn)
		if !errors.Is(err, retry.ErrDeadline) || time.Since(start) != 0 {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
	})
}
