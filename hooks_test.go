package retry_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

type traceKey struct{}

// traced returns a context carrying id, which every hook must see.
func traced(id string) context.Context {
	return context.WithValue(context.Background(), traceKey{}, id)
}

func traceOf(ctx context.Context) string {
	if ctx == nil {
		return "<nil ctx>"
	}
	id, _ := ctx.Value(traceKey{}).(string)
	return id
}

// hookRecorder keeps every event its Hooks receive, and the trace id of each
// event's context. It is safe for concurrent use.
type hookRecorder struct {
	mu       sync.Mutex
	attempts []retry.AttemptEvent
	retries  []retry.RetryEvent
	hedges   []retry.HedgeEvent
	dones    []retry.CallEvent
	refusals []retry.BudgetEvent
	traces   map[string][]string // hook -> trace ids seen
	marks    []retry.Attempt     // AttemptFrom of OnAttempt's ctx
}

func (r *hookRecorder) saw(hook string, ctx context.Context) {
	if r.traces == nil {
		r.traces = map[string][]string{}
	}
	r.traces[hook] = append(r.traces[hook], traceOf(ctx))
}

func (r *hookRecorder) hooks() *retry.Hooks {
	return &retry.Hooks{
		OnAttempt: func(ctx context.Context, e retry.AttemptEvent) {
			a, _ := retry.AttemptFrom(ctx)
			keep(r, "OnAttempt", &r.attempts)(ctx, e)
			r.mu.Lock()
			r.marks = append(r.marks, a)
			r.mu.Unlock()
		},
		OnRetry:         keep(r, "OnRetry", &r.retries),
		OnHedge:         keep(r, "OnHedge", &r.hedges),
		OnDone:          keep(r, "OnDone", &r.dones),
		OnBudgetRefused: keep(r, "OnBudgetRefused", &r.refusals),
	}
}

// keep returns a hook that appends its events to *list, and records the
// trace id of its context.
func keep[E any](r *hookRecorder, hook string, list *[]E) func(context.Context, E) {
	return func(ctx context.Context, e E) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.saw(hook, ctx)
		*list = append(*list, e)
	}
}

// checkTraces fails the test if a hook saw a context without the trace id.
func (r *hookRecorder) checkTraces(t *testing.T, want string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for hook, ids := range r.traces {
		for _, id := range ids {
			if id != want {
				t.Errorf("%s got a context with trace %q, want %q", hook, id, want)
			}
		}
	}
}

// Every hook of Retry fires with the call's context, the policy's name,
// the right counts and durations read on the clock.
func TestHooksRetryEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &hookRecorder{}
		p := &retry.Policy{Name: "db", MaxAttempts: 3, Backoff: retry.Constant{Interval: 10 * ms},
			MarkAttempts: true, Hooks: rec.hooks()}
		calls := 0
		v, err := retry.Retry(traced("t1"), p, func(ctx context.Context) (int, error) {
			calls++
			time.Sleep(time.Duration(calls) * ms) // 1ms, 2ms, 3ms
			if calls < 3 {
				return 0, errTransient
			}
			return 7, nil
		})
		if v != 7 || err != nil {
			t.Fatalf("Retry = %v, %v", v, err)
		}
		rec.checkTraces(t, "t1")
		wantAttempts := []retry.AttemptEvent{
			{Name: "db", Attempt: 1, Duration: 1 * ms, Err: errTransient},
			{Name: "db", Attempt: 2, Duration: 2 * ms, Err: errTransient},
			{Name: "db", Attempt: 3, Duration: 3 * ms},
		}
		if fmt.Sprint(rec.attempts) != fmt.Sprint(wantAttempts) {
			t.Errorf("OnAttempt events:\n got %v\nwant %v", rec.attempts, wantAttempts)
		}
		for i, m := range rec.marks {
			if m.Number != i+1 {
				t.Errorf("OnAttempt %d: ctx marked %+v, want attempt %d", i+1, m, i+1)
			}
		}
		wantRetries := []retry.RetryEvent{
			{Name: "db", Attempt: 1, Err: errTransient, Delay: 10 * ms},
			{Name: "db", Attempt: 2, Err: errTransient, Delay: 10 * ms},
		}
		if fmt.Sprint(rec.retries) != fmt.Sprint(wantRetries) {
			t.Errorf("OnRetry events:\n got %v\nwant %v", rec.retries, wantRetries)
		}
		want := retry.CallEvent{Name: "db", Attempts: 3, Winner: 3, Duration: 26 * ms}
		if len(rec.dones) != 1 || rec.dones[0] != want {
			t.Errorf("OnDone events = %+v, want one %+v", rec.dones, want)
		}
		if got := rec.dones[0].Outcome(); got != retry.OutcomeSuccess {
			t.Errorf("Outcome = %q", got)
		}
	})
}

// namedBudget refuses every extra attempt, and has a name.
type namedBudget struct{ name string }

func (namedBudget) First()         {}
func (namedBudget) Extra() bool    { return false }
func (namedBudget) Result(bool)    {}
func (b namedBudget) Name() string { return b.name }

// anonBudget refuses every extra attempt, and has no Name method.
type anonBudget struct{}

func (anonBudget) First()      {}
func (anonBudget) Extra() bool { return false }
func (anonBudget) Result(bool) {}

// exit is one way a call can end.
type exit struct {
	name     string
	ctx      func() (context.Context, context.CancelFunc) // nil: traced("x")
	policy   func(p *retry.Policy)
	fn       func(ctx context.Context, n int) error // n from 1
	outcome  string
	attempts int
	panics   bool
	nilFn    bool
}

var exits = []exit{
	{name: "success", fn: func(context.Context, int) error { return nil }, outcome: retry.OutcomeSuccess, attempts: 1},
	{name: "success-after-retry", fn: failUntil(3), outcome: retry.OutcomeSuccess, attempts: 3},
	{name: "exhausted", fn: failUntil(100), outcome: retry.OutcomeExhausted, attempts: 3},
	{name: "permanent", fn: func(context.Context, int) error { return retry.Permanent(errTransient) },
		outcome: retry.OutcomeNotRetryable, attempts: 1},
	{name: "budget", policy: func(p *retry.Policy) { p.Budget = namedBudget{"b"} }, fn: failUntil(100),
		outcome: retry.OutcomeBudget, attempts: 1},
	{name: "elapsed", policy: func(p *retry.Policy) { p.MaxElapsed = 15 * ms }, fn: failUntil(100),
		outcome: retry.OutcomeElapsed, attempts: 2},
	{name: "deadline", ctx: func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(traced("x"), 15*ms)
	}, fn: failUntil(100), outcome: retry.OutcomeDeadline, attempts: 2},
	{name: "cancel-in-wait", ctx: func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(traced("x"))
		time.AfterFunc(5*ms, cancel)
		return ctx, cancel
	}, fn: failUntil(100), outcome: retry.OutcomeCanceled, attempts: 1},
	{name: "ctx-already-done", ctx: func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(traced("x"))
		cancel()
		return ctx, cancel
	}, fn: failUntil(100), outcome: retry.OutcomeCanceled, attempts: 0},
	{name: "pushback", fn: func(context.Context, int) error { return retry.After(errTransient, time.Hour) },
		outcome: retry.OutcomePushback, attempts: 1},
	{name: "breaker", fn: func(context.Context, int) error {
		return &retry.BreakerError{Reason: retry.ErrBreakerOpen, Wait: time.Second}
	}, outcome: retry.OutcomeBreaker, attempts: 1},
	{name: "panic", fn: func(_ context.Context, n int) error {
		if n == 2 {
			panic("boom")
		}
		return errTransient
	}, outcome: retry.OutcomePanic, attempts: 2, panics: true},
	{name: "invalid-policy", policy: func(p *retry.Policy) { p.MaxAttempts = -7 }, fn: failUntil(1),
		outcome: retry.OutcomeInvalid, attempts: 0},
	{name: "nil-fn", nilFn: true, outcome: retry.OutcomeInvalid, attempts: 0},
}

// exitCtx is the context of a case: its own, or traced("x").
func exitCtx(mk func() (context.Context, context.CancelFunc)) (context.Context, context.CancelFunc) {
	if mk == nil {
		return traced("x"), func() {}
	}
	return mk()
}

// failUntil returns a function whose attempts fail until attempt n.
func failUntil(n int) func(context.Context, int) error {
	return func(_ context.Context, k int) error {
		if k < n {
			return errTransient
		}
		return nil
	}
}

// OnDone fires exactly once for every call of Retry and Do, however the
// call ends, with the call's context, name, attempts and outcome.
func TestHooksOnDoneEveryExit(t *testing.T) {
	for _, x := range exits {
		for _, api := range []string{"Retry", "Do"} {
			t.Run(x.name+"/"+api, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					rec := &hookRecorder{}
					p := &retry.Policy{Name: "p", MaxAttempts: 3, Backoff: retry.Constant{Interval: 10 * ms}, Hooks: rec.hooks()}
					if x.policy != nil {
						x.policy(p)
					}
					ctx, cancel := exitCtx(x.ctx)
					defer cancel()
					n := 0
					step := func(ctx context.Context) error {
						n++
						time.Sleep(ms)
						return x.fn(ctx, n)
					}
					var err error
					panicked := func() (v any) {
						defer func() { v = recover() }()
						switch {
						case api == "Retry" && x.nilFn:
							_, err = retry.Retry[int](ctx, p, nil)
						case api == "Retry":
							_, err = retry.Retry(ctx, p, func(ctx context.Context) (int, error) { return 0, step(ctx) })
						case x.nilFn:
							err = retry.Do(ctx, p, nil)
						default:
							err = retry.Do(ctx, p, step)
						}
						return nil
					}()
					if (panicked != nil) != x.panics || x.panics && panicked != "boom" {
						t.Fatalf("panic = %v, want one: %v", panicked, x.panics)
					}
					if len(rec.dones) != 1 {
						t.Fatalf("%d OnDone events, want 1: %+v", len(rec.dones), rec.dones)
					}
					rec.checkTraces(t, "x")
					e := rec.dones[0]
					if e.Outcome() != x.outcome || e.Attempts != x.attempts || e.Name != "p" || e.Hedges != 0 {
						t.Errorf("OnDone %+v: outcome %q, want %q after %d attempts", e, e.Outcome(), x.outcome, x.attempts)
					}
					if !x.panics && e.Err != err {
						t.Errorf("OnDone's Err = %v, the call returned %v", e.Err, err)
					}
					if x.outcome == retry.OutcomeSuccess && e.Winner != x.attempts || x.outcome != retry.OutcomeSuccess && e.Winner != 0 {
						t.Errorf("Winner = %d", e.Winner)
					}
					if x.panics {
						pe, ok := e.Err.(*retry.PanicError)
						if !ok || pe.Value != "boom" || pe.Attempt != 2 {
							t.Errorf("OnDone's Err = %#v, want a *PanicError of attempt 2 with the value", e.Err)
						}
					}
					// The clock: 1ms per attempt and 10ms per wait, for the
					// calls that made attempts and waited them out.
					if x.outcome == retry.OutcomeSuccess || x.outcome == retry.OutcomeExhausted {
						if want := time.Duration(x.attempts)*ms + time.Duration(x.attempts-1)*10*ms; e.Duration != want {
							t.Errorf("Duration = %v, want %v", e.Duration, want)
						}
					}
					if x.outcome == retry.OutcomeBudget {
						want := []retry.BudgetEvent{{Name: "p", Budget: "b", Attempt: 2}}
						if fmt.Sprint(rec.refusals) != fmt.Sprint(want) {
							t.Errorf("OnBudgetRefused events = %+v, want %+v", rec.refusals, want)
						}
					}
				})
			})
		}
	}
}

// A nil ctx is bad input: OnDone still fires, with a usable context.
func TestHooksOnDoneNilContext(t *testing.T) {
	var got []context.Context
	h := &retry.Hooks{OnDone: func(ctx context.Context, e retry.CallEvent) {
		got = append(got, ctx)
		if e.Outcome() != retry.OutcomeInvalid {
			t.Errorf("outcome %q, want invalid", e.Outcome())
		}
	}}
	//nolint:staticcheck // a nil Context on purpose
	_ = retry.Do(nil, &retry.Policy{Hooks: h}, func(context.Context) error { return nil }) //lint:ignore SA1012 on purpose
	//nolint:staticcheck
	_, _ = retry.Hedge(nil, &retry.HedgePolicy{Hooks: h}, func(context.Context) (int, error) { return 0, nil }) //lint:ignore SA1012 on purpose
	if len(got) != 2 || got[0] == nil || got[1] == nil {
		t.Errorf("OnDone contexts = %v, want two non-nil", got)
	}
}

// A hook that panics in Retry reaches the caller, and OnDone has seen it.
func TestHooksRetryHookPanic(t *testing.T) {
	var done []retry.CallEvent
	p := &retry.Policy{Backoff: retry.Constant{}, Hooks: &retry.Hooks{
		OnRetry: func(context.Context, retry.RetryEvent) { panic("hook") },
		OnDone:  func(_ context.Context, e retry.CallEvent) { done = append(done, e) },
	}}
	got := func() (v any) {
		defer func() { v = recover() }()
		_ = retry.Do(context.Background(), p, func(context.Context) error { return errTransient })
		return nil
	}()
	if got != "hook" {
		t.Fatalf("panic = %v, want the hook's", got)
	}
	if len(done) != 1 || done[0].Outcome() != retry.OutcomePanic || done[0].Attempts != 1 {
		t.Errorf("OnDone events = %+v, want one panic after 1 attempt", done)
	}
}

// Hooks that watch only failures keep Retry's success path free of
// allocations, and so do OnDone and OnAttempt.
func TestHooksNoAllocs(t *testing.T) {
	for name, h := range map[string]*retry.Hooks{
		"OnRetry":   {OnRetry: func(context.Context, retry.RetryEvent) {}},
		"OnDone":    {OnDone: func(context.Context, retry.CallEvent) {}},
		"OnAttempt": {OnAttempt: func(context.Context, retry.AttemptEvent) {}},
	} {
		p := &retry.Policy{Hooks: h}
		fn := func(context.Context) (int, error) { return 1, nil }
		if a := testing.AllocsPerRun(100, func() { _, _ = retry.Retry(context.Background(), p, fn) }); a != 0 {
			t.Errorf("%s: %v allocations per successful call, want 0", name, a)
		}
	}
}

// The hedge's events: OnHedge for each copy, OnAttempt for each attempt
// on the attempt's own context, OnDone with the winner and the hedges.
func TestHooksHedgeEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &hookRecorder{}
		h := &retry.HedgePolicy{Name: "search", MaxAttempts: 3, Delay: 10 * ms, Hooks: rec.hooks()}
		took := []time.Duration{100 * ms, 15 * ms, 100 * ms}
		v, err := retry.Hedge(traced("h"), h, func(ctx context.Context) (int, error) {
			a, _ := retry.AttemptFrom(ctx)
			select {
			case <-time.After(took[a.Number-1]):
				return a.Number, nil
			case <-ctx.Done():
				return 0, context.Cause(ctx)
			}
		})
		if v != 2 || err != nil {
			t.Fatalf("Hedge = %v, %v; want attempt 2's answer", v, err)
		}
		synctest.Wait() // the losers report as they end
		rec.checkTraces(t, "h")
		rec.mu.Lock()
		defer rec.mu.Unlock()
		want := retry.CallEvent{Name: "search", Attempts: 3, Hedges: 2, Winner: 2, Duration: 25 * ms}
		if len(rec.dones) != 1 || rec.dones[0] != want {
			t.Errorf("OnDone events = %+v, want one %+v", rec.dones, want)
		}
		wantHedges := []retry.HedgeEvent{
			{Name: "search", Attempt: 2, Running: 1, Elapsed: 10 * ms, Delay: 10 * ms},
			{Name: "search", Attempt: 3, Running: 2, Elapsed: 20 * ms, Delay: 10 * ms},
		}
		if fmt.Sprint(rec.hedges) != fmt.Sprint(wantHedges) {
			t.Errorf("OnHedge events:\n got %+v\nwant %+v", rec.hedges, wantHedges)
		}
		byAttempt := map[int]retry.AttemptEvent{}
		for i, e := range rec.attempts {
			byAttempt[e.Attempt] = e
			if rec.marks[i].Number != e.Attempt || rec.marks[i].Hedge != e.Hedge {
				t.Errorf("OnAttempt %+v: ctx marked %+v", e, rec.marks[i])
			}
		}
		wantAttempts := map[int]retry.AttemptEvent{
			1: {Name: "search", Attempt: 1, Duration: 25 * ms, Err: retry.ErrHedgeLost},
			2: {Name: "search", Attempt: 2, Hedge: true, Duration: 15 * ms},
			3: {Name: "search", Attempt: 3, Hedge: true, Duration: 5 * ms, Err: retry.ErrHedgeLost},
		}
		if fmt.Sprint(byAttempt) != fmt.Sprint(wantAttempts) {
			t.Errorf("OnAttempt events:\n got %+v\nwant %+v", byAttempt, wantAttempts)
		}
	})
}

// OnDone fires exactly once for every call of Hedge and HedgeWithRelease,
// however it ends.
func TestHooksHedgeOnDoneEveryExit(t *testing.T) {
	cases := []struct {
		name     string
		policy   func(h *retry.HedgePolicy)
		ctx      func() (context.Context, context.CancelFunc)
		fn       func(ctx context.Context, n int) (int, error)
		outcome  string
		attempts int
		winner   int
		panics   bool
	}{
		{name: "first-wins", fn: sleepThen(ms, nil), outcome: retry.OutcomeSuccess, attempts: 1, winner: 1},
		{name: "hedge-wins", fn: func(ctx context.Context, n int) (int, error) {
			if n == 1 {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return sleepThen(ms, nil)(ctx, n)
		}, outcome: retry.OutcomeSuccess, attempts: 2, winner: 2},
		{name: "exhausted", fn: sleepThen(ms, errTransient), outcome: retry.OutcomeExhausted, attempts: 3},
		{name: "permanent", fn: sleepThen(ms, retry.Permanent(errTransient)), outcome: retry.OutcomeNotRetryable, attempts: 1},
		{name: "budget", policy: func(h *retry.HedgePolicy) { h.Budget = namedBudget{"hb"} },
			fn: sleepThen(20*ms, errTransient), outcome: retry.OutcomeBudget, attempts: 1},
		{name: "pushback", fn: sleepThen(ms, retry.After(errTransient, time.Hour)), outcome: retry.OutcomePushback, attempts: 1},
		{name: "breaker", fn: sleepThen(ms, &retry.BreakerError{Reason: retry.ErrBreakerOpen}), outcome: retry.OutcomeBreaker, attempts: 1},
		{name: "cancel", ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(traced("x"))
			time.AfterFunc(5*ms, cancel)
			return ctx, cancel
		}, fn: func(ctx context.Context, _ int) (int, error) { <-ctx.Done(); return 0, ctx.Err() }, outcome: retry.OutcomeCanceled, attempts: 1},
		{name: "ctx-already-done", ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(traced("x"))
			cancel()
			return ctx, cancel
		}, fn: sleepThen(ms, nil), outcome: retry.OutcomeCanceled},
		{name: "panic", fn: func(ctx context.Context, n int) (int, error) {
			time.Sleep(ms)
			panic("boom")
		}, outcome: retry.OutcomePanic, attempts: 1, panics: true},
		{name: "invalid", policy: func(h *retry.HedgePolicy) { h.Delay = -1 }, fn: sleepThen(ms, nil), outcome: retry.OutcomeInvalid},
	}
	for _, tc := range cases {
		for _, api := range []string{"Hedge", "HedgeWithRelease"} {
			t.Run(tc.name+"/"+api, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					rec := &hookRecorder{}
					h := &retry.HedgePolicy{Name: "h", MaxAttempts: 3, Delay: 10 * ms, Hooks: rec.hooks()}
					if tc.policy != nil {
						tc.policy(h)
					}
					ctx, cancel := exitCtx(tc.ctx)
					defer cancel()
					fn := func(ctx context.Context) (int, error) {
						a, _ := retry.AttemptFrom(ctx)
						return tc.fn(ctx, a.Number)
					}
					var err error
					panicked := func() (v any) {
						defer func() { v = recover() }()
						if api == "Hedge" {
							_, err = retry.Hedge(ctx, h, fn)
						} else {
							var release func()
							_, release, err = retry.HedgeWithRelease(ctx, h, fn)
							release()
						}
						return nil
					}()
					synctest.Wait()
					if (panicked != nil) != tc.panics {
						t.Fatalf("panic = %v, want one: %v", panicked, tc.panics)
					}
					rec.checkTraces(t, "x")
					rec.mu.Lock()
					defer rec.mu.Unlock()
					if len(rec.dones) != 1 {
						t.Fatalf("%d OnDone events, want 1: %+v", len(rec.dones), rec.dones)
					}
					e := rec.dones[0]
					if e.Outcome() != tc.outcome || e.Attempts != tc.attempts || e.Winner != tc.winner || e.Name != "h" {
						t.Errorf("OnDone %+v: outcome %q; want %q, %d attempts, winner %d", e, e.Outcome(), tc.outcome, tc.attempts, tc.winner)
					}
					if tc.panics {
						if pe, ok := e.Err.(*retry.PanicError); !ok || pe.Value != "boom" || pe != panicked {
							t.Errorf("OnDone's Err = %v, want the *PanicError raised", e.Err)
						}
					} else if e.Err != err {
						t.Errorf("OnDone's Err = %v, the call returned %v", e.Err, err)
					}
					if tc.outcome == retry.OutcomeBudget {
						want := []retry.BudgetEvent{{Name: "h", Budget: "hb", Attempt: 2}}
						if fmt.Sprint(rec.refusals) != fmt.Sprint(want) {
							t.Errorf("OnBudgetRefused events = %+v, want %+v", rec.refusals, want)
						}
					}
				})
			})
		}
	}
}

func sleepThen(d time.Duration, err error) func(context.Context, int) (int, error) {
	return func(ctx context.Context, n int) (int, error) {
		time.Sleep(d)
		return n, err
	}
}

// The budget's name comes from its Name method: TokenBucket's and
// RatioBudget's read their config; a budget without one has none.
func TestHooksBudgetNames(t *testing.T) {
	tb, err := retry.NewTokenBucket(retry.TokenBucketConfig{Name: "tb", MaxTokens: 1})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Name: "rb"})
	if err != nil {
		t.Fatal(err)
	}
	if tb.Name() != "tb" || rb.Name() != "rb" || (&retry.TokenBucket{}).Name() != "" {
		t.Fatalf("names %q %q", tb.Name(), rb.Name())
	}
	for _, b := range []struct {
		budget retry.Budget
		want   string
	}{{tb, "tb"}, {anonBudget{}, ""}} {
		rec := &hookRecorder{}
		p := &retry.Policy{Name: "p", Backoff: retry.Constant{}, Budget: b.budget, Hooks: rec.hooks()}
		err := retry.Do(context.Background(), p, func(context.Context) error { return errTransient })
		if !errors.Is(err, retry.ErrBudgetExhausted) {
			t.Fatalf("err = %v, want the budget's refusal", err)
		}
		want := []retry.BudgetEvent{{Name: "p", Budget: b.want, Attempt: 2}}
		if fmt.Sprint(rec.refusals) != fmt.Sprint(want) {
			t.Errorf("%T: OnBudgetRefused events = %+v, want %+v", b.budget, rec.refusals, want)
		}
	}
}

// Outcome maps each way a call ends to its label.
func TestCallEventOutcome(t *testing.T) {
	for err, want := range map[error]string{
		nil:                                      retry.OutcomeSuccess,
		&retry.Error{Reason: retry.ErrExhausted}: retry.OutcomeExhausted,
		&retry.Error{Reason: retry.ErrNotRetryable}:                                retry.OutcomeNotRetryable,
		&retry.Error{Reason: retry.ErrBudgetExhausted}:                             retry.OutcomeBudget,
		&retry.Error{Reason: retry.ErrElapsed}:                                     retry.OutcomeElapsed,
		&retry.Error{Reason: retry.ErrDeadline}:                                    retry.OutcomeDeadline,
		&retry.Error{Reason: context.DeadlineExceeded}:                             retry.OutcomeDeadline,
		&retry.Error{Reason: context.Canceled}:                                     retry.OutcomeCanceled,
		&retry.Error{Reason: fmt.Errorf("%w: %w", context.Canceled, errTransient)}: retry.OutcomeCanceled,
		&retry.Error{Reason: &retry.PushbackError{}}:                               retry.OutcomePushback,
		&retry.Error{Reason: &retry.BreakerError{}}:                                retry.OutcomeBreaker,
		&retry.Error{Reason: fmt.Errorf("%w: bad", retry.ErrInvalid)}:              retry.OutcomeInvalid,
		&retry.Error{Reason: errTransient}:                                         retry.OutcomeOther,
		&retry.PanicError{Value: 1}:                                                retry.OutcomePanic,
		fmt.Errorf("%w: nil function", retry.ErrInvalid):                           retry.OutcomeInvalid,
		errTransient: retry.OutcomeOther,
		&retry.Error{Reason: retry.ErrExhausted, Last: retry.After(&retry.ShedError{Reason: retry.ErrLimitReached}, 1)}:       retry.OutcomeShed,
		&retry.Error{Reason: &retry.PushbackError{}, Last: retry.After(&retry.ShedError{Reason: retry.ErrLimitReached}, 1)}:   retry.OutcomeShed,
		&retry.Error{Reason: retry.ErrBudgetExhausted, Last: retry.After(&retry.ShedError{Reason: retry.ErrLimitReached}, 1)}: retry.OutcomeBudget,
		&retry.ShedError{Reason: retry.ErrWaitTimeout}:                                                                        retry.OutcomeShed,
	} {
		if got := (retry.CallEvent{Err: err}).Outcome(); got != want {
			t.Errorf("Outcome of %v = %q, want %q", err, got, want)
		}
	}
}

// runtime.Goexit in fn (t.FailNow in a test) ends a call of Retry that
// OnDone reports as a panic, and the Goexit goes on.
func TestHooksRetryGoexit(t *testing.T) {
	var done []retry.CallEvent
	p := &retry.Policy{Hooks: &retry.Hooks{OnDone: func(_ context.Context, e retry.CallEvent) { done = append(done, e) }}}
	finished := make(chan bool)
	go func() {
		returned := false
		defer func() { finished <- returned }()
		_ = retry.Do(context.Background(), p, func(context.Context) error { runtime.Goexit(); return nil })
		returned = true
	}()
	if <-finished {
		t.Fatal("Do returned after runtime.Goexit")
	}
	if len(done) != 1 || done[0].Outcome() != retry.OutcomePanic || done[0].Attempts != 1 {
		t.Errorf("OnDone events = %+v, want one panic after 1 attempt", done)
	}
}

// Fifty goroutines share one Policy, one HedgePolicy and one Hooks: every
// call is reported once, every attempt once (run with -race).
func TestHooksConcurrentCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &hookRecorder{}
		hooks := rec.hooks()
		p := &retry.Policy{Name: "p", Backoff: retry.Constant{Interval: ms}, Hooks: hooks}
		h := &retry.HedgePolicy{Name: "h", MaxAttempts: 3, Delay: ms, Hooks: hooks}
		const n = 50
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				calls := 0
				_ = retry.Do(traced("c"), p, func(context.Context) error {
					if calls++; calls < 1+i%3 {
						return errTransient
					}
					return nil
				})
				_, _ = retry.Hedge(traced("c"), h, func(ctx context.Context) (int, error) {
					a, _ := retry.AttemptFrom(ctx)
					select {
					case <-time.After(time.Duration(5-a.Number) * ms):
						return a.Number, nil
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				})
			})
		}
		wg.Wait()
		synctest.Wait()
		rec.checkTraces(t, "c")
		rec.mu.Lock()
		defer rec.mu.Unlock()
		byName := map[string]int{}
		attempts := map[string]int{}
		for _, e := range rec.dones {
			byName[e.Name]++
			attempts[e.Name] += e.Attempts
		}
		if byName["p"] != n || byName["h"] != n {
			t.Errorf("OnDone per policy = %v, want %d each", byName, n)
		}
		seen := map[string]int{}
		for _, e := range rec.attempts {
			seen[e.Name]++
		}
		if seen["p"] != attempts["p"] || seen["h"] != attempts["h"] {
			t.Errorf("OnAttempt per policy = %v, OnDone's attempts = %v", seen, attempts)
		}
	})
}
