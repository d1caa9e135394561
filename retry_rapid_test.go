package retry_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/retrykit/retry"
)

// Outcomes of one attempt in a script.
const (
	outFail = iota
	outSucceed
	outPermanent
)

// TestRetryProperties checks the retrier against its contract on random
// policies and random scripts of attempt outcomes, with a fake clock that
// records every wait:
//
//   - no more attempts than MaxAttempts, and none after a success or a
//     permanent error;
//   - one wait before each retry and none after the last attempt, each
//     wait the one the Backoff chose, all of it before the deadline;
//   - a nil error iff an attempt succeeded, else a *Error that wraps the
//     last attempt's error and gives the right reason.
func TestRetryProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		maxAttempts := rapid.IntRange(1, 20).Draw(t, "maxAttempts")
		script := rapid.SliceOfN(rapid.SampledFrom([]int{outFail, outFail, outFail, outSucceed, outPermanent}),
			maxAttempts, maxAttempts).Draw(t, "script")
		var b retry.Backoff
		if rapid.Bool().Draw(t, "exponential") {
			b = retry.Exponential{
				Base:       time.Duration(rapid.Int64Range(0, int64(20*time.Millisecond)).Draw(t, "base")),
				Max:        time.Duration(rapid.Int64Range(0, int64(100*time.Millisecond)).Draw(t, "max")),
				Multiplier: rapid.SampledFrom([]float64{0, 1, 1.5, 2, 3}).Draw(t, "multiplier"),
				Jitter:     rapid.SampledFrom([]retry.Jitter{retry.NoJitter, retry.FullJitter, retry.EqualJitter, retry.Spread(0.5)}).Draw(t, "jitter"),
			}
		} else {
			b = retry.Constant{Interval: time.Duration(rapid.Int64Range(0, int64(20*time.Millisecond)).Draw(t, "interval"))}
		}
		if err := b.(interface{ Validate() error }).Validate(); err != nil {
			t.Skip("invalid backoff:", err) // Base above Max: covered elsewhere
		}
		u := rapid.Float64Range(0, 0.999).Draw(t, "u")
		clk := newStepClock()
		ctx := context.Background()
		// No deadline: a context's deadline is in real time, which the
		// step clock's waits do not move (the deadline rules are tested
		// in synctest bubbles: TestWaitPastDeadlineNotStarted and others).
		deadline := time.Duration(-1)

		var events []retry.RetryEvent
		var errs []error // the error of each attempt made
		calls := 0
		fn := func(context.Context) (int, error) {
			calls++
			if calls > len(script) {
				t.Fatalf("attempt %d of at most %d", calls, maxAttempts)
			}
			var err error
			switch script[calls-1] {
			case outFail:
				err = fmt.Errorf("attempt %d: %w", calls, errTransient)
			case outPermanent:
				err = retry.Permanent(fmt.Errorf("attempt %d: permanent", calls))
			}
			errs = append(errs, err)
			return calls, err
		}
		p := &retry.Policy{MaxAttempts: maxAttempts, Backoff: b, Clock: clk,
			Rand:  func() float64 { return u },
			Hooks: &retry.Hooks{OnRetry: func(_ context.Context, e retry.RetryEvent) { events = append(events, e) }}}
		v, err := retry.Retry(ctx, p, fn)

		if calls < 1 || calls > maxAttempts {
			t.Fatalf("%d attempts, MaxAttempts %d", calls, maxAttempts)
		}
		if v != calls {
			t.Fatalf("value %d, want the last attempt's (%d)", v, calls)
		}
		// Stops at the first success or permanent error, never before
		// one unless for a reason.
		for i, o := range script[:calls-1] {
			if o != outFail {
				t.Fatalf("attempt %d had outcome %d but was followed by another", i+1, o)
			}
		}
		last := script[calls-1]
		if (err == nil) != (last == outSucceed) {
			t.Fatalf("err = %v, last outcome %d", err, last)
		}

		// One wait before each retry, none after the last attempt; each the
		// Backoff's choice; zero waits do not reach the clock.
		if len(events) != calls-1 {
			t.Fatalf("%d waits for %d attempts", len(events), calls)
		}
		var prev, total time.Duration
		var positive []time.Duration
		for i, e := range events {
			if want := b.Delay(i+1, prev, u); e.Delay != want || e.Attempt != i+1 || e.Err != errs[i] {
				t.Fatalf("wait %d: %+v, want delay %v after attempt %d with %v", i+1, e, want, i+1, errs[i])
			}
			prev = e.Delay
			total += e.Delay
			if e.Delay > 0 {
				positive = append(positive, e.Delay)
			}
		}
		if got := clk.Waits(); !slices.Equal(got, positive) {
			t.Fatalf("clock waits %v, want %v", got, positive)
		}
		if deadline >= 0 && total >= deadline && len(events) > 0 {
			t.Fatalf("waited %v in all, deadline %v", total, deadline)
		}
		if err == nil {
			return
		}

		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != calls || re.Last != errs[calls-1] || !errors.Is(err, errs[calls-1]) {
			t.Fatalf("err = %#v, want a *Error after %d attempts wrapping %v", err, calls, errs[calls-1])
		}
		switch {
		case last == outPermanent:
			if !errors.Is(err, retry.ErrNotRetryable) {
				t.Fatalf("permanent error: reason %v", re.Reason)
			}
		case calls == maxAttempts:
			if !errors.Is(err, retry.ErrExhausted) {
				t.Fatalf("all attempts made: reason %v", re.Reason)
			}
		default: // the only other reason here: the next wait reaches the deadline
			if !errors.Is(re.Reason, retry.ErrDeadline) || deadline < 0 {
				t.Fatalf("stopped after %d of %d attempts: reason %v", calls, maxAttempts, re.Reason)
			}
			// (Less a millisecond: the time left is read in real time,
			// which moves a little between two reads.)
			if next := b.Delay(calls, prev, u); total+next < deadline-time.Millisecond {
				t.Fatalf("stopped although the next wait (%v) ends at %v, before the deadline %v", next, total+next, deadline)
			}
		}
	})
}
