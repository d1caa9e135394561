package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// One regression test per circuit-breaker pitfall of RELIABILITY.md
// (items 28 to 35), named after it.

// openThenWait trips b (which must trip on one failure) and moves clk past
// its open time, so that the next call is a probe.
func openThenWait(t *testing.T, b *retry.Breaker, clk *manualClock, open time.Duration) {
	t.Helper()
	call(b, nil, 0, errBoom)
	if b.State() != retry.BreakerOpen {
		t.Fatalf("state %v, want open", b.State())
	}
	clk.Add(open)
}

// R28: half-open admits at most HalfOpenProbes calls at once, rejects the
// rest at once, and releases a slot on every outcome.
func TestPitfall28HalfOpenProbeLimit(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second,
		HalfOpenProbes: 3, HalfOpenSuccesses: 100, Clock: clk})
	openThenWait(t, b, clk, time.Second)

	const callers = 50
	var inFlight, most, rejected atomic.Int64
	release := make(chan struct{})
	var entered, wg sync.WaitGroup
	entered.Add(3)
	for range callers {
		wg.Go(func() {
			_, err := retry.Guard(context.Background(), b, func(context.Context) (int, error) {
				n := inFlight.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				entered.Done()
				<-release
				inFlight.Add(-1)
				return 0, nil
			})
			if errors.Is(err, retry.ErrTooManyProbes) {
				rejected.Add(1)
			}
		})
	}
	entered.Wait()
	for rejected.Load() < callers-3 { // the others are rejected without waiting
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if most.Load() != 3 || rejected.Load() != callers-3 {
		t.Fatalf("at most %d probes at once, %d rejected; want 3 and %d", most.Load(), rejected.Load(), callers-3)
	}
}

func TestPitfall28ProbeSlotReleased(t *testing.T) {
	outcomes := map[string]func(b *retry.Breaker){
		"success": func(b *retry.Breaker) { call(b, nil, 0, nil) },
		"excluded": func(b *retry.Breaker) {
			call(b, nil, 0, fmt.Errorf("gave up: %w", context.Canceled))
		},
		"cancellation": func(b *retry.Breaker) {
			ctx, cancel := context.WithCancel(context.Background())
			retry.Guard(ctx, b, func(ctx context.Context) (int, error) {
				cancel()
				<-ctx.Done()
				return 0, ctx.Err()
			})
		},
		"panic": func(b *retry.Breaker) {
			defer func() { recover() }()
			retry.Guard(context.Background(), b, func(context.Context) (int, error) { panic("probe") })
		},
		"Goexit": func(b *retry.Breaker) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				retry.Guard(context.Background(), b, func(context.Context) (int, error) { runtime.Goexit(); return 0, nil })
			}()
			<-done
		},
		"Allow": func(b *retry.Breaker) {
			done, err := b.Allow()
			if err == nil {
				done(context.Canceled)
			}
		},
	}
	for name, probe := range outcomes {
		t.Run(name, func(t *testing.T) {
			clk := newManualClock()
			b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second,
				HalfOpenSuccesses: 2, Clock: clk})
			openThenWait(t, b, clk, time.Second)
			probe(b)
			if b.State() == retry.BreakerOpen { // a failed probe reopened it: a new half-open period
				clk.Add(time.Second)
			}
			// The slot is free: the next call is let through as a probe.
			if err := call(b, nil, 0, nil); err != nil {
				t.Fatalf("next probe: %v (snapshot %+v)", err, b.Snapshot())
			}
		})
	}
}

// R29: the outcome of a call that started in an earlier state is ignored.
func TestPitfall29Generation(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second,
		HalfOpenProbes: 2, HalfOpenSuccesses: 2, Clock: clk})
	slow, err := b.Allow() // starts while closed, ends much later
	if err != nil {
		t.Fatal(err)
	}
	openThenWait(t, b, clk, time.Second)
	staleProbe, _ := b.Allow() // a probe of the first half-open period
	call(b, nil, 0, errBoom)   // another probe fails: reopened
	clk.Add(2 * time.Second)
	call(b, nil, 0, nil) // one success of two in the second half-open period
	staleProbe(nil)      // from the first half-open period: must not close it
	if b.State() != retry.BreakerHalfOpen {
		t.Fatalf("a stale probe's success changed the state to %v", b.State())
	}
	call(b, nil, 0, nil)
	if b.State() != retry.BreakerClosed {
		t.Fatalf("state %v, want closed", b.State())
	}
	slow(errBoom) // from the first closed period: must not trip this one
	if b.State() != retry.BreakerClosed {
		t.Fatalf("a stale failure changed the state to %v", b.State())
	}
}

// R30: an ignored outcome (by default the caller's own cancellation)
// counts as neither success nor failure, so it cannot close a half-open
// breaker.
func TestPitfall30IgnoredCannotClose(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk})
	openThenWait(t, b, clk, time.Second)
	for range 5 {
		call(b, nil, 0, context.Canceled)
	}
	if s := b.Snapshot(); s.State != retry.BreakerHalfOpen || s.ProbeSuccesses != 0 || s.Probes != 0 {
		t.Fatalf("snapshot %+v, want half-open with no success", s)
	}
}

// R31: calls that hang (slow, though successful) trip the breaker, and
// MinCalls keeps one early failure from tripping it.
func TestPitfall31SlowCalls(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{FailureRatio: 0.5, SlowCallThreshold: time.Second,
		SlowCallRatio: 0.8, MinCalls: 5, Window: time.Minute, Clock: clk})
	call(b, clk, 0, errBoom) // 1 of 1 failed: below MinCalls
	if b.State() != retry.BreakerClosed {
		t.Fatal("one failure tripped the breaker")
	}
	for i := range 4 {
		call(b, clk, 3*time.Second, nil)
		if want := retry.BreakerClosed; i == 3 {
			if b.State() != retry.BreakerOpen {
				t.Fatalf("4 slow successes of 5 calls did not trip: %+v", b.Snapshot())
			}
		} else if b.State() != want {
			t.Fatalf("call %d: state %v", i, b.State())
		}
	}
}

// R32: the hook runs outside the lock, in order; it may call back into
// the breaker, even change its state; and a panicking hook leaves the
// breaker consistent.
func TestPitfall32HookOutsideLock(t *testing.T) {
	clk := newManualClock()
	var b *retry.Breaker
	var got []string
	b = newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk,
		HalfOpenProbes: 2, HalfOpenSuccesses: 1,
		Hooks: changeHooks(func(from, to retry.BreakerState) {
			if s := b.Snapshot(); s.State != b.State() { // Snapshot takes the lock: would deadlock under it
				t.Errorf("snapshot %v, state %v", s.State, b.State())
			}
			if to == retry.BreakerHalfOpen {
				call(b, nil, 0, nil) // a probe from inside the hook closes the breaker
			}
			got = append(got, fmt.Sprintf("%v>%v(%v)", from, to, b.State()))
		})})
	openThenWait(t, b, clk, time.Second)
	// This call makes the breaker half-open; from the hook, a second probe
	// closes it; this call's own success, from the half-open period, is then
	// ignored.
	if err := call(b, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	want := "[closed>open(open) open>half-open(closed) half-open>closed(closed)]"
	if fmt.Sprint(got) != want {
		t.Errorf("hook saw %v, want %s", got, want)
	}
}

func TestPitfall32PanickingHook(t *testing.T) {
	clk := newManualClock()
	rec := new(recorder)
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk,
		Hooks: changeHooks(func(from, to retry.BreakerState) {
			rec.hook(from, to)
			if to == retry.BreakerOpen {
				panic("hook")
			}
		})})
	func() {
		defer func() {
			if r := recover(); r != "hook" {
				t.Errorf("recovered %v, want the hook's panic", r)
			}
		}()
		call(b, nil, 0, errBoom)
	}()
	if b.State() != retry.BreakerOpen {
		t.Fatalf("state %v", b.State())
	}
	clk.Add(time.Second)
	if err := call(b, nil, 0, nil); err != nil || b.State() != retry.BreakerClosed {
		t.Fatalf("after a panicking hook: %v, %v", err, b.State())
	}
	if want := "[closed>open open>half-open half-open>closed]"; rec.String() != want {
		t.Errorf("changes %v, want %s", rec, want)
	}
}

// R33: the rolling window forgets everything after an idle gap, clears a
// reused bucket, loses only its oldest bucket at an edge, and counts a
// call longer than the window.
func TestPitfall33StaleBuckets(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{FailureRatio: 0.5, MinCalls: 4, Window: 4 * time.Second,
		BucketPeriod: time.Second, Clock: clk})
	for range 3 {
		call(b, nil, 0, errBoom)
	}
	for _, gap := range []time.Duration{4 * time.Second, 40 * time.Second, 1000 * time.Hour} {
		clk.Add(gap) // a whole number of windows: every bucket index comes back
		if s := b.Snapshot(); s.Calls != 0 || s.Failures != 0 {
			t.Fatalf("after %v idle: %+v", gap, s)
		}
		call(b, nil, 0, errBoom) // would be the 4th failure of 4 if old buckets counted
		if b.State() != retry.BreakerClosed {
			t.Fatalf("after %v idle, stale failures tripped the breaker", gap)
		}
	}

	// At a bucket edge only the oldest bucket leaves the window.
	clk.Add(time.Hour)
	for range 4 {
		call(b, nil, 0, nil)
		clk.Add(time.Second)
	}
	if s := b.Snapshot(); s.Calls != 3 {
		t.Fatalf("calls in the window = %d, want 3 of 4", s.Calls)
	}

	// A call that ends after more than a window is counted when it ends.
	for range 3 {
		call(b, nil, 0, nil)
	}
	call(b, clk, 10*time.Second, errBoom)
	if s := b.Snapshot(); s.Calls != 1 || s.Failures != 1 {
		t.Fatalf("long call: %+v", s)
	}
}

// R34: a panic in fn counts as a failure and reaches the caller.
func TestPitfall34PanicIsFailure(t *testing.T) {
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 2})
	for i := range 2 {
		func() {
			defer func() {
				if r := recover(); r != "fn" {
					t.Errorf("recovered %v", r)
				}
			}()
			retry.Guard(context.Background(), b, func(context.Context) (int, error) { panic("fn") })
		}()
		if s := b.Snapshot(); i == 0 && s.ConsecutiveFailures != 1 {
			t.Fatalf("snapshot %+v", s)
		}
	}
	if b.State() != retry.BreakerOpen {
		t.Fatalf("two panics did not trip: %v", b.State())
	}
}

// R35: bad config is an error from the constructor, never a panic, and
// extreme values do not overflow (TestBreakerBadConfig has the table).
func TestPitfall35ConfigValidated(t *testing.T) {
	for _, cfg := range []retry.BreakerConfig{
		{FailureRatio: 0.5, Window: math.MaxInt64, BucketPeriod: math.MaxInt64 / 2},
		{FailureRatio: 0.5, Window: math.MaxInt64},
		{OpenDuration: math.MaxInt64, MaxOpenDuration: math.MaxInt64},
		{HalfOpenProbes: math.MaxInt, HalfOpenSuccesses: math.MaxInt},
		{FailureRatio: math.SmallestNonzeroFloat64},
	} {
		b, err := retry.NewBreaker(cfg)
		if err != nil && !errors.Is(err, retry.ErrInvalid) {
			t.Errorf("%+v: %v", cfg, err)
		}
		if err == nil && call(b, nil, 0, errBoom) != errBoom {
			t.Errorf("%+v: the call did not go through", cfg)
		}
	}
	// Open durations that double near the top of the range do not wrap.
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: math.MaxInt64 / 3,
		MaxOpenDuration: math.MaxInt64, Clock: clk})
	call(b, nil, 0, errBoom)
	for range 3 {
		clk.Add(b.Snapshot().OpenUntil.Sub(clk.Now()))
		call(b, nil, 0, errBoom) // the probe fails: reopen, for longer
		if s := b.Snapshot(); s.State != retry.BreakerOpen || !s.OpenUntil.After(clk.Now()) {
			t.Fatalf("reopened until %v, now %v", s.OpenUntil, clk.Now())
		}
	}
}
