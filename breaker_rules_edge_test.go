package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// call makes one call through b that takes d on clk and ends with err.
func callFor(t *testing.T, b *retry.Breaker, clk *stepClock, d time.Duration, err error) {
	t.Helper()
	done, rejected := b.Allow()
	if rejected != nil {
		t.Fatalf("rejected: %v", rejected)
	}
	clk.Add(d)
	done(err)
}

// The slow-call rule at a ratio below 1, over a window of calls and a
// window of time: it trips at the ratio, not before.
func TestSlowCallRatioBelowOne(t *testing.T) {
	const slow, fast = 2 * time.Second, time.Millisecond
	for _, window := range []string{"calls", "time"} {
		for _, tc := range []struct {
			slowCalls int
			trips     bool
		}{{4, false}, {5, true}} {
			clk := newStepClock()
			cfg := retry.BreakerConfig{SlowCallThreshold: time.Second, SlowCallRatio: 0.5, MinCalls: 10, Clock: clk}
			if window == "calls" {
				cfg.WindowCalls = 10
			} else {
				cfg.Window = time.Hour
			}
			b := newBreaker(t, cfg)
			for i := range 10 {
				d := fast
				if i >= 10-tc.slowCalls {
					d = slow
				}
				callFor(t, b, clk, d, nil)
			}
			if got := b.State() == retry.BreakerOpen; got != tc.trips {
				t.Errorf("%s window, %d slow calls of 10 at ratio 0.5: open %v, want %v", window, tc.slowCalls, got, tc.trips)
			}
		}
	}
}

// A bucket of the time window that comes round again starts empty: the
// failures of a period that has left the window do not count.
func TestTimeWindowBucketReused(t *testing.T) {
	clk := newStepClock()
	b := newBreaker(t, retry.BreakerConfig{FailureRatio: 0.5, MinCalls: 4, Window: time.Second,
		BucketPeriod: 100 * time.Millisecond, Clock: clk})
	for range 3 {
		callFor(t, b, clk, 0, errBoom)
	}
	clk.Add(time.Second) // the same bucket, ten periods later
	callFor(t, b, clk, 0, errBoom)
	for range 3 {
		callFor(t, b, clk, 0, nil)
	}
	if s := b.State(); s != retry.BreakerClosed {
		t.Fatalf("state %v: the old failures still count (1 failure in 4 calls now)", s)
	}
	// The rule still works in the reused bucket: 2 failures in 5 calls
	// leave it closed, 3 in 6 trip it.
	callFor(t, b, clk, 0, errBoom)
	if s := b.State(); s != retry.BreakerClosed {
		t.Fatalf("state %v after 2 failures in 5 calls, want closed", s)
	}
	callFor(t, b, clk, 0, errBoom)
	if s := b.State(); s != retry.BreakerOpen {
		t.Fatalf("state %v after 3 failures in 6 calls, want open", s)
	}
}

// A server's wait of zero does not open the breaker for no time at all:
// the breaker stays open for its OpenDuration. A positive one sets it.
func TestServerWaitZeroKeepsOpenDuration(t *testing.T) {
	for _, tc := range []struct {
		after, want time.Duration
	}{{0, 7 * time.Second}, {3 * time.Second, 3 * time.Second}} {
		clk := newStepClock()
		b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: 7 * time.Second, Clock: clk})
		callFor(t, b, clk, 0, retry.After(errBoom, tc.after))
		_, err := b.Allow()
		var be *retry.BreakerError
		if !errors.As(err, &be) || be.Wait != tc.want {
			t.Fatalf("After %v: rejection %v, want one that waits %v", tc.after, err, tc.want)
		}
		clk.Add(tc.want - time.Nanosecond)
		if _, err := b.Allow(); err == nil {
			t.Fatalf("After %v: a probe let through before %v", tc.after, tc.want)
		}
		clk.Add(time.Nanosecond)
		if _, err := b.Allow(); err != nil {
			t.Fatalf("After %v: no probe let through at %v: %v", tc.after, tc.want, err)
		}
	}
}

// A custom Classify is asked about every outcome, success (nil) included:
// it may count a success as ignored, or as a failure.
func TestClassifyAskedAboutNil(t *testing.T) {
	var asked []error
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 2, Classify: func(err error) retry.BreakerOutcome {
		asked = append(asked, err)
		return retry.BreakerFailure // even a success
	}})
	for range 2 {
		if _, err := retry.Guard(context.Background(), b, func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if len(asked) != 2 || asked[0] != nil || asked[1] != nil {
		t.Fatalf("Classify asked about %v, want nil twice", asked)
	}
	if s := b.State(); s != retry.BreakerOpen {
		t.Fatalf("state %v: two outcomes classified as failures did not trip it", s)
	}
}

// The call that fills the window to MinCalls makes the rules count, even
// when it is a fast success: the window's ratio is what counts, not the
// outcome of the call that completes it.
func TestRuleFiresWhenWindowFills(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  retry.BreakerConfig
		bad  func(b *retry.Breaker, clk *stepClock) // one call that counts against the rule
	}{
		{"failure ratio, calls", retry.BreakerConfig{FailureRatio: 0.5, MinCalls: 10, WindowCalls: 10},
			func(b *retry.Breaker, clk *stepClock) { callFor(t, b, clk, 0, errBoom) }},
		{"failure ratio, time", retry.BreakerConfig{FailureRatio: 0.5, MinCalls: 10},
			func(b *retry.Breaker, clk *stepClock) { callFor(t, b, clk, 0, errBoom) }},
		{"slow calls", retry.BreakerConfig{SlowCallThreshold: time.Second, SlowCallRatio: 0.5, MinCalls: 10, WindowCalls: 10},
			func(b *retry.Breaker, clk *stepClock) { callFor(t, b, clk, 2*time.Second, nil) }},
		{"average", retry.BreakerConfig{MaxAverageDuration: time.Second, MinCalls: 10, WindowCalls: 10},
			func(b *retry.Breaker, clk *stepClock) { callFor(t, b, clk, 3*time.Second, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newStepClock()
			tc.cfg.Clock = clk
			b := newBreaker(t, tc.cfg)
			for range 5 {
				tc.bad(b, clk)
			}
			for i := range 5 {
				if s := b.State(); s != retry.BreakerClosed {
					t.Fatalf("open after %d calls, before the window held MinCalls", 5+i)
				}
				callFor(t, b, clk, time.Millisecond, nil)
			}
			if s := b.State(); s != retry.BreakerOpen {
				t.Fatalf("state %v once the window holds MinCalls with the rule met, want open", s)
			}
		})
	}
}

// A window of the last N calls forgets the calls that leave it: failures,
// slow calls and their durations are taken out as newer calls take their
// slots.
func TestCountWindowForgetsReplacedCalls(t *testing.T) {
	clk := newStepClock()
	b := newBreaker(t, retry.BreakerConfig{FailureRatio: 1, SlowCallThreshold: time.Second, SlowCallRatio: 1,
		WindowCalls: 4, MinCalls: 4, Clock: clk})
	for range 3 {
		callFor(t, b, clk, 2*time.Second, errBoom) // slow failures: 3 of 4, no rule met
	}
	if s := b.Snapshot(); s.Calls != 3 || s.Failures != 3 || s.Slow != 3 || s.AverageDuration != 2*time.Second {
		t.Fatalf("after 3 slow failures: %+v", s)
	}
	for range 5 {
		callFor(t, b, clk, 10*time.Millisecond, nil)
	}
	s := b.Snapshot()
	if s.State != retry.BreakerClosed || s.Calls != 4 || s.Failures != 0 || s.Slow != 0 || s.AverageDuration != 10*time.Millisecond {
		t.Fatalf("after 5 fast successes the window of 4 still holds the old calls: %+v", s)
	}
	// And counts them again as new ones come.
	callFor(t, b, clk, 2*time.Second, errBoom)
	if s := b.Snapshot(); s.Failures != 1 || s.Slow != 1 {
		t.Fatalf("one new slow failure: %+v", s)
	}
}
