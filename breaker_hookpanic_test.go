package retry_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// A hook that panics on any change of state leaves the breaker working:
// no probe slot leaks and the state machine goes on. The panic on
// open>half-open used to leave admit after it had taken the probe slot and
// before Guard (or Allow's done) could release it, so the breaker stayed
// half-open and rejected every later call with ErrTooManyProbes.
func TestBreakerPanickingHookEveryTransition(t *testing.T) {
	transitions := []struct{ from, to retry.BreakerState }{
		{retry.BreakerClosed, retry.BreakerOpen},
		{retry.BreakerOpen, retry.BreakerHalfOpen},
		{retry.BreakerHalfOpen, retry.BreakerClosed},
		{retry.BreakerHalfOpen, retry.BreakerOpen},
	}
	for _, tr := range transitions {
		for _, api := range []string{"Guard", "Allow"} {
			t.Run(tr.from.String()+">"+tr.to.String()+"/"+api, func(t *testing.T) {
				clk := newManualClock()
				b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk,
					Hooks: changeHooks(func(from, to retry.BreakerState) {
						if from == tr.from && to == tr.to {
							panic("hook")
						}
					})})
				// do makes one call that returns err and reports any
				// panic, which must be the hook's.
				do := func(err error) (rerr error) {
					defer func() {
						if r := recover(); r != nil && r != "hook" {
							t.Fatalf("panic %v, want the hook's", r)
						}
					}()
					if api == "Allow" {
						done, rerr := b.Allow()
						if rerr != nil {
							return rerr
						}
						done(err)
						return nil
					}
					return call(b, nil, 0, err)
				}
				// Run the breaker through every transition twice,
				// checking the state after each step.
				for round := range 2 {
					do(errBoom) // closed>open
					if s := b.State(); s != retry.BreakerOpen {
						t.Fatalf("round %d: after a failure: %v, want open", round, s)
					}
					clk.Add(time.Second)
					// open>half-open, then the probe fails: half-open>open.
					// If the hook panicked on open>half-open the call was
					// not made and the slot is free: probe again.
					for i := 0; b.State() != retry.BreakerOpen; i++ {
						if i == 2 {
							t.Fatalf("round %d: a failing probe did not reopen: %v %+v", round, b.State(), b.Snapshot())
						}
						do(errBoom)
					}
					clk.Add(time.Hour)
					// open>half-open, then the probe succeeds: half-open>closed.
					for i := 0; b.State() != retry.BreakerClosed; i++ {
						if i == 2 {
							t.Fatalf("round %d: a good probe did not close: %v %+v", round, b.State(), b.Snapshot())
						}
						if err := do(nil); err != nil {
							t.Fatalf("round %d: probe rejected: %v (%+v)", round, err, b.Snapshot())
						}
					}
					if err := call(b, nil, 0, nil); err != nil {
						t.Fatalf("round %d: closed breaker rejected a call: %v", round, err)
					}
				}
			})
		}
	}
}

// The probe whose admission raised the hook's panic is not made, and its
// slot is free for the next call.
func TestBreakerPanickingHookOnHalfOpenFreesProbe(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk,
		Hooks: changeHooks(func(from, to retry.BreakerState) {
			if to == retry.BreakerHalfOpen {
				panic("hook")
			}
		})})
	call(b, nil, 0, errBoom)
	clk.Add(time.Second)
	ran := false
	func() {
		defer func() {
			if r := recover(); r != "hook" {
				t.Errorf("recovered %v, want the hook's panic", r)
			}
		}()
		retry.Guard(context.Background(), b, func(context.Context) (int, error) { ran = true; return 0, nil })
	}()
	if ran {
		t.Error("the call ran although admission panicked")
	}
	if s := b.Snapshot(); s.State != retry.BreakerHalfOpen || s.Probes != 0 {
		t.Fatalf("after the panic: %+v, want half-open with no probe in flight", s)
	}
	if err := call(b, nil, 0, nil); err != nil || b.State() != retry.BreakerClosed {
		t.Fatalf("next probe: %v, state %v; want nil, closed", err, b.State())
	}
}

// A hook that calls runtime.Goexit is treated as one that panics: the
// changes queued behind it are delivered before the Goexit goes on, and
// later changes are delivered as usual. The Goexit used to leave the
// breaker marked as delivering, so no change was delivered again and the
// queue grew without bound.
func TestBreakerGoexitInHook(t *testing.T) {
	clk := newManualClock()
	var rec recorder
	var b *retry.Breaker
	exited := 0
	b = newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk,
		Hooks: changeHooks(func(from, to retry.BreakerState) {
			rec.hook(from, to)
			if from == retry.BreakerClosed && to == retry.BreakerOpen && exited < 2 {
				exited++
				if exited == 2 {
					// Queue open>half-open>closed behind this change:
					// this hook must not see them, the Goexit must not
					// lose them.
					clk.Add(time.Second)
					call(b, nil, 0, nil)
				}
				runtime.Goexit()
			}
		})})
	goexit := func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			call(b, nil, 0, errBoom) // closed>open: the hook exits
			t.Error("the hook's Goexit did not go on")
		}()
		<-done
	}
	goexit()
	clk.Add(time.Second)
	call(b, nil, 0, nil) // open>half-open>closed, delivered by this goroutine
	goexit()             // closed>open, with open>half-open>closed queued by the hook
	want := []string{"closed>open", "open>half-open", "half-open>closed", "closed>open", "open>half-open", "half-open>closed"}
	rec.mu.Lock()
	got := rec.changes
	rec.mu.Unlock()
	if !slices.Equal(got, want) {
		t.Fatalf("changes %q, want %q", got, want)
	}
	call(b, nil, 0, errBoom) // closed>open, delivered as usual
	if rec.mu.Lock(); len(rec.changes) != 7 {
		t.Errorf("changes %q, want a 7th, closed>open", rec.changes)
	}
	rec.mu.Unlock()
}

// A Classify that panics counts the call as a failure and frees its probe
// slot. It ran after the call was marked finished, so a panicking
// Classify on a probe kept the slot and the breaker rejected every later
// call with ErrTooManyProbes.
func TestBreakerPanickingClassifyFreesProbe(t *testing.T) {
	for _, api := range []string{"Guard", "GuardFallback", "Allow"} {
		t.Run(api, func(t *testing.T) {
			clk := newManualClock()
			panicky := errors.New("panicky")
			b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk,
				Classify: func(err error) retry.BreakerOutcome {
					if err == panicky {
						panic("classify")
					}
					if err != nil {
						return retry.BreakerFailure
					}
					return retry.BreakerSuccess
				}})
			call(b, nil, 0, errBoom)
			clk.Add(time.Second) // half-open: the next call is the probe
			func() {
				defer func() {
					if r := recover(); r != "classify" {
						t.Errorf("recovered %v, want the Classify panic", r)
					}
				}()
				fn := func(context.Context) (int, error) { return 0, panicky }
				switch api {
				case "Guard":
					retry.Guard(context.Background(), b, fn)
				case "GuardFallback":
					retry.GuardFallback(context.Background(), b, fn, nil)
				case "Allow":
					done, err := b.Allow()
					if err != nil {
						t.Fatal(err)
					}
					done(panicky)
				}
			}()
			// The probe counted as a failure: open again, then a good
			// probe closes it.
			if s := b.Snapshot(); s.State != retry.BreakerOpen || s.Probes != 0 {
				t.Fatalf("after the panic: %+v, want open with no probe in flight", s)
			}
			clk.Add(time.Hour)
			if err := call(b, nil, 0, nil); err != nil || b.State() != retry.BreakerClosed {
				t.Fatalf("next probe: %v, state %v; want nil, closed", err, b.State())
			}
		})
	}
}
