package retry_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// ForceOpen(d) holds the breaker open for d whatever the traffic, then the
// usual probing decides: a failed probe reopens it for OpenDuration, not
// d, and a good one closes it.
func TestBreakerForceOpenForDuration(t *testing.T) {
	clk := newManualClock()
	var ev events
	b := newBreaker(t, retry.BreakerConfig{Name: "db", ConsecutiveFailures: 1, OpenDuration: time.Second,
		Clock: clk, Hooks: ev.hooks()})
	if err := b.ForceOpen(time.Minute); err != nil {
		t.Fatal(err)
	}
	until := clk.Now().Add(time.Minute)
	if s := b.Snapshot(); s.State != retry.BreakerOpen || !s.Forced || !s.OpenUntil.Equal(until) {
		t.Fatalf("after ForceOpen: %+v", s)
	}
	clk.Add(59 * time.Second)
	err := callCtx(context.Background(), b, clk, 0, nil)
	var be *retry.BreakerError
	if !errors.As(err, &be) || be.Reason != retry.ErrBreakerOpen || be.Wait != time.Second || !be.Until.Equal(until) {
		t.Fatalf("call while forced open: %v (%+v)", err, be)
	}
	clk.Add(time.Second)
	if s := b.Snapshot(); s.State != retry.BreakerOpen || s.Forced {
		t.Fatalf("force time up, before a call: %+v, want open, no longer forced", s)
	}
	callCtx(context.Background(), b, clk, 0, errBoom) // the probe fails: open for OpenDuration
	if s := b.Snapshot(); s.State != retry.BreakerOpen || s.Forced || !s.OpenUntil.Equal(clk.Now().Add(time.Second)) {
		t.Fatalf("after a failed probe: %+v, want open for 1s, not forced", s)
	}
	clk.Add(time.Second)
	if err := callCtx(context.Background(), b, clk, 0, nil); err != nil || b.State() != retry.BreakerClosed {
		t.Fatalf("good probe: %v, state %v", err, b.State())
	}
	want := []string{
		"closed>open force-open manual forced",
		"open>half-open open-elapsed",
		"half-open>open probe-failed",
		"open>half-open open-elapsed",
		"half-open>closed probes-succeeded",
	}
	got := ev.take()
	var sums []string
	for _, c := range got {
		sums = append(sums, summary(c))
		if c.Name != "db" {
			t.Errorf("change %+v without the name", c)
		}
	}
	if fmt.Sprint(sums) != fmt.Sprint(want) {
		t.Fatalf("changes %q, want %q", sums, want)
	}
	if !got[0].Until.Equal(until) || got[1].Ended.Rejected != 1 {
		t.Errorf("force-open change %+v, then %+v: want Until %v, then 1 rejected", got[0], got[1], until)
	}
}

// ForceOpen(0) holds the breaker open until told: no time lets a probe
// through, the rejections say no time, and a retry loop that would wait
// for the probe fails fast instead of spinning.
func TestBreakerForceOpenUntilTold(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{OpenDuration: time.Second, Clock: clk})
	if err := b.ForceOpen(0); err != nil {
		t.Fatal(err)
	}
	clk.Add(1000 * time.Hour)
	err := callCtx(context.Background(), b, clk, 0, nil)
	var be *retry.BreakerError
	if !errors.As(err, &be) || be.Reason != retry.ErrBreakerOpen || !be.Until.IsZero() || be.Wait != 0 {
		t.Fatalf("call: %v (%+v), want open with no time", err, be)
	}
	if err.Error() != "circuit breaker is open" {
		t.Errorf("message %q", err)
	}
	if s := b.Snapshot(); !s.Forced || !s.OpenUntil.IsZero() {
		t.Errorf("snapshot %+v", s)
	}
	calls := 0
	p := &retry.Policy{MaxAttempts: retry.Unlimited, WaitForProbe: true, Clock: clk}
	_, err = retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) {
		calls++
		return retry.Guard(ctx, b, func(context.Context) (int, error) { return 0, nil })
	})
	if calls != 1 || !errors.Is(err, retry.ErrBreakerOpen) {
		t.Fatalf("Retry with WaitForProbe: %d attempts, %v; want 1, the rejection", calls, err)
	}
	b.Reset()
	if err := callCtx(context.Background(), b, clk, 0, nil); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

// ForceClosed lets every call through and trips nothing, whatever the
// rules (adaptive throttling included), while still counting; Reset
// releases it with an empty window and traffic decides again.
func TestBreakerForceClosed(t *testing.T) {
	for name, cfg := range map[string]retry.BreakerConfig{
		"consecutive": {ConsecutiveFailures: 1},
		"ratio":       {FailureRatio: 0.5, WindowCalls: 10, MinCalls: 2},
		"adaptive":    {Adaptive: true, WindowCalls: 10, MinCalls: 1, Rand: func() float64 { return 0 }},
	} {
		t.Run(name, func(t *testing.T) {
			clk := newManualClock()
			var ev events
			cfg.Clock, cfg.Hooks = clk, ev.hooks()
			b := newBreaker(t, cfg)
			callCtx(context.Background(), b, clk, 0, errBoom)
			callCtx(context.Background(), b, clk, 0, errBoom)
			if name != "adaptive" && b.State() != retry.BreakerOpen {
				t.Fatalf("state %v", b.State())
			}
			rejected := b.Snapshot().Rejected
			b.ForceClosed()
			for i := range 20 {
				if err := callCtx(context.Background(), b, clk, 0, errBoom); err != errBoom {
					t.Fatalf("call %d while forced closed: %v", i, err)
				}
			}
			s := b.Snapshot()
			if s.State != retry.BreakerClosed || !s.Forced || s.Rejected != rejected {
				t.Fatalf("forced closed after 20 failures: %+v", s)
			}
			if name == "consecutive" && s.ConsecutiveFailures != 20 || name != "consecutive" && (s.Calls != 10 || s.Failures != 10) {
				t.Errorf("forced closed does not count: %+v", s)
			}
			b.Reset()
			if s := b.Snapshot(); s.Forced || s.Calls != 0 || s.ConsecutiveFailures != 0 || s.State != retry.BreakerClosed {
				t.Fatalf("after Reset: %+v, want closed, empty, not forced", s)
			}
			for range 3 {
				callCtx(context.Background(), b, clk, 0, errBoom)
			}
			if s := b.Snapshot(); name == "adaptive" && s.Rejected == 0 || name != "adaptive" && s.State != retry.BreakerOpen {
				t.Fatalf("after Reset, failures did nothing: %+v", s)
			}
			got := ev.take()
			var manual []string
			for _, c := range got {
				if c.Manual {
					manual = append(manual, summary(c))
				}
			}
			from := map[bool]string{true: "closed", false: "open"}[name == "adaptive"]
			want := []string{from + ">closed force-closed manual forced", "closed>closed reset manual"}
			if fmt.Sprint(manual) != fmt.Sprint(want) {
				t.Fatalf("manual changes %q, want %q", manual, want)
			}
		})
	}
}

// Calls in flight when an operator acts count for nothing: a success that
// started before ForceOpen does not close the breaker, a failure that
// started before ForceClosed does not open it, and a probe in flight
// neither.
func TestBreakerForceIgnoresCallsInFlight(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk})
	callCtx(context.Background(), b, clk, 0, errBoom)
	clk.Add(time.Second)
	probe, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	b.ForceOpen(0)
	probe(nil)
	if s := b.Snapshot(); s.State != retry.BreakerOpen || !s.Forced {
		t.Fatalf("a probe from before ForceOpen changed it: %+v", s)
	}
	b.ForceClosed()
	inFlight, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	b.ForceOpen(0)
	b.ForceClosed()
	b.Reset()
	inFlight(errBoom)
	if s := b.Snapshot(); s.State != retry.BreakerClosed || s.ConsecutiveFailures != 0 {
		t.Fatalf("a failure from before Reset counted: %+v", s)
	}
}

func TestBreakerForceBadInput(t *testing.T) {
	b := newBreaker(t, retry.BreakerConfig{})
	if err := b.ForceOpen(-time.Second); !errors.Is(err, retry.ErrInvalid) || b.State() != retry.BreakerClosed {
		t.Fatalf("ForceOpen(-1s) = %v, state %v; want ErrInvalid, closed", err, b.State())
	}
	var nb *retry.Breaker
	if err := nb.ForceOpen(0); !errors.Is(err, retry.ErrInvalid) {
		t.Fatalf("nil ForceOpen = %v", err)
	}
	var zero retry.Breaker // a zero Breaker can be steered before use
	if err := zero.ForceOpen(0); err != nil || zero.State() != retry.BreakerOpen {
		t.Fatalf("zero Breaker ForceOpen: %v, %v", err, zero.State())
	}
	zero.Reset()
	if _, err := retry.Guard(context.Background(), &zero, func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
}

// Operators steer a breaker while traffic runs on it from many goroutines:
// a forced state holds (no change but the operator's is reported until
// release), the changes arrive in order, and after Reset traffic trips
// it again.
func TestBreakerForceUnderTraffic(t *testing.T) {
	var ev events
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 3, OpenDuration: time.Millisecond, Hooks: ev.hooks()})
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				var err error
				if (i+g)%3 != 0 {
					err = errBoom
				}
				retry.Guard(context.Background(), b, func(context.Context) (int, error) { return 0, err })
				if i%64 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	hold := func(want retry.BreakerState) {
		t.Helper()
		for range 300 {
			if s := b.Snapshot(); s.State != want || !s.Forced {
				t.Fatalf("forced %v, found %+v", want, s)
			}
			runtime.Gosched()
		}
	}
	for range 3 {
		b.ForceOpen(0)
		hold(retry.BreakerOpen)
		b.ForceClosed()
		hold(retry.BreakerClosed)
		b.Reset()
		for i := 0; b.State() == retry.BreakerClosed; i++ { // traffic fails: it trips
			if i > 1e6 {
				t.Fatal("traffic never tripped the breaker after Reset")
			}
			runtime.Gosched()
		}
	}
	stop.Store(true)
	wg.Wait()

	changes := ev.take()
	forced := false
	for i, c := range changes {
		if i > 0 && c.From != changes[i-1].To {
			t.Fatalf("change %d %s after %s: out of order", i, summary(c), summary(changes[i-1]))
		}
		if forced && !c.Manual {
			t.Fatalf("change %d %s while forced", i, summary(c))
		}
		forced = c.Forced
	}
	var manual int
	for _, c := range changes {
		if c.Manual {
			manual++
		}
	}
	if manual != 9 {
		t.Fatalf("%d manual changes, want 9", manual)
	}
}

// A hook may steer the breaker: the operator's change is queued behind the
// one being delivered, and delivered next, in order.
func TestBreakerForceFromHook(t *testing.T) {
	var b *retry.Breaker
	var got []string
	b = newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, Hooks: &retry.Hooks{
		OnBreakerChange: func(_ context.Context, e retry.BreakerChange) {
			got = append(got, summary(e))
			if e.Reason == retry.ReasonConsecutiveFailures {
				b.ForceOpen(0) // hold it open for a human to look
			}
		}}})
	retry.Guard(context.Background(), b, func(context.Context) (int, error) { return 0, errBoom })
	want := []string{"closed>open consecutive-failures", "open>open force-open manual forced"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("changes %q, want %q", got, want)
	}
	if s := b.Snapshot(); !s.Forced || !s.OpenUntil.IsZero() {
		t.Fatalf("snapshot %+v", s)
	}
}
