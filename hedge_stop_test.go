package retry_test

// The third outcome of a hedged attempt (gRFC A6): stop launching copies,
// let the running attempts finish. And the budget of a hedged call.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// halfOpen returns a breaker that has just gone half-open with one probe
// slot, on the bubble's clock.
func halfOpen(t *testing.T) *retry.Breaker {
	t.Helper()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second})
	call(b, nil, 0, errBoom)
	time.Sleep(time.Second)
	return b
}

// Regression: a hedge copy refused by a half-open breaker (its only probe
// slot taken by the primary) ended the round and cancelled the primary, so
// a breaker whose dependency answered slower than the hedge delay never
// recovered: each probe was killed by its own hedge. The refused copy now
// only stops further copies; the probe completes, wins and closes the
// breaker. A Retryable that refuses the rejection changes nothing.
func TestHedgeRejectedCopyKeepsProbe(t *testing.T) {
	for _, retryable := range []func(error) bool{nil, func(err error) bool { return !errors.Is(err, retry.ErrTooManyProbes) }} {
		synctest.Test(t, func(t *testing.T) {
			b := halfOpen(t)
			var calls int
			var mu sync.Mutex
			fn := func(ctx context.Context) (string, error) {
				return retry.Guard(ctx, b, func(ctx context.Context) (string, error) {
					mu.Lock()
					calls++
					mu.Unlock()
					select {
					case <-time.After(10 * ms):
						return "probe", nil
					case <-ctx.Done():
						return "", context.Cause(ctx)
					}
				})
			}
			var events []retry.HedgeEvent
			p := &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms, Retryable: retryable,
				Hooks: &retry.Hooks{OnHedge: func(_ context.Context, e retry.HedgeEvent) { events = append(events, e) }}}
			start := time.Now()
			v, err := retry.Hedge(context.Background(), p, fn)
			if err != nil || v != "probe" {
				t.Fatalf("Hedge = %q, %v; want the probe's answer", v, err)
			}
			if d := time.Since(start); d != 10*ms {
				t.Errorf("returned after %v, want 10ms (the probe's latency)", d)
			}
			if calls != 1 || len(events) != 1 {
				t.Errorf("%d calls of the dependency, %d hedges; want 1 and 1 (no copy after the refusal)", calls, len(events))
			}
			if s := b.State(); s != retry.BreakerClosed {
				t.Errorf("breaker %v after its probe succeeded, want closed", s)
			}
		})
	}
}

// A hedge copy answered with StopHedging halts the call; the primary still
// runs and wins.
func TestHedgeStopHedgingKeepsPrimary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(
			step{after: 10 * ms, val: "first"},
			step{after: 1 * ms, err: retry.StopHedging(errTransient)},
			step{val: "never"},
		)
		start := time.Now()
		v, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms}, s.fn)
		if err != nil || v != "first" || time.Since(start) != 10*ms {
			t.Fatalf("Hedge = %q, %v after %v; want first after 10ms", v, err, time.Since(start))
		}
		if got := s.Starts(); !slices.Equal(got, []time.Duration{0, 3 * ms}) {
			t.Errorf("attempts started at %v, want [0 3ms]", got)
		}
	})
}

// With nothing left running, a halting failure ends the call at once: no
// more attempts, the failures joined. A StopHedging failure gives
// ErrExhausted; a breaker's rejection is itself the Reason.
func TestHedgeStopWithNothingRunning(t *testing.T) {
	t.Run("StopHedging", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			errShed := errors.New("503 overloaded")
			s := newScript(
				step{after: 5 * ms, err: errTransient},
				step{after: 1 * ms, err: retry.StopHedging(errShed)},
				step{val: "never"},
			)
			start := time.Now()
			_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms}, s.fn)
			var re *retry.Error
			if !errors.As(err, &re) || re.Reason != retry.ErrExhausted || re.Attempts != 2 {
				t.Fatalf("err = %v, want ErrExhausted after 2 attempts", err)
			}
			if !errors.Is(err, errShed) || !errors.Is(err, errTransient) {
				t.Errorf("err = %v, want both failures", err)
			}
			// Attempt 2 halted the call at 4ms; attempt 1 ended it at 5ms.
			if d := time.Since(start); d != 5*ms || len(s.Starts()) != 2 {
				t.Errorf("returned after %v and %d attempts, want 5ms and 2", d, len(s.Starts()))
			}

			s = newScript(step{after: 1 * ms, err: retry.StopHedging(errShed)}, step{val: "never"})
			start = time.Now()
			_, err = retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms}, s.fn)
			if !errors.Is(err, retry.ErrExhausted) || !errors.Is(err, errShed) || time.Since(start) != 1*ms || len(s.Starts()) != 1 {
				t.Errorf("err = %v after %v and %d attempts, want ErrExhausted at once after 1", err, time.Since(start), len(s.Starts()))
			}
		})
	})
	t.Run("Rejected", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Hour})
			call(b, nil, 0, errBoom) // open
			var calls int
			start := time.Now()
			_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms}, func(ctx context.Context) (int, error) {
				calls++ // attempts run one at a time here
				return retry.Guard(ctx, b, func(context.Context) (int, error) { return 1, nil })
			})
			var re *retry.Error
			if !errors.As(err, &re) || re.Attempts != 1 || calls != 1 || time.Since(start) != 0 {
				t.Fatalf("err = %v after %d attempts and %v; want one, at once", err, calls, time.Since(start))
			}
			if rej, ok := re.Reason.(*retry.BreakerError); !ok || rej.Reason != retry.ErrBreakerOpen {
				t.Errorf("Reason = %#v, want the *BreakerError", re.Reason)
			}
		})
	})
}

// Regression: when the only running attempt failed and the budget refused
// its follower, the call waited out the hedge delay and asked the budget
// again. It now ends at once, having asked once.
func TestHedgeBudgetRefusalWithNothingRunningEndsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &fakeBudget{max: 0}
		s := newScript(step{after: 1 * ms, err: errTransient}, step{val: "never"})
		start := time.Now()
		_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: time.Hour, Budget: b}, s.fn)
		if !errors.Is(err, retry.ErrBudgetExhausted) || !errors.Is(err, errTransient) {
			t.Fatalf("err = %v, want ErrBudgetExhausted", err)
		}
		if d := time.Since(start); d != 1*ms {
			t.Errorf("returned after %v, want 1ms (at the failure, not after the delay)", d)
		}
		if n := b.extra.Load(); n != 1 || len(s.Starts()) != 1 {
			t.Errorf("Extra asked %d times, %d attempts; want 1 and 1", n, len(s.Starts()))
		}
	})
}

// After the budget refused a timed hedge, neither the timer nor a later
// failure asks it again: the call is halted, and ends with the budget's
// reason when its attempts have failed.
func TestHedgeBudgetRefusalHalts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &fakeBudget{max: 0}
		s := newScript(step{after: 10 * ms, err: errTransient}, step{val: "never"})
		start := time.Now()
		_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 5, Delay: 3 * ms, Budget: b}, s.fn)
		if !errors.Is(err, retry.ErrBudgetExhausted) || time.Since(start) != 10*ms {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
		if n := b.extra.Load(); n != 1 || len(s.Starts()) != 1 || b.failure.Load() != 1 {
			t.Errorf("Extra asked %d times, %d attempts, %d failures; want 1, 1, 1", n, len(s.Starts()), b.failure.Load())
		}
	})
}

// logBudget records every call of its Budget and passes it on to a
// TokenBucket.
type logBudget struct {
	mu  sync.Mutex
	log []string
	tb  retry.TokenBucket
}

func (b *logBudget) add(s string) {
	b.mu.Lock()
	b.log = append(b.log, s)
	b.mu.Unlock()
}
func (b *logBudget) First()      { b.add("first"); b.tb.First() }
func (b *logBudget) Extra() bool { b.add("extra"); return b.tb.Extra() }
func (b *logBudget) Result(ok bool) {
	b.add(fmt.Sprint("result ", ok))
	b.tb.Result(ok)
}

// A hedged call charges its budget exactly as Retry does for the same
// attempts: every failure that is not permanent once (a StopHedging one, a
// pushback, a breaker's rejection included), the success once.
func TestHedgeChargesBudgetAsRetry(t *testing.T) {
	rejected := &retry.BreakerError{Reason: retry.ErrTooManyProbes}
	scenarios := map[string][]step{
		"success":          {{val: "ok"}},
		"fail, fail, ok":   {{err: errTransient}, {err: errTransient}, {val: "ok"}},
		"all fail":         {{err: errTransient}, {err: errTransient}, {err: errTransient}},
		"pushback, ok":     {{err: retry.After(errTransient, 2*ms)}, {val: "ok"}},
		"StopHedging last": {{err: errTransient}, {err: retry.StopHedging(errTransient)}},
		"rejected":         {{err: errTransient}, {err: rejected}},
		"permanent":        {{err: errTransient}, {err: retry.Permanent(errTransient)}},
	}
	for name, steps := range scenarios {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var seq, hedged logBudget
				s := newScript(steps...)
				retry.Retry(context.Background(), &retry.Policy{MaxAttempts: len(steps), Backoff: retry.Constant{}, MarkAttempts: true, Budget: &seq}, func(ctx context.Context) (string, error) {
					return s.fn(ctx)
				})
				s = newScript(steps...)
				retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: len(steps), Delay: time.Hour, Budget: &hedged}, s.fn)
				if !slices.Equal(seq.log, hedged.log) || seq.tb.Tokens() != hedged.tb.Tokens() {
					t.Errorf("Retry: %v, %v tokens left\nHedge: %v, %v tokens left", seq.log, seq.tb.Tokens(), hedged.log, hedged.tb.Tokens())
				}
			})
		})
	}
}

// hedgedPanicker is the user's function of TestHedgePanicCrashReport.
//
//go:noinline
func hedgedPanicker(context.Context) (int, error) { panic("hedgedPanicker: out of cheese") }

// An unrecovered panic in a hedged fn crashes the program with a report
// that names fn, not only the coordinator that raised it again. The test
// runs itself in a child process to see the crash.
func TestHedgePanicCrashReport(t *testing.T) {
	if os.Getenv("RETRY_HEDGE_CRASH") == "1" {
		retry.Hedge(context.Background(), nil, hedgedPanicker)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHedgePanicCrashReport$")
	cmd.Env = append(os.Environ(), "RETRY_HEDGE_CRASH=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the child did not crash:\n%s", out)
	}
	for _, want := range []string{"panic: ", "hedgedPanicker: out of cheese", "retry_test.hedgedPanicker("} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("crash report lacks %q:\n%s", want, out)
		}
	}
}

// Regression: a Budget whose Result(true) panicked left the winner
// neither returned nor closed. The panic reaches the caller, the winner
// is closed, and no context outlives the call.
func TestHedgeHookPanicDiscardsWinner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var closed atomic.Int32
		var ctxs []context.Context
		var mu sync.Mutex
		fn := func(ctx context.Context) (closer, error) {
			mu.Lock()
			ctxs = append(ctxs, ctx)
			mu.Unlock()
			return closer{"winner", &closed}, nil
		}
		var got any
		func() {
			defer func() { got = recover() }()
			retry.HedgeWithRelease(context.Background(), &retry.HedgePolicy{Budget: panicBudget{}}, fn)
		}()
		if got != "budget: Result" {
			t.Fatalf("recovered %v, want the Budget's panic", got)
		}
		if n := closed.Load(); n != 1 {
			t.Errorf("winner closed %d times, want 1", n)
		}
		for i, ctx := range ctxs {
			if ctx.Err() == nil {
				t.Errorf("attempt %d's context outlived the call", i+1)
			}
		}
	})
}

// panicBudget panics when told of a success.
type panicBudget struct{}

func (panicBudget) First()      {}
func (panicBudget) Extra() bool { return true }
func (panicBudget) Result(ok bool) {
	if ok {
		panic("budget: Result")
	}
}

// Guard inside Hedge inside Retry, with WaitForProbe: the half-open
// breaker's probe is slower than the hedge delay and fails; its copy was
// refused (ErrTooManyProbes) while it ran. That refusal is stale once the
// probe has failed: the round fails as the probe did, the retry loop backs
// off, meets the open breaker, waits for its next probe, and that one
// succeeds, as it would without hedging.
func TestRetryHedgeGuardWaitsForNextProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := halfOpen(t)
		var calls atomic.Int32
		fn := func(ctx context.Context) (string, error) {
			return retry.Guard(ctx, b, func(ctx context.Context) (string, error) {
				if calls.Add(1) == 1 {
					time.Sleep(10 * ms)
					return "", errors.New("probe failed")
				}
				return "ok", nil
			})
		}
		hp := &retry.HedgePolicy{MaxAttempts: 2, Delay: 3 * ms}
		v, err := retry.Retry(context.Background(), &retry.Policy{MaxAttempts: 4, Backoff: retry.Constant{}, WaitForProbe: true}, func(ctx context.Context) (string, error) {
			return retry.Hedge(ctx, hp, fn)
		})
		if err != nil || v != "ok" {
			t.Fatalf("Retry = %q, %v; want the second probe's answer", v, err)
		}
		if calls.Load() != 2 || b.State() != retry.BreakerClosed {
			t.Fatalf("%d calls of the dependency, breaker %v; want 2 and closed", calls.Load(), b.State())
		}
	})
}
