package retry_test

// Hostile tests of the v1 API (issue 11): inputs and compositions a
// careless or adversarial user could write. Each test states what the
// documentation promises; a failing one is a defect to fix in the code.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"
	"go.uber.org/goleak"

	"github.com/retrykit/retry"
)

// noPanic runs f and reports a panic as a test failure.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if v := recover(); v != nil {
			t.Errorf("%s panicked: %v", what, v)
		}
	}()
	f()
}

// A function that returns a typed nil *BreakerError (the classic "nil
// pointer in a non-nil error" mistake) fails; the retry loop must treat it
// as errors.As does (a nil *BreakerError is no rejection) and must not
// crash reading its marks.
func TestHostileTypedNilBreakerError(t *testing.T) {
	var typedNil *retry.BreakerError
	fn := func(context.Context) error { return typedNil }
	wrapped := func(context.Context) error { return fmt.Errorf("db: %w", typedNil) }
	p := &retry.Policy{MaxAttempts: 2, Backoff: retry.Constant{}}
	for name, f := range map[string]func(context.Context) error{"bare": fn, "wrapped": wrapped} {
		noPanic(t, "Do with a typed nil *BreakerError, "+name, func() {
			err := retry.Do(context.Background(), p, f)
			re, ok := errors.AsType[*retry.Error](err)
			if !ok || re.Attempts != 2 || re.Reason != retry.ErrExhausted {
				t.Errorf("%s: err %#v, want ErrExhausted after 2 attempts", name, err)
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		noPanic(t, "Hedge with a typed nil *BreakerError", func() {
			_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Second},
				func(context.Context) (int, error) { return 0, typedNil })
			if _, ok := errors.AsType[*retry.Error](err); !ok {
				t.Errorf("Hedge: err %T, want *retry.Error", err)
			}
		})
	})
}

// An attempt's context made on a Clock is a context.Context: its Deadline
// is what I/O in fn (net.Dialer, net/http, gRPC) compares with time.Now.
// A fake Clock used to drive the waits (clock.NewMock starts in 1970)
// must not make every real dial of an attempt fail at once.
func TestHostileClockDeadlineIsWallTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for name, p := range map[string]*retry.Policy{
		"MaxElapsed":     {MaxAttempts: 1, MaxElapsed: time.Hour, Clock: clock.NewMock()},
		"AttemptTimeout": {MaxAttempts: 1, AttemptTimeout: time.Hour, Clock: clock.NewMock()},
	} {
		t.Run(name, func(t *testing.T) {
			var dl time.Time
			err := retry.Do(context.Background(), p, func(ctx context.Context) error {
				dl, _ = ctx.Deadline()
				var d net.Dialer
				c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
				if err == nil {
					c.Close()
				}
				return err
			})
			if err != nil {
				t.Errorf("a local dial within an attempt with an hour left on the Clock failed: %v (attempt deadline %v, wall time %v)",
					err, dl, time.Now().Format(time.RFC3339))
			}
		})
	}
}

// lateClock is a Clock whose waits of length wait end late: After(wait)
// moves its time by wait+late and fires at once, as a loaded machine's
// timer does (a negative late sets the clock back, as NTP may). Its other
// timers (the attempts' limits) never fire.
type lateClock struct {
	nowAfterClock // its Now and lock; its timers are unused
	wait, late    time.Duration
}

func (c *lateClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d != c.wait {
		return nil
	}
	c.now = c.now.Add(d + c.late)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// MaxElapsed "bounds the whole call, attempts included": a wait that ends
// late, past start+MaxElapsed, must not start another attempt, whose
// context would be dead before fn is called (and an fn that ignores its
// context would run past the limit).
func TestHostileNoAttemptAfterMaxElapsed(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk := &lateClock{nowAfterClock: nowAfterClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, wait: 4 * time.Second, late: 2 * time.Second}
	calls := 0
	var deadAtStart bool
	p := &retry.Policy{MaxAttempts: 5, MaxElapsed: 5 * time.Second, Backoff: retry.Constant{Interval: 4 * time.Second}, Clock: clk}
	err := retry.Do(context.Background(), p, func(ctx context.Context) error {
		calls++
		if ctx.Err() != nil {
			deadAtStart = true
		}
		return errTransient
	})
	if calls != 1 || deadAtStart {
		t.Errorf("fn called %d times (an attempt started with a dead context: %v) after a wait that ended past MaxElapsed; err = %v",
			calls, deadAtStart, err)
	}
	if !errors.Is(err, retry.ErrElapsed) {
		t.Errorf("err = %v, want ErrElapsed", err)
	}
}

// Unlimited attempts and no MaxElapsed: only the context ends the call,
// and its cancel cause is the Reason.
func TestHostileUnlimitedCancelCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		shutdown := errors.New("shutdown")
		calls := 0
		p := &retry.Policy{MaxAttempts: retry.Unlimited, Backoff: retry.Constant{Interval: time.Millisecond},
			Hooks: &retry.Hooks{OnRetry: func(_ context.Context, e retry.RetryEvent) {
				if e.Attempt == 1000 {
					cancel(shutdown)
				}
			}}}
		err := retry.Do(ctx, p, func(context.Context) error { calls++; return errTransient })
		re, ok := errors.AsType[*retry.Error](err)
		if !ok || re.Attempts != 1000 || calls != 1000 || !errors.Is(err, shutdown) || !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) {
			t.Fatalf("err = %v after %d calls, want the cause after 1000", err, calls)
		}
		if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "shutdown") {
			t.Errorf("message %q", err)
		}
	})
}

// nilAfterClock is a Clock whose timers never fire.
type nilAfterClock struct{}

func (nilAfterClock) Now() time.Time                       { return time.Unix(1e9, 0) }
func (nilAfterClock) After(time.Duration) <-chan time.Time { return nil }

// A Clock whose After never fires: the attempts' limits never end them,
// the caller's cancellation does, and nothing is left running.
func TestHostileNeverFiringClock(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithCancel(context.Background())
	p := &retry.Policy{MaxAttempts: retry.Unlimited, AttemptTimeout: time.Second, MaxElapsed: time.Minute,
		Backoff: retry.Constant{}, Clock: nilAfterClock{}}
	calls := 0
	err := retry.Do(ctx, p, func(ctx context.Context) error {
		calls++
		if calls == 50 {
			go cancel()
			<-ctx.Done()
			return ctx.Err()
		}
		return errTransient
	})
	if re, ok := errors.AsType[*retry.Error](err); !ok || re.Reason != context.Canceled || errors.Is(err, retry.ErrAttemptTimeout) {
		t.Fatalf("err = %v, want the caller's cancellation", err)
	}
	cancel()
}

// backClock goes back a second every time it is read.
type backClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *backClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(-time.Second)
	return c.now
}

func (c *backClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

// A Clock that goes backwards: no negative wait, no panic, and the
// attempt count still bounds the call.
func TestHostileBackwardsClock(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk := &backClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	var delays []time.Duration
	dead := 0
	p := &retry.Policy{MaxAttempts: 6, MaxElapsed: time.Second, AttemptTimeout: 500 * time.Millisecond, Clock: clk,
		Backoff: retry.Constant{Interval: 100 * time.Millisecond}, Hooks: &retry.Hooks{OnRetry: func(_ context.Context, e retry.RetryEvent) { delays = append(delays, e.Delay) }}}
	err := retry.Do(context.Background(), p, func(ctx context.Context) error {
		if ctx.Err() != nil {
			dead++
		}
		return errTransient
	})
	// (This clock's After fires at once, whatever the wait: an attempt's
	// context may end before fn looks at it, as the clock says its time
	// is up. dead counts them for the log only.)
	if !errors.Is(err, retry.ErrExhausted) {
		t.Errorf("err = %v (%d attempts started dead); want ErrExhausted after 6 attempts", err, dead)
	}
	for _, d := range delays {
		if d < 0 {
			t.Errorf("negative delay %v", d)
		}
	}
}

// The attempt's own timeout and the caller's deadline at the same
// instant: the caller's deadline decides, with or without a Clock, and
// MaxElapsed ending at that instant too does not read as ErrElapsed.
func TestHostileAttemptTimeoutSameInstantAsDeadline(t *testing.T) {
	for name, clk := range map[string]retry.Clock{"nil Clock": nil, "Clock": bubbleClock{}} {
		t.Run(name, func(t *testing.T) {
			for range 20 {
				synctest.Test(t, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					defer cancel()
					p := &retry.Policy{MaxAttempts: 3, AttemptTimeout: time.Second, MaxElapsed: time.Second, Clock: clk}
					err := retry.Do(ctx, p, hang)
					re, ok := errors.AsType[*retry.Error](err)
					if !ok || re.Reason != context.DeadlineExceeded || re.Attempts != 1 ||
						errors.Is(err, retry.ErrAttemptTimeout) || errors.Is(err, retry.ErrElapsed) {
						t.Fatalf("err = %v, want the caller's deadline alone", err)
					}
				})
			}
		})
	}
}

// bubbleClock is time itself, as a Clock: inside a synctest bubble, fake
// time.
type bubbleClock struct{}

func (bubbleClock) Now() time.Time                         { return time.Now() }
func (bubbleClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// ErrAttemptTimeout marks "an attempt whose own time limit ran out ...
// while the caller's context was still live". An attempt whose limit ran
// out a millisecond before the caller's deadline, and whose fn took two
// to return, ran out of its own time: httpx marks it (its attempt timeout
// "reads as one even when the caller's deadline passed meanwhile"); the
// core must agree.
func TestHostileAttemptTimeoutThenCallerDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second+time.Millisecond)
		defer cancel()
		p := &retry.Policy{MaxAttempts: 3, AttemptTimeout: time.Second}
		err := retry.Do(ctx, p, func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(2 * time.Millisecond) // slow to honour the cancellation
			return ctx.Err()
		})
		re, ok := errors.AsType[*retry.Error](err)
		if !ok || re.Reason != context.DeadlineExceeded {
			t.Fatalf("err = %v, want the caller's deadline as the Reason", err)
		}
		if !errors.Is(re.Last, retry.ErrAttemptTimeout) {
			t.Errorf("Last = %v: the attempt ran out of its own time at 1s, with the caller's context live until 1.001s", re.Last)
		}
	})
}

// Must on typed nil pointers: it panics, as documented, but with the
// error of Validate (wrapping ErrInvalid), not a nil dereference.
func TestHostileMustTypedNil(t *testing.T) {
	if got := retry.Must[*retry.Policy](nil); got != nil {
		t.Errorf("Must(nil *Policy) = %v", got)
	}
	if got := retry.Must[*retry.HedgePolicy](nil); got != nil {
		t.Errorf("Must(nil *HedgePolicy) = %v", got)
	}
	for name, f := range map[string]func(){
		"*Exponential":        func() { retry.Must[*retry.Exponential](nil) },
		"*BreakerConfig":      func() { retry.Must[*retry.BreakerConfig](nil) },
		"*RatioBudgetConfig":  func() { retry.Must[*retry.RatioBudgetConfig](nil) },
		"*TokenBucketConfig":  func() { retry.Must[*retry.TokenBucketConfig](nil) },
		"nil interface value": func() { retry.Must[interface{ Validate() error }](nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				v := recover()
				err, ok := v.(error)
				if !ok || !errors.Is(err, retry.ErrInvalid) {
					t.Errorf("Must panicked with %v (%T), want an error wrapping ErrInvalid", v, v)
				}
			}()
			f()
		})
	}
}

// Jitters that are not this package's: rejected by Validate and by every
// call before fn runs, never a negative or NaN wait, and named readably.
func TestHostileJitterValues(t *testing.T) {
	for _, j := range []retry.Jitter{
		retry.Jitter(math.NaN()), retry.Jitter(math.Inf(1)), retry.Jitter(math.Inf(-1)), retry.Jitter(0.5),
		retry.Jitter(1.0000001), retry.Jitter(-3), retry.Spread(math.NaN()), retry.Spread(math.Inf(1)), retry.Spread(-1e-300), retry.Spread(2),
	} {
		if err := j.Validate(); !errors.Is(err, retry.ErrInvalid) {
			t.Errorf("%v.Validate() = %v", j, err)
		}
		if s := j.String(); s == "NoJitter" || s == "FullJitter" || s == "EqualJitter" || strings.HasPrefix(s, "Spread(") {
			t.Errorf("String of invalid %v reads as a valid jitter", float64(j))
		}
		for _, b := range []retry.Backoff{retry.Constant{Interval: time.Second, Jitter: j}, retry.Exponential{Jitter: j}, retry.Linear{Jitter: j}} {
			called := false
			err := retry.Do(context.Background(), &retry.Policy{Backoff: b}, func(context.Context) error { called = true; return nil })
			if called || !errors.Is(err, retry.ErrInvalid) {
				t.Errorf("%T with %v: called %v, err %v", b, j, called, err)
			}
			for _, u := range []float64{0, 0.5, math.Nextafter(1, 0), math.NaN(), -1, 2} {
				if d := b.Delay(3, time.Second, u); d < 0 {
					t.Errorf("%T with %v: Delay(u=%v) = %v", b, j, u, d)
				}
			}
		}
	}
	for _, f := range []float64{0, math.Copysign(0, -1), math.SmallestNonzeroFloat64, 0.5, 1} {
		if err := retry.Spread(f).Validate(); err != nil {
			t.Errorf("Spread(%v).Validate() = %v", f, err)
		}
	}
}

// RatioBudgetConfig at its edges.
func TestHostileRatioBudgetConfig(t *testing.T) {
	for _, c := range []retry.RatioBudgetConfig{
		{Ratio: math.NaN()}, {Ratio: -0.5}, {Ratio: math.Inf(1)}, {Ratio: math.Inf(-1)}, {Ratio: 1.5}, {Ratio: -2},
		{MinPerSecond: math.NaN()}, {MinPerSecond: -0.5}, {MinPerSecond: math.Inf(1)}, {MinPerSecond: 1e9 + 1},
		{Window: -1}, {Window: 9},
	} {
		if _, err := retry.NewRatioBudget(c); !errors.Is(err, retry.ErrInvalid) {
			t.Errorf("NewRatioBudget(%+v): err = %v", c, err)
		}
	}
	// None in both: every extra attempt refused, first attempts counted.
	b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: retry.None, MinPerSecond: retry.None, Clock: clock.NewMock()})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		b.First()
	}
	if b.Extra() {
		t.Error("None and None let an extra attempt through")
	}
	// None as the ratio leaves the floor: 10/s over 10s is 100 extras.
	mock := clock.NewMock()
	b, _ = retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: retry.None, Clock: mock})
	n := 0
	for b.Extra() {
		n++
	}
	if n != 100 {
		t.Errorf("floor alone allowed %d extras, want 100", n)
	}
	// A negative zero is zero: the default.
	b, err = retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: math.Copysign(0, -1), MinPerSecond: math.Copysign(0, -1), Clock: clock.NewMock()})
	if err != nil {
		t.Fatal(err)
	}
	n = 0
	for b.Extra() {
		n++
	}
	if n != 100 {
		t.Errorf("-0 config allowed %d extras with no first attempts, want the default floor's 100", n)
	}
	// The shortest window and the largest values still decide.
	for _, c := range []retry.RatioBudgetConfig{
		{Window: 10, Clock: clock.NewMock()},
		{Ratio: 1, MinPerSecond: 1e9, Window: time.Duration(math.MaxInt64), Clock: clock.NewMock()},
	} {
		b, err := retry.NewRatioBudget(c)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		b.First()
		_ = b.Extra()
	}
}

// TokenBucketConfig at its edges.
func TestHostileTokenBucketConfig(t *testing.T) {
	for _, c := range []retry.TokenBucketConfig{
		{MaxTokens: math.NaN()}, {MaxTokens: -1}, {MaxTokens: math.Inf(1)}, {MaxTokens: 1000.0001}, {MaxTokens: 0.0004},
		{TokenRatio: math.NaN()}, {TokenRatio: -0.1}, {TokenRatio: 1.0001}, {TokenRatio: 0.0004}, {TokenRatio: math.Inf(1)},
	} {
		if _, err := retry.NewTokenBucket(c); !errors.Is(err, retry.ErrInvalid) {
			t.Errorf("NewTokenBucket(%+v): err = %v", c, err)
		}
	}
	// The smallest bucket: one thousandth of a token.
	b, err := retry.NewTokenBucket(retry.TokenBucketConfig{MaxTokens: 0.0005, TokenRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Extra() || b.Tokens() != 0.001 {
		t.Errorf("full smallest bucket: Extra %v, Tokens %v", b.Extra(), b.Tokens())
	}
	b.Result(false)
	if b.Extra() || b.Tokens() != 0 {
		t.Errorf("after a failure: Extra %v, Tokens %v", b.Extra(), b.Tokens())
	}
	b.Result(true)
	if !b.Extra() {
		t.Error("after a success: no extra")
	}
	// The largest.
	b, err = retry.NewTokenBucket(retry.TokenBucketConfig{MaxTokens: 1000, TokenRatio: 0.0005})
	if err != nil {
		t.Fatal(err)
	}
	for range 499 {
		b.Result(false)
	}
	if !b.Extra() {
		t.Error("501 of 1000 tokens left: no extra")
	}
	b.Result(false)
	if b.Extra() {
		t.Error("500 of 1000 tokens left: extra allowed")
	}
	// A negative zero is zero: the default.
	if b, err := retry.NewTokenBucket(retry.TokenBucketConfig{MaxTokens: math.Copysign(0, -1)}); err != nil || b.Tokens() != 10 {
		t.Errorf("-0 MaxTokens: %v, %v", b, err)
	}
}

// The zero budgets, shared under -race.
func TestHostileZeroBudgetsConcurrent(t *testing.T) {
	var rb retry.RatioBudget
	var tb retry.TokenBucket
	var wg sync.WaitGroup
	var extras atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				for _, b := range []retry.Budget{&rb, &tb} {
					b.First()
					if b.Extra() {
						extras.Add(1)
					}
					b.Result((i+g)%3 != 0)
				}
			}
		})
	}
	wg.Wait()
	if extras.Load() == 0 {
		t.Error("no extra attempt in 16000 asks")
	}
}

// A user Backoff with a Validate method is checked before the first
// attempt; one whose Validate panics on a nil receiver is the user's.
type badBackoff struct{}

func (badBackoff) Delay(int, time.Duration, float64) time.Duration { return time.Second }
func (badBackoff) Validate() error                                 { return errors.New("bad backoff") }

func TestHostileUserBackoffValidated(t *testing.T) {
	called := false
	err := retry.Do(context.Background(), &retry.Policy{Backoff: badBackoff{}}, func(context.Context) error { called = true; return nil })
	if called || err == nil || !strings.Contains(err.Error(), "bad backoff") {
		t.Errorf("called %v, err %v", called, err)
	}
	if err := (&retry.Policy{Backoff: badBackoff{}}).Validate(); err == nil {
		t.Error("Validate accepted a Backoff whose Validate fails")
	}
	// Must reports it too.
	defer func() {
		if recover() == nil {
			t.Error("Must accepted a Backoff whose Validate fails")
		}
	}()
	retry.Must(&retry.Policy{Backoff: badBackoff{}})
}

// An error message is "one line". Errors joined by errors.Join (the
// standard library's way to return several) end up in the message of a
// failed call as they are, newlines included.
func TestHostileOneLineWithJoinedErrors(t *testing.T) {
	joined := errors.Join(errors.New("replica a: 503"), errors.New("replica b: 503"))
	err := retry.Do(context.Background(), &retry.Policy{MaxAttempts: 2, Backoff: retry.Constant{}},
		func(context.Context) error { return joined })
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("message of a failed call is not one line: %q", err)
	}
	synctest.Test(t, func(t *testing.T) {
		_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 2},
			func(context.Context) (int, error) { return 0, joined })
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("message of a failed hedge is not one line: %q", err)
		}
	})
}

// A Hedge that its caller's context ends while every attempt is running
// has no attempt error to report: Last is nil ("nil if none finished"),
// and the message does not end in a dangling ": ". Nested in a Retry
// whose MaxElapsed cuts it, the same.
func TestHostileHedgeCutLastAndMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		h := &retry.HedgePolicy{MaxAttempts: 3, Delay: 400 * time.Millisecond}
		hangInt := func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }
		_, err := retry.Hedge(ctx, h, hangInt)
		re, ok := errors.AsType[*retry.Error](err)
		if !ok {
			t.Fatalf("err = %v", err)
		}
		if re.Last != nil && re.Last.Error() == "" {
			t.Errorf("Last is a non-nil error with an empty message (%#v)", re.Last)
		}
		if msg := err.Error(); strings.HasSuffix(msg, ": ") {
			t.Errorf("message ends in a dangling colon: %q", msg)
		}

		p := &retry.Policy{MaxAttempts: 2, MaxElapsed: time.Second, Backoff: retry.Constant{}}
		_, err = retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) { return retry.Hedge(ctx, h, hangInt) })
		if msg := err.Error(); strings.HasSuffix(msg, ": ") || strings.HasSuffix(msg, ": )") {
			t.Errorf("nested: message ends in a dangling colon: %q", msg)
		}
	})
}

// "The error of a nested call ... reads as one part of the message,
// without its own 'retry: gave up'": also when the outer call's
// AttemptTimeout cut the nested call short.
func TestHostileNestedCallInAttemptTimeoutMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outer := &retry.Policy{MaxAttempts: 2, AttemptTimeout: time.Second, Backoff: retry.Constant{}}
		inner := &retry.Policy{MaxAttempts: 5, Backoff: retry.Constant{}}
		_, err := retry.Retry(context.Background(), outer, func(ctx context.Context) (int, error) {
			return retry.Retry(ctx, inner, func(ctx context.Context) (int, error) {
				select {
				case <-ctx.Done():
					return 0, ctx.Err()
				case <-time.After(400 * time.Millisecond):
					return 0, errTransient
				}
			})
		})
		msg := err.Error()
		if strings.Count(msg, "retry:") != 1 || strings.Count(msg, "gave up") != 1 {
			t.Errorf("message says \"retry:\" %d times and \"gave up\" %d times: %q", strings.Count(msg, "retry:"), strings.Count(msg, "gave up"), msg)
		}
	})
}

// claimsEverything is an error whose As method claims to be any mark of
// package retry that exists: a Permanent, or an open breaker's rejection.
type claimsEverything struct{ rejection *retry.BreakerError }

func (claimsEverything) Error() string { return "claims everything" }
func (c claimsEverything) As(target any) bool {
	if t, ok := target.(**retry.BreakerError); ok && c.rejection != nil {
		*t = c.rejection
		return true
	}
	if c.rejection != nil {
		return false
	}
	// Whatever the target, if a Permanent fits it (the mark's own type,
	// which only reflection can name from outside), claim to be one.
	v, p := reflect.ValueOf(target).Elem(), reflect.ValueOf(retry.Permanent(errors.New("claimed")))
	if p.Type().AssignableTo(v.Type()) && v.Type().Kind() == reflect.Pointer {
		v.Set(p)
		return true
	}
	return false
}

// An error whose As method claims to be a breaker's rejection is read as
// one, as errors.As reads it: it stops the call at once, or, with
// WaitForProbe, waits until the claimed probe time. One that claims to be
// a Permanent stops the call.
func TestHostileAsMethodClaimsRejection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rej := &retry.BreakerError{Reason: retry.ErrBreakerOpen, Until: time.Now().Add(time.Second), Wait: time.Second}
		claim := fmt.Errorf("call: %w", claimsEverything{rej})
		calls := 0
		fn := func(context.Context) error {
			calls++
			if calls == 1 {
				return claim
			}
			return nil
		}
		err := retry.Do(context.Background(), &retry.Policy{MaxAttempts: 3}, fn)
		if re, ok := errors.AsType[*retry.Error](err); !ok || re.Reason != error(rej) || calls != 1 {
			t.Fatalf("err = %v after %d calls, want the claimed rejection as the Reason after 1", err, calls)
		}
		calls = 0
		start := time.Now()
		err = retry.Do(context.Background(), &retry.Policy{MaxAttempts: 3, WaitForProbe: true}, fn)
		if err != nil || calls != 2 || time.Since(start) != time.Second {
			t.Fatalf("WaitForProbe: err = %v after %d calls and %v, want success after 2 and 1s", err, calls, time.Since(start))
		}
		calls = 0
		err = retry.Do(context.Background(), &retry.Policy{MaxAttempts: 3}, func(context.Context) error {
			calls++
			return fmt.Errorf("call: %w", claimsEverything{})
		})
		if !errors.Is(err, retry.ErrNotRetryable) || calls != 1 {
			t.Fatalf("claimed Permanent: err = %v after %d calls, want ErrNotRetryable after 1", err, calls)
		}
	})
}

// layer wraps an error and says nothing of its own (a message that
// repeated the chain would grow as its square).
type layer struct{ err error }

func (layer) Error() string   { return "layer" }
func (l layer) Unwrap() error { return l.err }

// Big error trees: a long chain and a wide join, with the mark at the
// far end, are read without a stack overflow and with the mark found.
func TestHostileHugeErrorTrees(t *testing.T) {
	deep := retry.Permanent(errTransient)
	for range 100000 {
		deep = layer{deep}
	}
	wide := make([]error, 0, 10001)
	for range 10000 {
		wide = append(wide, errTransient)
	}
	wide = append(wide, retry.Permanent(errTransient))
	for name, e := range map[string]error{"deep": deep, "wide": errors.Join(wide...)} {
		calls := 0
		err := retry.Do(context.Background(), &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}},
			func(context.Context) error { calls++; return e })
		if calls != 1 || !errors.Is(err, retry.ErrNotRetryable) {
			t.Errorf("%s: %d calls, Reason not ErrNotRetryable", name, calls)
		}
	}
}

// One Policy with a Clock, an attempt timeout and MaxElapsed, shared by
// many goroutines at once (-race), leaves no goroutine behind.
func TestHostileSharedClockPolicyConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk := &nowAfterClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := retry.Must(&retry.Policy{MaxAttempts: 4, AttemptTimeout: time.Second, MaxElapsed: time.Minute, MarkAttempts: true,
		Backoff: retry.Constant{}, Clock: clk, Budget: &retry.RatioBudget{}})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				n := 0
				err := retry.Do(context.Background(), p, func(ctx context.Context) error {
					n++
					if a, _ := retry.AttemptFrom(ctx); a.Number != n {
						return retry.Permanent(fmt.Errorf("attempt %d marked %d", n, a.Number))
					}
					if n <= (g+i)%3 {
						return errTransient
					}
					return nil
				})
				if err != nil && !errors.Is(err, retry.ErrBudgetExhausted) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// MaxElapsed against one attempt's length, AttemptTimeout and the
// caller's deadline: which limit ends the call, and how it reads.
func TestHostileMaxElapsedEdges(t *testing.T) {
	type want struct {
		reason   error
		attempts int
		took     time.Duration
		timeout  bool // the Last matches ErrAttemptTimeout
	}
	for _, tc := range []struct {
		name     string
		p        retry.Policy
		deadline time.Duration // of the caller's context, if positive
		want     want
	}{
		{"MaxElapsed shorter than one attempt", retry.Policy{MaxElapsed: time.Second}, 0, want{retry.ErrElapsed, 1, time.Second, false}},
		{"MaxElapsed equal to AttemptTimeout", retry.Policy{MaxElapsed: time.Second, AttemptTimeout: time.Second}, 0, want{retry.ErrElapsed, 1, time.Second, false}},
		{"AttemptTimeout just under MaxElapsed", retry.Policy{MaxElapsed: time.Second, AttemptTimeout: time.Second - 1}, 0, want{retry.ErrElapsed, 2, time.Second, false}},
		{"caller's deadline earlier", retry.Policy{MaxElapsed: 2 * time.Second}, time.Second, want{context.DeadlineExceeded, 1, time.Second, false}},
		{"caller's deadline later", retry.Policy{MaxElapsed: time.Second}, 2 * time.Second, want{retry.ErrElapsed, 1, time.Second, false}},
		{"caller's deadline at the same instant", retry.Policy{MaxElapsed: time.Second}, time.Second, want{context.DeadlineExceeded, 1, time.Second, false}},
		{"attempt timeouts, then the caller's deadline", retry.Policy{MaxElapsed: time.Hour, AttemptTimeout: 400 * time.Millisecond, MaxAttempts: retry.Unlimited}, time.Second,
			want{context.DeadlineExceeded, 3, time.Second, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				if tc.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.deadline)
					defer cancel()
				}
				p := tc.p
				p.Backoff = retry.Constant{}
				start := time.Now()
				err := retry.Do(ctx, &p, hang)
				re, ok := errors.AsType[*retry.Error](err)
				if !ok || re.Reason != tc.want.reason || re.Attempts != tc.want.attempts || time.Since(start) != tc.want.took ||
					errors.Is(re.Last, retry.ErrAttemptTimeout) != tc.want.timeout {
					t.Errorf("err = %v after %v, want %+v", err, time.Since(start), tc.want)
				}
				if !re.Timeout() {
					t.Errorf("Timeout() = false for %v", err)
				}
			})
		})
	}
}

// A panic in an attempt with a time limit on a Clock reaches the caller
// unchanged, and the attempt's goroutine ends with it.
func TestHostilePanicInClockAttempt(t *testing.T) {
	defer goleak.VerifyNone(t)
	p := &retry.Policy{AttemptTimeout: time.Hour, MaxElapsed: 2 * time.Hour, Clock: clock.NewMock()}
	defer func() {
		if v := recover(); v != "boom" {
			t.Errorf("recovered %v, want the attempt's panic", v)
		}
	}()
	_ = retry.Do(context.Background(), p, func(context.Context) error { panic("boom") })
}

// A typed nil Clock (a *clock.Mock declared and not yet made) is not "a
// nil Clock", which means real time: like httpx's typed nil Base, it is
// bad input that Validate and the constructors report, wrapping
// ErrInvalid, rather than a nil dereference at the first call.
func TestHostileTypedNilClock(t *testing.T) {
	var mock *clock.Mock
	for name, f := range map[string]func() error{
		"Policy.Validate": func() error { return (&retry.Policy{Clock: mock}).Validate() },
		"Do": func() error {
			return retry.Do(context.Background(), &retry.Policy{Clock: mock, MaxElapsed: time.Second}, func(context.Context) error { return nil })
		},
		"HedgePolicy.Validate": func() error { return (&retry.HedgePolicy{Clock: mock}).Validate() },
		"NewBreaker":           func() error { _, err := retry.NewBreaker(retry.BreakerConfig{Clock: mock}); return err },
		"NewRatioBudget":       func() error { _, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Clock: mock}); return err },
	} {
		t.Run(name, func(t *testing.T) {
			noPanic(t, name, func() {
				if err := f(); !errors.Is(err, retry.ErrInvalid) {
					t.Errorf("err = %v, want one wrapping ErrInvalid", err)
				}
			})
		})
	}
}

// earlyClock's timers fire at once, whatever their length, and its time
// never moves: every attempt's limit ends it at once.
type earlyClock struct{}

func (earlyClock) Now() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
func (earlyClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

// A Clock whose timers fire early: the call still ends, by its count of
// attempts, and nothing is left running, from many goroutines (-race).
func TestHostileEarlyClock(t *testing.T) {
	defer goleak.VerifyNone(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				p := &retry.Policy{AttemptTimeout: time.Hour, Backoff: retry.Constant{Interval: time.Hour}, Clock: earlyClock{}}
				err := retry.Do(context.Background(), p, hang)
				if re, ok := errors.AsType[*retry.Error](err); !ok || re.Reason != retry.ErrExhausted || !errors.Is(err, retry.ErrAttemptTimeout) {
					t.Errorf("err = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// MaxElapsed at its largest, as "no limit but a huge one", on a Clock
// that is set back: the time left must not overflow into "none left".
func TestHostileHugeMaxElapsedBackwardsClock(t *testing.T) {
	defer goleak.VerifyNone(t)
	// Set back a second during each wait (NTP), with no monotonic reading.
	clk := &lateClock{nowAfterClock: nowAfterClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, wait: time.Millisecond, late: -time.Second}
	p := &retry.Policy{MaxElapsed: math.MaxInt64, Backoff: retry.Constant{Interval: time.Millisecond}, Clock: clk}
	calls := 0
	err := retry.Do(context.Background(), p, func(context.Context) error { calls++; return errTransient })
	if !errors.Is(err, retry.ErrExhausted) || calls != 3 {
		t.Errorf("err = %v after %d calls, want ErrExhausted after 3", err, calls)
	}
}
