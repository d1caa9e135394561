package retry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// events records what a breaker's hooks receive.
type events struct {
	mu      sync.Mutex
	changes []retry.BreakerChange
	ctxs    []context.Context // of the changes
	rejects []retry.BreakerReject
	rctxs   []context.Context // of the rejections
}

func (e *events) hooks() *retry.Hooks {
	return &retry.Hooks{
		OnBreakerChange: func(ctx context.Context, c retry.BreakerChange) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.changes = append(e.changes, c)
			e.ctxs = append(e.ctxs, ctx)
		},
		OnBreakerReject: func(ctx context.Context, r retry.BreakerReject) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.rejects = append(e.rejects, r)
			e.rctxs = append(e.rctxs, ctx)
		},
	}
}

// take returns the changes recorded since the last take.
func (e *events) take() []retry.BreakerChange {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.changes
	e.changes, e.ctxs = nil, nil
	return c
}

// summary is a change in a line: "closed>open consecutive-failures".
func summary(c retry.BreakerChange) string {
	s := c.From.String() + ">" + c.To.String() + " " + c.Reason.String()
	if c.Manual {
		s += " manual"
	}
	if c.Forced {
		s += " forced"
	}
	return s
}

// callCtx runs one call through b with ctx that returns err after taking d
// on clk.
func callCtx(ctx context.Context, b *retry.Breaker, clk *manualClock, d time.Duration, err error) error {
	_, gerr := retry.Guard(ctx, b, func(context.Context) (int, error) {
		clk.Add(d)
		return 1, err
	})
	return gerr
}

// Every trip rule names itself in the change it makes, with the counts of
// the closed period it ended; then the open period's rejections, the
// failed probe and the successful one are reported with their own
// reasons and counts. Every event carries the breaker's name.
func TestBreakerChangeReasonsAndCounts(t *testing.T) {
	const sec = time.Second
	type step struct {
		err  error
		took time.Duration
	}
	ok, bad := step{}, step{err: errBoom}
	slow := step{took: 2 * sec}
	tests := []struct {
		name  string
		cfg   retry.BreakerConfig
		steps []step // the last one trips the breaker
		why   retry.BreakerReason
		ended retry.BreakerCounts
	}{
		{"consecutive", retry.BreakerConfig{ConsecutiveFailures: 3},
			[]step{bad, ok, bad, bad, bad}, retry.ReasonConsecutiveFailures,
			retry.BreakerCounts{ConsecutiveFailures: 3}},
		{"ratio-calls", retry.BreakerConfig{FailureRatio: 0.5, WindowCalls: 10, MinCalls: 4},
			[]step{ok, bad, ok, bad}, retry.ReasonFailureRatio,
			retry.BreakerCounts{Calls: 4, Failures: 2}},
		{"ratio-time", retry.BreakerConfig{FailureRatio: 0.5, MinCalls: 3},
			[]step{ok, bad, bad}, retry.ReasonFailureRatio,
			retry.BreakerCounts{Calls: 3, Failures: 2}},
		{"slow", retry.BreakerConfig{SlowCallThreshold: sec, SlowCallRatio: 0.5, WindowCalls: 10, MinCalls: 4},
			[]step{ok, ok, slow, slow}, retry.ReasonSlowCalls,
			retry.BreakerCounts{Calls: 4, Slow: 2, AverageDuration: sec}},
		{"average", retry.BreakerConfig{MaxAverageDuration: sec, WindowCalls: 10, MinCalls: 2},
			[]step{{took: sec / 2}, {took: 2 * sec}}, retry.ReasonAverageDuration,
			retry.BreakerCounts{Calls: 2, AverageDuration: 1250 * time.Millisecond}},
		{"consecutive-before-ratio", retry.BreakerConfig{ConsecutiveFailures: 2, FailureRatio: 1, WindowCalls: 10, MinCalls: 5},
			[]step{ok, bad, bad}, retry.ReasonConsecutiveFailures,
			retry.BreakerCounts{Calls: 3, Failures: 2, ConsecutiveFailures: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newManualClock()
			var ev events
			cfg := tt.cfg
			cfg.Name, cfg.Clock, cfg.Hooks, cfg.OpenDuration = "db", clk, ev.hooks(), 10*sec
			b := newBreaker(t, cfg)
			for i, s := range tt.steps {
				if err := callCtx(context.Background(), b, clk, s.took, s.err); !errors.Is(err, s.err) {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			changes := ev.take()
			if len(changes) != 1 {
				t.Fatalf("changes %v, want one", changes)
			}
			want := retry.BreakerChange{Name: "db", From: retry.BreakerClosed, To: retry.BreakerOpen,
				Reason: tt.why, Until: clk.Now().Add(10 * sec), Ended: tt.ended}
			if changes[0] != want {
				t.Fatalf("change\n%+v, want\n%+v", changes[0], want)
			}

			// Two rejections while open, then a failed probe, then a
			// good one.
			for range 2 {
				if err := callCtx(context.Background(), b, clk, 0, nil); !errors.Is(err, retry.ErrBreakerOpen) {
					t.Fatalf("open: %v", err)
				}
			}
			clk.Add(10 * sec)
			callCtx(context.Background(), b, clk, 0, errBoom)
			reopened := clk.Now()
			clk.Add(10 * sec)
			callCtx(context.Background(), b, clk, 0, nil)
			wants := []retry.BreakerChange{
				{Name: "db", From: retry.BreakerOpen, To: retry.BreakerHalfOpen, Reason: retry.ReasonOpenElapsed,
					Ended: retry.BreakerCounts{Rejected: 2}},
				{Name: "db", From: retry.BreakerHalfOpen, To: retry.BreakerOpen, Reason: retry.ReasonProbeFailed,
					Until: reopened.Add(10 * sec), Ended: retry.BreakerCounts{Calls: 1, Failures: 1}},
				{Name: "db", From: retry.BreakerOpen, To: retry.BreakerHalfOpen, Reason: retry.ReasonOpenElapsed},
				{Name: "db", From: retry.BreakerHalfOpen, To: retry.BreakerClosed, Reason: retry.ReasonProbesSucceeded,
					Ended: retry.BreakerCounts{Calls: 1}},
			}
			got := ev.take()
			if fmt.Sprint(got) != fmt.Sprint(wants) {
				t.Fatalf("changes\n%+v, want\n%+v", got, wants)
			}
			ev.mu.Lock()
			defer ev.mu.Unlock()
			if len(ev.rejects) != 2 {
				t.Fatalf("rejects %v, want 2", ev.rejects)
			}
			for _, r := range ev.rejects {
				if r.Name != "db" || !errors.Is(r.Err, retry.ErrBreakerOpen) {
					t.Errorf("reject %+v", r)
				}
			}
		})
	}
}

// Several probes: the half-open period's counts hold every probe that
// ended in it.
func TestBreakerChangeCountsProbes(t *testing.T) {
	clk := newManualClock()
	var ev events
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, HalfOpenProbes: 3, OpenDuration: time.Second,
		Clock: clk, Hooks: ev.hooks()})
	callCtx(context.Background(), b, clk, 0, errBoom)
	clk.Add(time.Second)
	callCtx(context.Background(), b, clk, 0, nil)
	callCtx(context.Background(), b, clk, 0, context.Canceled) // ignored: not counted
	callCtx(context.Background(), b, clk, 0, nil)
	callCtx(context.Background(), b, clk, 0, errBoom)
	got := ev.take()
	if len(got) != 3 || got[2].Reason != retry.ReasonProbeFailed || got[2].Ended != (retry.BreakerCounts{Calls: 3, Failures: 1}) {
		t.Fatalf("changes %+v; want the third to end a half-open period of 2 good probes and a bad one", got)
	}
}

// OnBreakerReject receives every refusal, of each reason, with the call's
// context and the very error the call returns.
func TestBreakerRejectHook(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "req-7")
	clk := newManualClock()
	var ev events
	b := newBreaker(t, retry.BreakerConfig{Name: "api", ConsecutiveFailures: 1, OpenDuration: time.Second,
		Clock: clk, Hooks: ev.hooks()})
	callCtx(ctx, b, clk, 0, errBoom)
	var errs []error
	errs = append(errs, callCtx(ctx, b, clk, 0, nil)) // open
	clk.Add(time.Second)
	done, err := b.AllowContext(ctx) // the probe
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.AllowContext(ctx) // too many probes
	errs = append(errs, err)
	_, _, err = retry.GuardFallback(ctx, b, func(context.Context) (int, error) { return 0, nil },
		func(_ context.Context, err error) (int, error) { return 0, err })
	errs = append(errs, err)
	done(nil)

	thr := newBreaker(t, retry.BreakerConfig{Name: "thr", Adaptive: true, WindowCalls: 10, MinCalls: 1,
		Rand: func() float64 { return 0 }, Hooks: ev.hooks()})
	for i := 0; i < 10; i++ {
		if err := callCtx(ctx, thr, clk, 0, errBoom); errors.Is(err, retry.ErrBreakerThrottled) {
			errs = append(errs, err)
			break
		}
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.rejects) != 4 || len(errs) != 4 {
		t.Fatalf("rejects %+v for errors %v, want 4", ev.rejects, errs)
	}
	reasons := []error{retry.ErrBreakerOpen, retry.ErrTooManyProbes, retry.ErrTooManyProbes, retry.ErrBreakerThrottled}
	for i, r := range ev.rejects {
		var be *retry.BreakerError
		if !errors.As(errs[i], &be) || be != r.Err || r.Err.Reason != reasons[i] {
			t.Errorf("reject %d: %+v, want the call's %v (%v)", i, r, errs[i], reasons[i])
		}
		if ev.rctxs[i].Value(key{}) != "req-7" {
			t.Errorf("reject %d: not the call's context", i)
		}
		if want := map[bool]string{true: "thr", false: "api"}[i == 3]; r.Name != want {
			t.Errorf("reject %d: name %q, want %q", i, r.Name, want)
		}
	}
}

// OnBreakerChange receives the context of the call whose outcome or
// admission made the change: Guard's, GuardFallback's, AllowContext's;
// Allow and the operator's commands give context.Background().
func TestBreakerChangeContext(t *testing.T) {
	type key struct{}
	with := func(v string) context.Context { return context.WithValue(context.Background(), key{}, v) }
	clk := newManualClock()
	var ev events
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk, Hooks: ev.hooks()})

	callCtx(with("trip"), b, clk, 0, errBoom) // closed>open
	clk.Add(time.Second)
	retry.GuardFallback(with("fallback"), b, func(context.Context) (int, error) { return 0, errBoom }, nil) // >half-open>open
	clk.Add(time.Second)
	done, err := b.AllowContext(with("allow-ctx")) // >half-open
	if err != nil {
		t.Fatal(err)
	}
	done(nil) // >closed
	done, err = b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	done(errBoom) // closed>open, no context
	b.Reset()
	want := []string{"trip", "fallback", "fallback", "allow-ctx", "allow-ctx", "", ""}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var got []string
	for _, ctx := range ev.ctxs {
		v, _ := ctx.Value(key{}).(string)
		got = append(got, v)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("contexts %q, want %q", got, want)
	}
}

// AllowContext is Guard in two steps: a done context asks nothing of the
// breaker, and a failure once the context was cancelled is ignored.
func TestBreakerAllowContext(t *testing.T) {
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done, err := b.AllowContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	done(errBoom) // the caller gave up: says nothing
	if b.State() != retry.BreakerClosed {
		t.Fatalf("state %v after a failure of a cancelled call, want closed", b.State())
	}
	if _, err := b.AllowContext(ctx); err != context.Canceled {
		t.Fatalf("AllowContext(done ctx) = %v, want context.Canceled", err)
	}
	//lint:ignore SA1012 a nil context is the point
	if _, err := b.AllowContext(nil); !errors.Is(err, retry.ErrInvalid) { //nolint:staticcheck
		t.Fatalf("AllowContext(nil) = %v, want ErrInvalid", err)
	}
	var nb *retry.Breaker
	if _, err := nb.AllowContext(context.Background()); !errors.Is(err, retry.ErrInvalid) || !strings.Contains(err.Error(), "nil *Breaker") {
		t.Fatalf("nil breaker: %v", err)
	}
}

// Hooks cost no allocation on a closed breaker's calls, set or not, nor
// does a rejection beyond its *BreakerError when OnBreakerReject is unset.
func TestBreakerHooksAllocs(t *testing.T) {
	ok := func(context.Context) (int, error) { return 1, nil }
	for name, h := range map[string]*retry.Hooks{"unset": nil, "set": new(events).hooks(), "log": retry.LogHooks(nil)} {
		b := newBreaker(t, retry.BreakerConfig{Name: "db", Hooks: h})
		if n := testing.AllocsPerRun(1000, func() { retry.Guard(context.Background(), b, ok) }); n != 0 {
			t.Errorf("%s: %v allocs per closed call, want 0", name, n)
		}
	}
	b := newBreaker(t, retry.BreakerConfig{})
	b.ForceOpen(0)
	if n := testing.AllocsPerRun(1000, func() { retry.Guard(context.Background(), b, ok) }); n != 1 {
		t.Errorf("%v allocs per rejection, want 1 (the *BreakerError)", n)
	}
}
