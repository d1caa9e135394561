package retry_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// step is what one attempt of a script does.
type step struct {
	after  time.Duration // how long it takes
	val    string        // its value, on success
	err    error         // its error
	stubby bool          // ignores the cancellation of its context
	panics any           // panics with this value, if not nil
}

// script is a call whose attempts follow steps, by attempt number. It
// records when each attempt started (since the script was made), the
// attempt's mark and its context. Use it inside a synctest bubble.
type script struct {
	steps []step
	t0    time.Time

	mu     sync.Mutex
	starts []time.Duration
	marks  []retry.Attempt
	ctxs   []context.Context
}

func newScript(steps ...step) *script { return &script{steps: steps, t0: time.Now()} }

func (s *script) fn(ctx context.Context) (string, error) {
	a, ok := retry.AttemptFrom(ctx)
	if !ok {
		panic("attempt context not marked")
	}
	s.mu.Lock()
	s.starts = append(s.starts, time.Since(s.t0))
	s.marks = append(s.marks, a)
	s.ctxs = append(s.ctxs, ctx)
	st := s.steps[a.Number-1]
	s.mu.Unlock()
	t := time.NewTimer(st.after)
	defer t.Stop()
	if st.stubby {
		<-t.C
	} else {
		select {
		case <-t.C:
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
	}
	if st.panics != nil {
		panic(st.panics)
	}
	return st.val, st.err
}

func (s *script) Starts() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.starts...)
}

func (s *script) Marks() []retry.Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]retry.Attempt(nil), s.marks...)
}

// Ctx returns the context of attempt n, from 1.
func (s *script) Ctx(n int) context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range s.marks {
		if m.Number == n {
			return s.ctxs[i]
		}
	}
	return nil
}

const ms = time.Millisecond

func TestHedgeDelayHonouredExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{after: 10 * ms, val: "first"}, step{after: 2 * ms, val: "second"})
		start := time.Now()
		v, err := retry.Hedge(context.Background(), &retry.HedgePolicy{Delay: 3 * ms}, s.fn)
		if err != nil || v != "second" {
			t.Fatalf("Hedge = %q, %v; want second, nil", v, err)
		}
		if got := time.Since(start); got != 5*ms {
			t.Errorf("returned after %v, want 5ms (3ms delay + 2ms)", got)
		}
		if got := s.Starts(); !slices.Equal(got, []time.Duration{0, 3 * ms}) {
			t.Errorf("attempts started at %v, want [0 3ms]", got)
		}
	})
}

// A call that answers before the delay never hedges.
func TestHedgeNoHedgeBeforeDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{after: 3*ms - 1, val: "first"}, step{val: "second"})
		v, err := retry.Hedge(context.Background(), &retry.HedgePolicy{Delay: 3 * ms}, s.fn)
		if err != nil || v != "first" || len(s.Starts()) != 1 {
			t.Fatalf("Hedge = %q, %v after %d attempts; want first, nil, 1", v, err, len(s.Starts()))
		}
	})
}

// The zero policy hedges once, after 100ms.
func TestHedgeDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{after: time.Hour, err: errTransient}, step{after: time.Hour, err: errTransient}, step{val: "never"})
		start := time.Now()
		_, err := retry.Hedge(context.Background(), nil, s.fn)
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != 2 {
			t.Fatalf("err = %v, want a *Error after %d attempts", err, 2)
		}
		if got := s.Starts(); !slices.Equal(got, []time.Duration{0, (100 * time.Millisecond)}) {
			t.Errorf("attempts started at %v", got)
		}
		if want := time.Hour + (100 * time.Millisecond); time.Since(start) != want {
			t.Errorf("returned after %v, want %v (the second attempt's failure)", time.Since(start), want)
		}
	})
}

func TestHedgeFailureStartsNextAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(
			step{after: 1 * ms, err: errTransient},
			step{after: 10 * ms, val: "second"},
			step{after: 1 * ms, val: "third"},
		)
		v, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms}, s.fn)
		if err != nil || v != "third" {
			t.Fatalf("Hedge = %q, %v; want third, nil", v, err)
		}
		// Attempt 2 at 1ms (the failure), attempt 3 a delay later.
		if got := s.Starts(); !slices.Equal(got, []time.Duration{0, 1 * ms, 4 * ms}) {
			t.Errorf("attempts started at %v, want [0 1ms 4ms]", got)
		}
	})
}

func TestHedgeAttemptMarks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(
			step{after: 1 * ms, err: errTransient}, // nothing else runs: its follower is no hedge
			step{after: 10 * ms, err: errTransient},
			step{after: 1 * ms, val: "third"}, // started 3ms after attempt 2, which still runs
		)
		if _, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms}, s.fn); err != nil {
			t.Fatal(err)
		}
		want := []retry.Attempt{{Number: 1}, {Number: 2}, {Number: 3, Hedge: true}}
		if got := s.Marks(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("marks = %v, want %v", got, want)
		}
	})
}

func TestHedgeMaxAttemptsCap(t *testing.T) {
	for _, max := range []int{1, 2, 5, retry.MaxHedgeAttempts} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				steps := make([]step, retry.MaxHedgeAttempts+1)
				for i := range steps {
					steps[i] = step{after: time.Hour, err: fmt.Errorf("attempt %d", i+1)}
				}
				s := newScript(steps...)
				_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: max, Delay: ms}, s.fn)
				var re *retry.Error
				if !errors.As(err, &re) || re.Attempts != max || !errors.Is(err, retry.ErrExhausted) {
					t.Fatalf("err = %v, want ErrExhausted after %d attempts", err, max)
				}
				if n := len(s.Starts()); n != max {
					t.Errorf("%d attempts started, want %d", n, max)
				}
			})
		})
	}
}

func TestHedgeLosersCancelledWithCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{after: time.Hour}, step{after: ms, val: "second"})
		_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{Delay: 3 * ms}, s.fn)
		if err != nil {
			t.Fatal(err)
		}
		loser, winner := s.Ctx(1), s.Ctx(2)
		if context.Cause(loser) != retry.ErrHedgeLost {
			t.Errorf("loser's cause = %v, want ErrHedgeLost", context.Cause(loser))
		}
		// Hedge (without release) ends the winner's context as it returns.
		if winner.Err() == nil || context.Cause(winner) == retry.ErrHedgeLost {
			t.Errorf("winner's context: err %v, cause %v; want cancelled, not as a loser", winner.Err(), context.Cause(winner))
		}
	})
}

func TestHedgeWithReleaseKeepsWinnerAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{after: time.Hour}, step{after: ms, val: "second"})
		v, release, err := retry.HedgeWithRelease(context.Background(), &retry.HedgePolicy{Delay: 3 * ms}, s.fn)
		if err != nil || v != "second" {
			t.Fatalf("HedgeWithRelease = %q, %v", v, err)
		}
		winner := s.Ctx(2)
		time.Sleep(time.Minute) // the caller reads the body, say
		if winner.Err() != nil {
			t.Fatalf("winner's context ended before release: %v", context.Cause(winner))
		}
		if context.Cause(s.Ctx(1)) != retry.ErrHedgeLost {
			t.Errorf("loser's cause = %v", context.Cause(s.Ctx(1)))
		}
		release()
		release() // idempotent
		if winner.Err() == nil {
			t.Error("winner's context alive after release")
		}
	})
}

func TestHedgeWithReleaseOnError(t *testing.T) {
	_, release, err := retry.HedgeWithRelease(context.Background(), nil, func(context.Context) (int, error) {
		return 0, retry.Permanent(errTransient)
	})
	if err == nil || release == nil {
		t.Fatalf("err = %v, release nil: %v", err, release == nil)
	}
	release()
	release()
}

func TestHedgeCallerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		errShutdown := errors.New("shutting down")
		s := newScript(step{after: time.Hour}, step{after: time.Hour}, step{after: time.Hour})
		go func() {
			time.Sleep(5 * ms)
			cancel(errShutdown)
		}()
		start := time.Now()
		_, err := retry.Hedge(ctx, &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms}, s.fn)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errShutdown) {
			t.Fatalf("err = %v, want Canceled with its cause", err)
		}
		if got := time.Since(start); got != 5*ms {
			t.Errorf("returned after %v, want 5ms", got)
		}
		time.Sleep(time.Second)
		if got := s.Starts(); len(got) != 2 {
			t.Errorf("attempts started at %v; none may start after the cancel", got)
		}
		for n := 1; n <= 2; n++ {
			if s.Ctx(n).Err() == nil {
				t.Errorf("attempt %d still running", n)
			}
		}
	})
}

// A context already done starts one attempt at most, which it cancels.
func TestHedgeContextAlreadyDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s := newScript(step{after: time.Hour}, step{after: time.Hour})
		_, err := retry.Hedge(ctx, &retry.HedgePolicy{Delay: ms}, s.fn)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		synctest.Wait()
		if n := len(s.Starts()); n != 0 {
			t.Errorf("%d attempts started for a caller already gone", n)
		}
	})
}

func TestHedgeAllFailJoinsEveryError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errs := []error{errors.New("e1"), errors.New("e2"), errors.New("e3")}
		s := newScript(step{after: 10 * ms, err: errs[0]}, step{after: 2 * ms, err: errs[1]}, step{after: 5 * ms, err: errs[2]})
		_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms}, s.fn)
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != 3 || !errors.Is(err, retry.ErrExhausted) {
			t.Fatalf("err = %v, want *Error, ErrExhausted, 3 attempts", err)
		}
		for _, e := range errs {
			if !errors.Is(err, e) {
				t.Errorf("errors.Is(err, %v) = false; err = %v", e, err)
			}
		}
	})
}

func TestHedgePermanentCancelsAll(t *testing.T) {
	errFatal := errors.New("400 Bad Request")
	tests := []struct {
		name string
		err  error
		pol  retry.HedgePolicy
	}{
		{"Permanent", retry.Permanent(errFatal), retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms}},
		{"Retryable", errFatal, retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms,
			Retryable: func(err error) bool { return !errors.Is(err, errFatal) }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(step{after: time.Hour}, step{after: ms, err: tt.err}, step{val: "never"})
				start := time.Now()
				_, err := retry.Hedge(context.Background(), &tt.pol, s.fn)
				if !errors.Is(err, retry.ErrNotRetryable) || !errors.Is(err, errFatal) {
					t.Fatalf("err = %v", err)
				}
				if got := time.Since(start); got != 4*ms {
					t.Errorf("returned after %v, want 4ms", got)
				}
				synctest.Wait()
				if s.Ctx(1).Err() == nil || len(s.Starts()) != 2 {
					t.Errorf("attempt 1 not cancelled, or %d attempts started", len(s.Starts()))
				}
			})
		})
	}
}

// closer counts its Close calls.
type closer struct {
	name   string
	closed *atomic.Int32
}

func (c closer) Close() error { c.closed.Add(1); return nil }

func TestHedgeDiscardExactlyOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Three attempts succeed at the same instant; one wins.
		var mu sync.Mutex
		discarded := map[string]int{}
		p := &retry.HedgePolicy{MaxAttempts: 3, Delay: ms, OnDiscard: func(v any) {
			mu.Lock()
			discarded[v.(string)]++
			mu.Unlock()
		}}
		// They ignore cancellation, as a call already past its last check does.
		s := newScript(step{after: 3 * ms, val: "a", stubby: true}, step{after: 2 * ms, val: "b", stubby: true},
			step{after: 1 * ms, val: "c", stubby: true})
		v, err := retry.Hedge(context.Background(), p, s.fn)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(discarded) != 2 || discarded[v] != 0 {
			t.Errorf("won %q, discarded %v; want the other two, once each", v, discarded)
		}
		for k, n := range discarded {
			if n != 1 {
				t.Errorf("%q discarded %d times", k, n)
			}
		}
	})
}

// A loser that ignores its cancellation and succeeds long after Hedge
// returned is still discarded, once.
func TestHedgeDiscardLateSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var discarded atomic.Int32
		p := &retry.HedgePolicy{Delay: 3 * ms, OnDiscard: func(any) { discarded.Add(1) }}
		s := newScript(step{after: time.Second, val: "late", stubby: true}, step{after: ms, val: "second"})
		if v, err := retry.Hedge(context.Background(), p, s.fn); err != nil || v != "second" {
			t.Fatalf("Hedge = %q, %v", v, err)
		}
		if discarded.Load() != 0 {
			t.Fatal("discarded before the loser finished")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := discarded.Load(); n != 1 {
			t.Errorf("OnDiscard called %d times, want 1", n)
		}
	})
}

// Without OnDiscard, a discarded io.Closer is closed; the winner is not.
func TestHedgeDiscardClosesClosers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var closed [3]atomic.Int32
		fn := func(ctx context.Context) (closer, error) {
			a, _ := retry.AttemptFrom(ctx)
			time.Sleep(time.Duration(4-a.Number) * ms) // all finish at 3ms, ignoring cancellation
			return closer{fmt.Sprint(a.Number), &closed[a.Number-1]}, nil
		}
		v, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: ms}, fn)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for i := range closed {
			want := int32(1)
			if fmt.Sprint(i+1) == v.name {
				want = 0
			}
			if got := closed[i].Load(); got != want {
				t.Errorf("attempt %d closed %d times, want %d (winner %s)", i+1, got, want, v.name)
			}
		}
	})
}

func TestHedgePanicReraisedInCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type boom struct{ n int }
		s := newScript(step{after: time.Hour}, step{after: ms, panics: boom{42}})
		var got any
		func() {
			defer func() { got = recover() }()
			retry.Hedge(context.Background(), &retry.HedgePolicy{Delay: 3 * ms}, s.fn)
		}()
		pe, ok := got.(*retry.PanicError)
		if !ok || pe.Value != (boom{42}) || pe.Attempt != 2 {
			t.Fatalf("recovered %#v, want a *PanicError with the attempt's own value", got)
		}
		// The attempt's stack, which names the function that panicked: the
		// caller's stack would not.
		if !strings.Contains(string(pe.Stack), "(*script).fn") || !strings.Contains(pe.Error(), "(*script).fn") {
			t.Errorf("stack and message do not name the panicking function:\n%s", pe.Error())
		}
		if s.Ctx(1).Err() == nil {
			t.Error("the other attempt was not cancelled")
		}
	})
}

// A panic in an attempt that ends after the call was decided goes to
// OnDiscard as a *PanicError.
func TestHedgeLatePanicToOnDiscard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got atomic.Pointer[retry.PanicError]
		p := &retry.HedgePolicy{Delay: 3 * ms, OnDiscard: func(v any) {
			if pe, ok := v.(*retry.PanicError); ok {
				got.Store(pe)
			}
		}}
		s := newScript(step{after: time.Second, stubby: true, panics: "late boom"}, step{after: ms, val: "second"})
		if v, err := retry.Hedge(context.Background(), p, s.fn); err != nil || v != "second" {
			t.Fatalf("Hedge = %q, %v", v, err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		pe := got.Load()
		if pe == nil || pe.Value != "late boom" || pe.Attempt != 1 || len(pe.Stack) == 0 {
			t.Fatalf("OnDiscard got %v", pe)
		}
	})
}

// runtime.Goexit in fn (t.FailNow, say) ends the caller's goroutine too,
// instead of leaving Hedge waiting for a result that never comes.
func TestHedgeGoexitReachesCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		done := make(chan bool)
		go func() {
			returned := false
			defer func() { done <- returned }()
			retry.Hedge(context.Background(), nil, func(context.Context) (int, error) {
				runtime.Goexit()
				return 0, nil
			})
			returned = true
		}()
		if <-done {
			t.Error("Hedge returned after its attempt called Goexit")
		}
	})
}

// fakeBudget counts calls and refuses Extra once it has allowed max.
type fakeBudget struct {
	max                                     int32
	first, extra, allowed, success, failure atomic.Int32
}

func (b *fakeBudget) First() { b.first.Add(1) }
func (b *fakeBudget) Extra() bool {
	b.extra.Add(1)
	if b.allowed.Load() >= b.max {
		return false
	}
	b.allowed.Add(1)
	return true
}
func (b *fakeBudget) Result(ok bool) {
	if ok {
		b.success.Add(1)
	} else {
		b.failure.Add(1)
	}
}

func TestHedgeBudgetRefusalSuppressesNewHedgesOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &fakeBudget{max: 0}
		s := newScript(step{after: 10 * ms, val: "first"}, step{val: "never"})
		start := time.Now()
		v, err := retry.Hedge(context.Background(), &retry.HedgePolicy{Delay: 3 * ms, Budget: b}, s.fn)
		if err != nil || v != "first" || time.Since(start) != 10*ms {
			t.Fatalf("Hedge = %q, %v after %v; want first after 10ms", v, err, time.Since(start))
		}
		if len(s.Starts()) != 1 || b.first.Load() != 1 || b.extra.Load() != 1 || b.success.Load() != 1 {
			t.Errorf("starts %v, First %d, Extra %d, Result(true) %d", s.Starts(), b.first.Load(), b.extra.Load(), b.success.Load())
		}
	})
}

func TestHedgeBudgetAllowsThenRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &fakeBudget{max: 1}
		s := newScript(step{after: 10 * ms, err: errTransient}, step{after: 10 * ms, err: errTransient}, step{val: "never"})
		_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms, Budget: b}, s.fn)
		if !errors.Is(err, retry.ErrBudgetExhausted) || !errors.Is(err, errTransient) {
			t.Fatalf("err = %v, want ErrBudgetExhausted", err)
		}
		// Timer at 3ms: allowed. Timer at 6ms: refused, which halts the
		// call; attempt 1 still runs. Failure at 10ms, and at 13ms: nothing
		// more is asked; the call ends.
		if len(s.Starts()) != 2 || b.extra.Load() != 2 || b.failure.Load() != 2 {
			t.Errorf("starts %v, Extra %d, Result(false) %d", s.Starts(), b.extra.Load(), b.failure.Load())
		}
	})
}

func TestHedgeOnHedgeEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []retry.HedgeEvent // OnHedge runs on the caller's goroutine
		p := &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms, Hooks: &retry.Hooks{OnHedge: func(_ context.Context, e retry.HedgeEvent) { events = append(events, e) }}}
		s := newScript(step{after: time.Hour}, step{after: 1 * ms, err: errTransient}, step{after: ms, val: "third"})
		if _, err := retry.Hedge(context.Background(), p, s.fn); err != nil {
			t.Fatal(err)
		}
		want := []retry.HedgeEvent{
			{Attempt: 2, Running: 1, Elapsed: 3 * ms, Delay: 3 * ms},
			{Attempt: 3, Running: 1, Elapsed: 4 * ms, Delay: 3 * ms, Err: errTransient},
		}
		if fmt.Sprint(events) != fmt.Sprint(want) {
			t.Errorf("events = %v, want %v", events, want)
		}
	})
}

// One policy and one tracker shared by 50 concurrent callers: run with
// -race. Each caller must get its own attempt's value.
func TestHedgeSharedPolicyConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Window: 64, MinSamples: 8, Fallback: 3 * ms})
		if err != nil {
			t.Fatal(err)
		}
		var discarded atomic.Int32
		p := &retry.HedgePolicy{MaxAttempts: 3, Latency: tr, OnDiscard: func(any) { discarded.Add(1) }}
		var wg sync.WaitGroup
		var attempts atomic.Int32
		for i := range 50 {
			wg.Go(func() {
				for j := range 20 {
					fn := func(ctx context.Context) (string, error) {
						attempts.Add(1)
						a, _ := retry.AttemptFrom(ctx)
						d := time.Duration((i*7+j*3+a.Number*5)%9) * ms
						time.Sleep(d) // ignores cancellation: some losers succeed late
						return fmt.Sprint(i, "/", j), nil
					}
					v, err := retry.Hedge(context.Background(), p, fn)
					if want := fmt.Sprint(i, "/", j); err != nil || v != want {
						t.Errorf("caller %d call %d: %q, %v", i, j, v, err)
					}
				}
			})
		}
		wg.Wait()
		time.Sleep(10 * ms) // for the losers, which ignore cancellation
		synctest.Wait()
		if tr.Samples() == 0 {
			t.Error("no latency recorded")
		}
		// Every attempt succeeds: each success is returned or discarded, once.
		if a, d := attempts.Load(), discarded.Load(); a != 50*20+d || d == 0 {
			t.Errorf("%d attempts, %d discarded, 1000 returned", a, d)
		}
	})
}

// Hedge feeds its tracker one sample per call that succeeds, taken from
// the first attempt (see HedgePolicy.Latency); the delay is the tracker's
// 3ms fallback.
func TestHedgeRecordsFirstAttemptLatency(t *testing.T) {
	for _, c := range []struct {
		name  string
		steps []step
		want  time.Duration // the sample; 0 for none
	}{
		{"first wins", []step{{after: 2 * ms, val: "a"}}, 2 * ms},
		{"first cut short", []step{{after: time.Hour}, {after: 2 * ms, val: "b"}}, 5*ms + 3*ms/2}, // ran 5ms, plus half the delay
		{"first ends anyway", []step{{after: 7 * ms, val: "a", stubby: true}, {after: 2 * ms, val: "b"}}, 7 * ms},
		{"first fails after losing", []step{{after: 7 * ms, err: errTransient, stubby: true}, {after: 2 * ms, val: "b"}}, 7*ms + 3*ms/2},
		{"first fails first", []step{{after: ms, err: errTransient}, {after: 2 * ms, val: "b"}}, 0},
		{"call fails", []step{{after: 5 * ms, err: errTransient}, {after: 5 * ms, err: errTransient}}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr, _ := retry.NewLatencyTracker(retry.LatencyTrackerConfig{MinSamples: 1, Window: 100, Fallback: 3 * ms})
				retry.Hedge(context.Background(), &retry.HedgePolicy{Latency: tr}, newScript(c.steps...).fn)
				time.Sleep(10 * ms) // a losing first attempt records when it returns
				synctest.Wait()
				got, _ := tr.Quantile(0)
				if n := tr.Samples(); c.want == 0 && n != 0 || c.want != 0 && n != 1 {
					t.Fatalf("%d samples (%v), want %d", n, got, min(c.want, 1))
				}
				// Rounded up to its bucket's edge: ≤ 1/32 above.
				if c.want != 0 && (got < c.want || got > c.want+c.want/32) {
					t.Errorf("recorded %v, want %v", got, c.want)
				}
			})
		})
	}
}

// With an injected Clock the delay is taken from it.
func TestHedgeInjectedClock(t *testing.T) {
	clk := newStepClock() // every wait ends at once
	block := make(chan struct{})
	defer close(block)
	fn := func(ctx context.Context) (int, error) {
		a, _ := retry.AttemptFrom(ctx)
		if a.Number == 1 {
			select {
			case <-block:
			case <-ctx.Done():
			}
			return 0, ctx.Err()
		}
		return 2, nil
	}
	v, err := retry.Hedge(context.Background(), &retry.HedgePolicy{Delay: time.Hour, Clock: clk}, fn)
	if err != nil || v != 2 {
		t.Fatalf("Hedge = %v, %v", v, err)
	}
	if got := clk.Waits(); !slices.Equal(got, []time.Duration{time.Hour}) {
		t.Errorf("waits = %v", got)
	}
}

func TestHedgeBadInput(t *testing.T) {
	ok := func(context.Context) (int, error) { return 1, nil }
	tr := &retry.LatencyTracker{}
	tests := []struct {
		name string
		ctx  context.Context
		fn   func(context.Context) (int, error)
		pol  *retry.HedgePolicy
	}{
		{"nil fn", context.Background(), nil, nil},
		{"nil ctx", nil, ok, nil},
		{"negative delay", context.Background(), ok, &retry.HedgePolicy{Delay: -1}},
		{"negative MaxAttempts", context.Background(), ok, &retry.HedgePolicy{MaxAttempts: -1}},
		{"absurd MaxAttempts", context.Background(), ok, &retry.HedgePolicy{MaxAttempts: 10_000}},
		{"just over the limit", context.Background(), ok, &retry.HedgePolicy{MaxAttempts: retry.MaxHedgeAttempts + 1}},
		{"Delay and Latency", context.Background(), ok, &retry.HedgePolicy{Delay: ms, Latency: tr}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := retry.Hedge(tt.ctx, tt.pol, tt.fn)
			if !errors.Is(err, retry.ErrInvalid) || v != 0 {
				t.Errorf("Hedge = %v, %v; want ErrInvalid", v, err)
			}
			_, release, err := retry.HedgeWithRelease(tt.ctx, tt.pol, tt.fn)
			if !errors.Is(err, retry.ErrInvalid) || release == nil {
				t.Errorf("HedgeWithRelease: %v", err)
			}
			if tt.pol != nil && !errors.Is(tt.pol.Validate(), retry.ErrInvalid) {
				t.Errorf("Validate = %v", tt.pol.Validate())
			}
		})
	}
	if err := (*retry.HedgePolicy)(nil).Validate(); err != nil {
		t.Errorf("nil policy: %v", err)
	}
}

// A call that never hedges runs fn on one goroutine besides the caller's.
func TestHedgeNoHedgeUsesOneGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	var during int
	_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{Delay: time.Hour}, func(context.Context) (int, error) {
		during = runtime.NumGoroutine()
		return 1, nil
	})
	if err != nil || during-before != 1 {
		t.Errorf("err %v; %d goroutines during the call, %d before; want one more", err, during, before)
	}
}

// Server pushback (an error marked with After) holds the next hedge for
// the wait the server asked for, instead of starting it at once.
func TestHedgePushbackDelaysNextAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(
			step{after: 1 * ms, err: retry.After(errTransient, 50*ms)},
			step{after: 1 * ms, val: "second"},
		)
		v, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: 10 * ms}, s.fn)
		if err != nil || v != "second" {
			t.Fatalf("Hedge = %q, %v", v, err)
		}
		if got := s.Starts(); !slices.Equal(got, []time.Duration{0, 51 * ms}) {
			t.Errorf("attempts started at %v, want [0 51ms]", got)
		}
	})
}

// A negative pushback means no more attempts; a pushback past the
// deadline likewise, at once.
func TestHedgePushbackStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{after: 1 * ms, err: retry.After(errTransient, -1)}, step{val: "never"})
		_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: 10 * ms}, s.fn)
		if !errors.Is(err, retry.ErrNotRetryable) || len(s.Starts()) != 1 {
			t.Fatalf("err = %v after %d attempts; want ErrNotRetryable after 1", err, len(s.Starts()))
		}

		ctx, cancel := context.WithTimeout(context.Background(), 20*ms)
		defer cancel()
		s = newScript(step{after: 1 * ms, err: retry.After(errTransient, time.Second)}, step{val: "never"})
		start := time.Now()
		_, err = retry.Hedge(ctx, &retry.HedgePolicy{MaxAttempts: 3, Delay: 10 * ms}, s.fn)
		if !errors.Is(err, retry.ErrDeadline) || len(s.Starts()) != 1 || time.Since(start) != 1*ms {
			t.Fatalf("err = %v after %d attempts and %v", err, len(s.Starts()), time.Since(start))
		}
	})
}

// A hedge refused by the budget after a pushback ends the call instead of
// waiting for results that cannot come.
func TestHedgePushbackThenBudgetRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var bucket retry.TokenBucket
		for range 4 {
			bucket.Result(false) // 6 tokens: the failure below leaves 5, not above half
		}
		s := newScript(step{after: 1 * ms, err: retry.After(errTransient, 5*ms)}, step{val: "never"})
		_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: 10 * ms, Budget: &bucket}, s.fn)
		if !errors.Is(err, retry.ErrBudgetExhausted) || len(s.Starts()) != 1 {
			t.Fatalf("err = %v after %d attempts", err, len(s.Starts()))
		}
	})
}

// When no attempt is left, the error says why the last one had no
// follower: the context, the budget or the server's pushback, not a bare
// "exhausted".
func TestHedgeStopReasons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Pushback past the deadline while another attempt still runs.
		ctx, cancel := context.WithTimeout(context.Background(), 50*ms)
		defer cancel()
		s := newScript(step{after: 10 * ms, err: errTransient}, step{after: 1 * ms, err: retry.After(errTransient, time.Second)}, step{val: "never"})
		_, err := retry.Hedge(ctx, &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * ms}, s.fn)
		if !errors.Is(err, retry.ErrDeadline) || len(s.Starts()) != 2 {
			t.Fatalf("err = %v after %d attempts; want ErrDeadline after 2", err, len(s.Starts()))
		}
	})
}
