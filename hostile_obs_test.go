package retry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// doneCounter counts OnDone calls and keeps the last event.
type doneCounter struct {
	n    atomic.Int32
	mu   sync.Mutex
	last retry.CallEvent
}

func (d *doneCounter) onDone(_ context.Context, e retry.CallEvent) {
	d.n.Add(1)
	d.mu.Lock()
	d.last = e
	d.mu.Unlock()
}

func (d *doneCounter) event() retry.CallEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// An OnDone that panics is called once, by Retry and by Hedge, and its
// panic reaches the caller; Hedge leaves no attempt running.
func TestHostileObsOnDonePanicsOnce(t *testing.T) {
	for _, api := range []string{"Retry", "Hedge"} {
		for _, fail := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fail=%v", api, fail), func(t *testing.T) {
				var n atomic.Int32
				h := &retry.Hooks{OnDone: func(context.Context, retry.CallEvent) { n.Add(1); panic("in OnDone") }}
				fn := func(context.Context) (int, error) {
					if fail {
						return 0, retry.Permanent(errTransient)
					}
					return 1, nil
				}
				func() {
					defer func() {
						if r := recover(); r != "in OnDone" {
							t.Errorf("recovered %v", r)
						}
					}()
					if api == "Retry" {
						retry.Retry(context.Background(), &retry.Policy{Hooks: h}, fn)
					} else {
						retry.Hedge(context.Background(), &retry.HedgePolicy{Hooks: h}, fn)
					}
				}()
				if n.Load() != 1 {
					t.Errorf("OnDone called %d times, want 1", n.Load())
				}
			})
		}
	}
}

// A hook that calls runtime.Goexit (t.FailNow in a test hook) ends the
// call's goroutine; OnDone still sees the call once, as a panic.
func TestHostileObsHookGoexit(t *testing.T) {
	for _, api := range []string{"Retry", "Hedge"} {
		t.Run(api, func(t *testing.T) {
			var d doneCounter
			h := &retry.Hooks{OnAttempt: func(context.Context, retry.AttemptEvent) { runtime.Goexit() }, OnDone: d.onDone}
			ended := make(chan bool)
			go func() {
				returned := false
				defer func() { ended <- returned }()
				fn := func(context.Context) (int, error) { return 1, nil }
				if api == "Retry" {
					retry.Retry(context.Background(), &retry.Policy{Hooks: h}, fn)
				} else {
					retry.Hedge(context.Background(), &retry.HedgePolicy{Hooks: h}, fn)
				}
				returned = true
			}()
			if <-ended {
				t.Fatal("the call returned after a hook's Goexit")
			}
			if e := d.event(); d.n.Load() != 1 || e.Outcome() != retry.OutcomePanic || e.Winner != 0 {
				t.Errorf("OnDone %d times, last %+v", d.n.Load(), e)
			}
		})
	}
}

// A hook that cancels the call's context ends the call with the
// cancellation, reported once, and starts no attempt on the dead context:
// OnRetry in Retry, OnHedge in Hedge.
func TestHostileObsHookCancels(t *testing.T) {
	for _, api := range []string{"Retry", "Hedge"} {
		t.Run(api, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var d doneCounter
			var deadStarts, calls atomic.Int32
			h := &retry.Hooks{
				OnRetry:   func(context.Context, retry.RetryEvent) { cancel() },
				OnHedge:   func(context.Context, retry.HedgeEvent) { cancel() },
				OnDone:    d.onDone,
				OnAttempt: func(context.Context, retry.AttemptEvent) {},
			}
			fn := func(ctx context.Context) (int, error) {
				calls.Add(1)
				if ctx.Err() != nil {
					deadStarts.Add(1)
				}
				return 0, errTransient
			}
			var err error
			if api == "Retry" {
				_, err = retry.Retry(ctx, &retry.Policy{Hooks: h, Backoff: retry.Constant{}}, fn)
			} else {
				_, err = retry.Hedge(ctx, &retry.HedgePolicy{Hooks: h}, fn)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want the cancellation", err)
			}
			if deadStarts.Load() != 0 {
				t.Errorf("%d of %d attempts started on the cancelled context", deadStarts.Load(), calls.Load())
			}
			if e := d.event(); d.n.Load() != 1 || e.Outcome() != retry.OutcomeCanceled || e.Attempts != int(calls.Load()) {
				t.Errorf("OnDone %d times, last %+v (%d calls of fn)", d.n.Load(), e, calls.Load())
			}
		})
	}
}

// Retry around Hedge with the same Hooks: one OnDone per call of each,
// told apart by name, and the outer call's attempts are the inner calls.
func TestHostileObsNestedSameHooks(t *testing.T) {
	var mu sync.Mutex
	dones := map[string][]retry.CallEvent{}
	h := &retry.Hooks{OnDone: func(_ context.Context, e retry.CallEvent) {
		mu.Lock()
		dones[e.Name] = append(dones[e.Name], e)
		mu.Unlock()
	}}
	hp := &retry.HedgePolicy{Name: "inner", Hooks: h, Delay: time.Hour, MaxAttempts: 2}
	p := &retry.Policy{Name: "outer", Hooks: h, Backoff: retry.Constant{}, MaxAttempts: 3}
	round := 0
	v, err := retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) {
		round++
		r := round
		return retry.Hedge(ctx, hp, func(context.Context) (int, error) {
			if r < 3 {
				return 0, errTransient
			}
			return r, nil
		})
	})
	if err != nil || v != 3 {
		t.Fatalf("%v, %v", v, err)
	}
	if o := dones["outer"]; len(o) != 1 || o[0].Attempts != 3 || o[0].Winner != 3 {
		t.Errorf("outer OnDone %+v", o)
	}
	if in := dones["inner"]; len(in) != 3 || in[0].Outcome() != retry.OutcomeExhausted || in[2].Outcome() != retry.OutcomeSuccess {
		t.Errorf("inner OnDone %+v", in)
	}
}

// Losers that end after Hedge returned are still reported to OnAttempt,
// on their own cancelled context, never on a live one; under -race with
// 100 goroutines sharing the policy and hooks, each call's OnDone counts
// match what fn saw, and every attempt is reported once.
func TestHostileObsHedgeLateLosers(t *testing.T) {
	var attempts, hedgeFlags, started, dones, hedges atomic.Int64
	var liveLate atomic.Int64
	h := &retry.Hooks{
		OnAttempt: func(ctx context.Context, e retry.AttemptEvent) {
			if e.Hedge {
				hedgeFlags.Add(1)
			}
			if e.Err != nil && ctx.Err() == nil && errors.Is(e.Err, retry.ErrHedgeLost) {
				liveLate.Add(1)
			}
			attempts.Add(1) // last: the test waits for it
		},
		OnDone: func(_ context.Context, e retry.CallEvent) {
			dones.Add(1)
			hedges.Add(int64(e.Hedges))
			started.Add(int64(e.Attempts))
		},
	}
	hp := &retry.HedgePolicy{Name: "h", Hooks: h, Delay: 50 * time.Microsecond, MaxAttempts: 3}
	var wg sync.WaitGroup
	var calls atomic.Int64
	for g := range 100 {
		wg.Go(func() {
			for i := range 5 {
				_, release, err := retry.HedgeWithRelease(context.Background(), hp, func(ctx context.Context) (int, error) {
					calls.Add(1)
					a, _ := retry.AttemptFrom(ctx)
					if a.Number == 1 && (g+i)%2 == 0 {
						<-ctx.Done() // loses, and ends after the call returned
						return 0, context.Cause(ctx)
					}
					return a.Number, nil
				})
				if err != nil {
					t.Error(err)
				}
				release() // late: after OnDone
				release()
			}
		})
	}
	wg.Wait()
	// Losers end once cancelled: wait for their reports.
	for i := 0; attempts.Load() != started.Load() && i < 2000; i++ {
		time.Sleep(time.Millisecond)
	}
	if dones.Load() != 500 || started.Load() != calls.Load() || attempts.Load() != calls.Load() {
		t.Errorf("%d OnDone, %d attempts by OnDone, %d by OnAttempt, %d calls of fn", dones.Load(), started.Load(), attempts.Load(), calls.Load())
	}
	if hedges.Load() != hedgeFlags.Load() {
		t.Errorf("OnDone counts %d hedges, OnAttempt %d", hedges.Load(), hedgeFlags.Load())
	}
	if liveLate.Load() != 0 {
		t.Errorf("%d lost attempts reported on a live context", liveLate.Load())
	}
}

// ForceOpen(d) on a shared fake clock: a retry loop with WaitForProbe
// waits out the force (Until) and gets through as the probe; the
// changes come in order, each from the state the last one went to.
func TestHostileObsForceOpenWaitForProbe(t *testing.T) {
	clk := newManualClock()
	var ev events
	b := newBreaker(t, retry.BreakerConfig{Name: "db", ConsecutiveFailures: 1, OpenDuration: time.Second,
		Clock: clk, Hooks: ev.hooks()})
	if err := b.ForceOpen(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	var d doneCounter
	p := &retry.Policy{Name: "p", WaitForProbe: true, MaxAfter: time.Minute, Clock: clk,
		Hooks: &retry.Hooks{OnDone: d.onDone}}
	v, err := retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) {
		return retry.Guard(ctx, b, func(context.Context) (int, error) { return 7, nil })
	})
	if err != nil || v != 7 {
		t.Fatalf("%v, %v", v, err)
	}
	if w := clk.Waits(); len(w) != 1 || w[0] != 5*time.Second {
		t.Errorf("waits %v, want the 5s of the force", w)
	}
	if e := d.event(); e.Attempts != 2 || e.Winner != 2 {
		t.Errorf("OnDone %+v", e)
	}
	got := ev.take()
	var sums []string
	for i, c := range got {
		sums = append(sums, summary(c))
		if i > 0 && c.From != got[i-1].To {
			t.Errorf("change %d from %v, but the last went to %v", i, c.From, got[i-1].To)
		}
	}
	want := "closed>open force-open manual forced|open>half-open open-elapsed|half-open>closed probes-succeeded"
	if strings.Join(sums, "|") != want {
		t.Errorf("changes %q, want %q", sums, want)
	}
	if got[0].Ended.Rejected != 0 || got[1].Ended.Rejected != 1 || got[2].Ended.Calls != 1 {
		t.Errorf("counts: %+v", got)
	}
}

// An operator's change while a half-open probe is in flight wins: the
// probe's outcome, from an earlier period, changes nothing.
func TestHostileObsSteerDuringProbe(t *testing.T) {
	steers := []struct {
		name  string
		steer func(*retry.Breaker)
		probe error
		want  retry.BreakerState
	}{
		{"force-open/probe-succeeds", func(b *retry.Breaker) { b.ForceOpen(0) }, nil, retry.BreakerOpen},
		{"force-closed/probe-fails", func(b *retry.Breaker) { b.ForceClosed() }, errBoom, retry.BreakerClosed},
		{"reset/probe-fails", func(b *retry.Breaker) { b.Reset() }, errBoom, retry.BreakerClosed},
	}
	for _, s := range steers {
		t.Run(s.name, func(t *testing.T) {
			clk := newManualClock()
			var ev events
			b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk, Hooks: ev.hooks()})
			call(b, clk, 0, errBoom)
			clk.Add(time.Second)
			done, err := b.Allow() // the probe
			if err != nil || b.State() != retry.BreakerHalfOpen {
				t.Fatalf("probe: %v, %v", err, b.State())
			}
			s.steer(b)
			done(s.probe)
			if b.State() != s.want {
				t.Errorf("state %v after the stale probe, want %v", b.State(), s.want)
			}
			// And a second probe slot is not lost or doubled: the
			// breaker still works as steered.
			if s.want == retry.BreakerClosed {
				if err := call(b, clk, 0, nil); err != nil {
					t.Errorf("call after steering closed: %v", err)
				}
			}
			last := ev.take()
			if c := last[len(last)-1]; !c.Manual || c.To != s.want {
				t.Errorf("last change %s", summary(c))
			}
		})
	}
}

// Operators and traffic race: ForceOpen, ForceClosed and Reset from
// several goroutines while calls run. Each change starts where the one
// before it ended, and the breaker ends in the state of the last steer.
func TestHostileObsSteerRace(t *testing.T) {
	var ev events
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 2, OpenDuration: time.Millisecond, Hooks: ev.hooks()})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if (g+i)%3 == 0 {
					err = errBoom
				}
				retry.Guard(context.Background(), b, func(context.Context) (int, error) { return 0, err })
			}
		})
	}
	var sw sync.WaitGroup
	for g := range 3 {
		sw.Go(func() {
			for i := range 200 {
				switch (g + i) % 4 {
				case 0:
					b.ForceOpen(0)
				case 1:
					b.ForceOpen(time.Microsecond)
				case 2:
					b.ForceClosed()
				case 3:
					b.Reset()
				}
			}
		})
	}
	sw.Wait()
	b.ForceOpen(0)
	close(stop)
	wg.Wait()
	got := ev.take()
	for i := 1; i < len(got); i++ {
		if got[i].From != got[i-1].To {
			t.Fatalf("change %d (%s) from %v, but change %d went to %v", i, summary(got[i]), got[i].From, i-1, got[i-1].To)
		}
	}
	if last := got[len(got)-1]; last.Reason != retry.ReasonForceOpen || b.State() != retry.BreakerOpen || !b.Snapshot().Forced {
		t.Errorf("last change %s, state %+v", summary(last), b.Snapshot())
	}
	if _, err := b.Allow(); !errors.Is(err, retry.ErrBreakerOpen) {
		t.Errorf("forced open until told: %v", err)
	}
}

// panicHandler is a slog.Handler that panics on every record.
type panicHandler struct{ slog.Handler }

func (panicHandler) Handle(context.Context, slog.Record) error { panic("handler") }

// LogHooks: a nil logger logs through slog.Default at the time of the
// event; a name with odd characters stays one field of valid JSON; a
// handler that panics is a hook that panics: OnDone still once, and the
// caller sees the panic.
func TestHostileObsLogHooks(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	t.Cleanup(func() { slog.SetDefault(old) })
	hooks := retry.LogHooks(nil) // before the default is set
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	name := "a\"b\nc=d é\x00"
	p := &retry.Policy{Name: name, Hooks: hooks, Backoff: retry.Constant{}, MaxAttempts: 2}
	retry.Do(context.Background(), p, func(context.Context) error { return errTransient })
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	levels := []string{}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if rec["name"] != name {
			t.Errorf("name %q in %q", rec["name"], l)
		}
		levels = append(levels, fmt.Sprint(rec["level"], " ", rec["msg"]))
	}
	want := "DEBUG attempt ended|INFO retrying|DEBUG attempt ended|WARN call failed"
	if got := strings.Join(levels, "|"); got != want {
		t.Errorf("records %q, want %q", got, want)
	}

	var d doneCounter
	ph := retry.LogHooks(slog.New(panicHandler{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})}))
	var n atomic.Int32
	onDone := ph.OnDone
	ph.OnDone = func(ctx context.Context, e retry.CallEvent) { n.Add(1); d.onDone(ctx, e); onDone(ctx, e) }
	func() {
		defer func() {
			if r := recover(); r != "handler" {
				t.Errorf("recovered %v", r)
			}
		}()
		retry.Do(context.Background(), &retry.Policy{Hooks: ph}, func(context.Context) error { return nil })
	}()
	if n.Load() != 1 || d.event().Outcome() != retry.OutcomePanic {
		t.Errorf("OnDone %d times, last %+v", n.Load(), d.event())
	}
}

// A call's error that is no *Error (as httpx reports a request sent once)
// is sorted by the context error it wraps.
func TestHostileObsOutcomeBareContextError(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("put: %w", context.Canceled):         retry.OutcomeCanceled,
		fmt.Errorf("put: %w", context.DeadlineExceeded): retry.OutcomeDeadline,
		errTransient: retry.OutcomeOther,
	} {
		if got := (retry.CallEvent{Err: err}).Outcome(); got != want {
			t.Errorf("Outcome of %v = %q, want %q", err, got, want)
		}
	}
}

// The counts of a period that an operator ends: the rejections of a
// forced-open period, the calls of a forced-closed one (counted, never
// tripping), the failure run of a closed one.
func TestHostileObsSteerEndedCounts(t *testing.T) {
	clk := newManualClock()
	var ev events
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 3, FailureRatio: 0.5, MinCalls: 100,
		OpenDuration: time.Second, Clock: clk, Hooks: ev.hooks()})
	call(b, clk, 0, nil)
	call(b, clk, 0, errBoom)
	call(b, clk, 0, errBoom)
	b.ForceOpen(0)
	for range 3 {
		call(b, clk, 0, nil)
	}
	b.ForceClosed()
	for i := range 10 {
		var err error
		if i%2 == 0 {
			err = errBoom
		}
		call(b, clk, 0, err)
	}
	if b.State() != retry.BreakerClosed {
		t.Fatalf("forced closed, state %v", b.State())
	}
	b.Reset()
	got := ev.take()
	if len(got) != 3 {
		t.Fatalf("changes %v", got)
	}
	want := []retry.BreakerCounts{
		{Calls: 3, Failures: 2, ConsecutiveFailures: 2},
		{Rejected: 3},
		{Calls: 10, Failures: 5, ConsecutiveFailures: 0},
	}
	for i, c := range got {
		if c.Ended != want[i] {
			t.Errorf("%s: ended %+v, want %+v", summary(c), c.Ended, want[i])
		}
	}
}
