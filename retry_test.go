package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

var instant = &retry.Policy{MaxAttempts: 4, Backoff: retry.Constant{}}

func TestSuccessFirstTry(t *testing.T) {
	calls := 0
	v, err := retry.Retry(context.Background(), nil, func(context.Context) (int, error) { calls++; return 7, nil })
	if v != 7 || err != nil || calls != 1 {
		t.Fatalf("got %d, %v after %d calls", v, err, calls)
	}
}

func TestRetryUntilSuccess(t *testing.T) {
	fn, calls := failing(3, errTransient)
	if err := retry.Do(context.Background(), instant, fn); err != nil || *calls != 4 {
		t.Fatalf("err = %v after %d calls", err, *calls)
	}
}

// Exhaustion must never look like success (the seed's retryDo returned
// req.Context().Err(), usually nil), and the last error must be reachable.
func TestExhaustedError(t *testing.T) {
	calls := 0
	fn := func(context.Context) (string, error) {
		calls++
		return fmt.Sprint("partial ", calls), fmt.Errorf("attempt %d: %w", calls, errTransient)
	}
	v, err := retry.Retry(context.Background(), instant, fn)
	var re *retry.Error
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want *retry.Error", err)
	}
	if re.Attempts != 4 || !errors.Is(err, retry.ErrExhausted) || !errors.Is(err, errTransient) {
		t.Errorf("err = %#v", re)
	}
	if !strings.Contains(err.Error(), "attempt 4: transient") || !strings.Contains(err.Error(), "after 4 attempts") {
		t.Errorf("message %q lacks the count or the last error", err)
	}
	if v != "partial 4" {
		t.Errorf("value = %q, want the last attempt's", v)
	}
}

func TestPermanentStops(t *testing.T) {
	errNotFound := errors.New("not found")
	fn, calls := failing(10, retry.Permanent(fmt.Errorf("lookup: %w", errNotFound)))
	err := retry.Do(context.Background(), instant, fn)
	if *calls != 1 || !errors.Is(err, retry.ErrNotRetryable) || !errors.Is(err, errNotFound) {
		t.Fatalf("err = %v after %d calls", err, *calls)
	}
	if retry.Permanent(nil) != nil || retry.After(nil, time.Second) != nil {
		t.Error("Permanent(nil) and After(nil, d) must be nil")
	}
	if got := retry.Permanent(errNotFound).Error(); got != "not found" {
		t.Errorf("Permanent changed the message: %q", got)
	}
}

func TestRetryablePredicate(t *testing.T) {
	errFatal := errors.New("fatal")
	calls := 0
	fn := func(context.Context) error {
		calls++
		if calls < 3 {
			return errTransient
		}
		return errFatal
	}
	p := &retry.Policy{MaxAttempts: 10, Backoff: retry.Constant{},
		Retryable: func(err error) bool { return !errors.Is(err, errFatal) }}
	err := retry.Do(context.Background(), p, fn)
	if calls != 3 || !errors.Is(err, retry.ErrNotRetryable) || !errors.Is(err, errFatal) {
		t.Fatalf("err = %v after %d calls", err, calls)
	}
}

// The caller's cancellation is never retried, whatever Retryable says.
func TestCallerCancelNotRetried(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	fn := func(ctx context.Context) error {
		calls++
		cancel()
		return ctx.Err()
	}
	p := &retry.Policy{MaxAttempts: 10, Backoff: retry.Constant{}, Retryable: func(error) bool { return true }}
	err := retry.Do(ctx, p, fn)
	if calls != 1 || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v after %d calls", err, calls)
	}
}

func TestOnRetry(t *testing.T) {
	var events []retry.RetryEvent
	fn, _ := failing(2, errTransient)
	p := &retry.Policy{Backoff: retry.Constant{Interval: time.Second}, Clock: newStepClock(),
		Hooks: &retry.Hooks{OnRetry: func(_ context.Context, e retry.RetryEvent) { events = append(events, e) }}}
	if err := retry.Do(context.Background(), p, fn); err != nil {
		t.Fatal(err)
	}
	want := []retry.RetryEvent{{Attempt: 1, Err: errTransient, Delay: time.Second}, {Attempt: 2, Err: errTransient, Delay: time.Second}}
	if len(events) != 2 || events[0] != want[0] || events[1] != want[1] {
		t.Errorf("events = %v, want %v", events, want)
	}
}

// A panic in fn reaches the caller unchanged and is not retried.
func TestPanicPropagates(t *testing.T) {
	calls := 0
	defer func() {
		if r := recover(); r != "boom" || calls != 1 {
			t.Errorf("recovered %v after %d calls, want boom after 1", r, calls)
		}
	}()
	_ = retry.Do(context.Background(), instant, func(context.Context) error { calls++; panic("boom") })
	t.Error("no panic")
}

func TestBadInput(t *testing.T) {
	ok := func(context.Context) error { return nil }
	bad := func(context.Context) error { return errTransient }
	nan := math.NaN()
	tests := []struct {
		name string
		err  func() error
		want string
	}{
		{"nil fn", func() error { return retry.Do(context.Background(), nil, nil) }, "nil function"},
		{"nil generic fn", func() error {
			_, err := retry.Retry[int](context.Background(), nil, nil)
			return err
		}, "nil function"},
		//lint:ignore SA1012 testing the nil check
		{"nil ctx", func() error { return retry.Do(nil, nil, ok) }, "nil Context"}, //nolint:staticcheck
		{"negative attempts", func() error { return retry.Do(context.Background(), &retry.Policy{MaxAttempts: -2}, ok) }, "MaxAttempts"},
		{"split among unlimited attempts", func() error {
			return retry.Do(context.Background(), &retry.Policy{MaxAttempts: retry.Unlimited, SplitDeadline: true}, ok)
		}, "SplitDeadline"},
		{"negative elapsed", func() error { return retry.Do(context.Background(), &retry.Policy{MaxElapsed: -1}, ok) }, "MaxElapsed"},
		{"negative attempt timeout", func() error { return retry.Do(context.Background(), &retry.Policy{AttemptTimeout: -1}, ok) }, "AttemptTimeout"},
		{"negative max after", func() error { return retry.Do(context.Background(), &retry.Policy{MaxAfter: -1}, ok) }, "MaxAfter"},
		{"NaN multiplier", func() error {
			return retry.Do(context.Background(), &retry.Policy{Backoff: retry.Exponential{Multiplier: nan}}, bad)
		}, "Multiplier"},
		{"Inf multiplier", func() error {
			return retry.Do(context.Background(), &retry.Policy{Backoff: retry.Exponential{Multiplier: math.Inf(1)}}, bad)
		}, "Multiplier"},
		{"shrinking multiplier", func() error {
			return retry.Do(context.Background(), &retry.Policy{Backoff: retry.Exponential{Multiplier: 0.5}}, bad)
		}, "Multiplier"},
		{"cap below base", func() error {
			return retry.Do(context.Background(), &retry.Policy{Backoff: retry.Exponential{Base: time.Minute, Max: time.Second}}, bad)
		}, "above Max"},
		{"linear step above max", func() error {
			return retry.Do(context.Background(), &retry.Policy{Backoff: retry.Linear{Step: time.Minute, Max: time.Second}}, bad)
		}, "Linear.Step (1m0s) is above Max (1s)"},
		{"decorrelated base above max", func() error {
			return retry.Do(context.Background(), &retry.Policy{Backoff: retry.DecorrelatedJitter{Base: time.Minute, Max: time.Second}}, bad)
		}, "above Max"},
		{"negative constant", func() error {
			return retry.Do(context.Background(), &retry.Policy{Backoff: retry.Constant{Interval: -1}}, bad)
		}, "Interval"},
		{"negative decorrelated", func() error {
			return retry.Do(context.Background(), &retry.Policy{Backoff: retry.DecorrelatedJitter{Max: -1}}, bad)
		}, "Max is negative"},
		{"spread out of range", func() error {
			return retry.Do(context.Background(), &retry.Policy{Backoff: retry.Constant{Jitter: retry.Spread(1.5)}}, bad)
		}, "Spread"},
		{"backoff returns negative", func() error {
			return retry.Do(context.Background(), &retry.Policy{Backoff: retry.BackoffFunc(
				func(int, time.Duration, float64) time.Duration { return -time.Second })}, bad)
		}, "negative delay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if !errors.Is(err, retry.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
	// A default never clashes with a field that is set: only an explicit
	// Base (or Step) above an explicit Max is invalid.
	for _, tt := range []struct {
		name string
		b    retry.Backoff
		want []time.Duration
	}{
		{"base above default cap", retry.Linear{Step: time.Minute}, []time.Duration{time.Minute, time.Minute}},
		{"exponential base above default cap", retry.Exponential{Base: time.Minute}, []time.Duration{time.Minute, time.Minute}},
		{"decorrelated base above default cap", retry.DecorrelatedJitter{Base: time.Minute}, []time.Duration{time.Minute, time.Minute}},
		{"default base above cap", retry.Exponential{Max: 50 * time.Millisecond}, []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := newStepClock()
			fn, calls := failing(2, errTransient)
			err := retry.Do(context.Background(), &retry.Policy{Backoff: tt.b, Clock: clk, Rand: func() float64 { return 0 }}, fn)
			if err != nil || *calls != 3 {
				t.Fatalf("err = %v after %d calls, want success after 3", err, *calls)
			}
			if got := clk.Waits(); !slices.Equal(got, tt.want) {
				t.Errorf("waits = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	if err := (*retry.Policy)(nil).Validate(); err != nil {
		t.Errorf("nil policy: %v", err)
	}
	if err := (&retry.Policy{}).Validate(); err != nil {
		t.Errorf("zero policy: %v", err)
	}
	err := (&retry.Policy{Backoff: retry.Exponential{Base: -1}}).Validate()
	if !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("negative base: %v", err)
	}
}

// An invalid Backoff is reported before the first attempt, even of a call
// that would succeed at once: a misconfigured policy does not pass every
// happy-path test and fail at the first failure in production.
func TestInvalidBackoffBeforeFirstAttempt(t *testing.T) {
	for name, b := range map[string]retry.Backoff{
		"Exponential":        retry.Exponential{Base: -time.Second},
		"Constant":           retry.Constant{Jitter: retry.Spread(2)},
		"Linear":             retry.Linear{Step: time.Minute, Max: time.Second},
		"DecorrelatedJitter": retry.DecorrelatedJitter{Max: -1},
		"*Exponential":       &retry.Exponential{Multiplier: 0.5},
		"nil BackoffFunc":    retry.BackoffFunc(nil),
		"own, with Validate": invalidBackoff{},
	} {
		t.Run(name, func(t *testing.T) {
			fn, calls := failing(0, nil)
			err := retry.Do(context.Background(), &retry.Policy{Backoff: b}, fn)
			if _, isErr := errors.AsType[*retry.Error](err); !errors.Is(err, retry.ErrInvalid) || isErr || *calls != 0 {
				t.Fatalf("err = %v after %d calls, want a plain ErrInvalid before any", err, *calls)
			}
		})
	}
	// A Backoff of our own without Validate cannot be checked up front;
	// its negative delay stops the call at the first wait.
	fn, calls := failing(5, errTransient)
	err := retry.Do(context.Background(), &retry.Policy{Backoff: negativeBackoff{}}, fn)
	var re *retry.Error
	if !errors.As(err, &re) || !errors.Is(re.Reason, retry.ErrInvalid) || re.Last != errTransient || *calls != 1 {
		t.Fatalf("err = %v after %d calls, want a *Error after 1 call with Reason ErrInvalid", err, *calls)
	}
}

// invalidBackoff is a Backoff of the caller's own that says it is invalid.
type invalidBackoff struct{}

func (invalidBackoff) Delay(int, time.Duration, float64) time.Duration { return 0 }
func (invalidBackoff) Validate() error                                 { return fmt.Errorf("%w: bad", retry.ErrInvalid) }

// negativeBackoff is a Backoff of the caller's own, with no Validate,
// whose delays are negative.
type negativeBackoff struct{}

func (negativeBackoff) Delay(int, time.Duration, float64) time.Duration { return -time.Second }

// As the Retry doc says: bad settings, the Backoff included, are reported
// before fn runs, as a plain ErrInvalid.
func TestRetryDocInvalidInput(t *testing.T) {
	fn, calls := failing(5, errTransient)
	for _, p := range []*retry.Policy{
		{MaxAttempts: -2, Backoff: retry.Constant{Interval: -1}},
		{Backoff: retry.Constant{Interval: -1}},
	} {
		err := retry.Do(context.Background(), p, fn)
		if _, isErr := errors.AsType[*retry.Error](err); !errors.Is(err, retry.ErrInvalid) || isErr || *calls != 0 {
			t.Fatalf("%+v: err = %v after %d calls, want a plain ErrInvalid before any call", p, err, *calls)
		}
		if err := p.Validate(); !errors.Is(err, retry.ErrInvalid) {
			t.Fatalf("Validate: %v", err)
		}
	}
}

// One Policy shared by many goroutines: run with -race.
func TestSharedPolicyConcurrent(t *testing.T) {
	p := &retry.Policy{MaxAttempts: 5, Backoff: retry.Exponential{Base: time.Microsecond, Max: 10 * time.Microsecond, Jitter: retry.FullJitter}}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			fn, calls := failing(i%4, errTransient)
			if err := retry.Do(context.Background(), p, fn); err != nil || *calls != i%4+1 {
				t.Errorf("goroutine %d: err = %v after %d calls", i, err, *calls)
			}
		})
	}
	wg.Wait()
}

// A random number is drawn for a jitter that uses one, and only then.
func TestRandDrawnOnlyForJitter(t *testing.T) {
	for _, tt := range []struct {
		b    retry.Backoff
		want int
	}{
		{retry.Constant{}, 0},
		{retry.Linear{Step: time.Millisecond}, 0},
		{retry.Exponential{Base: time.Millisecond}, 0},
		{retry.Constant{Jitter: retry.FullJitter}, 2},
		{retry.Exponential{Base: time.Millisecond, Jitter: retry.Spread(0.1)}, 2},
		{retry.DecorrelatedJitter{Base: time.Millisecond}, 2},
		{nil, 2}, // full jitter
	} {
		draws := 0
		fn, _ := failing(2, errTransient)
		p := &retry.Policy{Backoff: tt.b, Clock: newStepClock(), Rand: func() float64 { draws++; return 0.5 }}
		if err := retry.Do(context.Background(), p, fn); err != nil || draws != tt.want {
			t.Errorf("%#v: err = %v after %d draws, want %d", tt.b, err, draws, tt.want)
		}
	}
}
