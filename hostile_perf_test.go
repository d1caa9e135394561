package retry_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// Hostile tests of the performance changes of issue 16: adaptive
// throttling that reads the clock only after a failure, RatioBudget's
// lock-free first attempts, the time window that waits for a bucket being
// recycled, the budgeted fast path of Retry and Do, and hedge results sent
// as attempt numbers.

// hpClock is a Clock that a test sets, forwards or backwards, safely from
// any goroutine.
type hpClock struct{ ns atomic.Int64 }

func newHPClock() *hpClock {
	c := &hpClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *hpClock) Now() time.Time                       { return time.Unix(0, c.ns.Load()) }
func (c *hpClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }
func (c *hpClock) Add(d time.Duration)                  { c.ns.Add(int64(d)) }

// hpRand is a Rand whose next draws a test sets.
type hpRand struct{ bits atomic.Uint64 }

func (r *hpRand) set(v float64) { r.bits.Store(math.Float64bits(v)) }
func (r *hpRand) draw() float64 { return math.Float64frombits(r.bits.Load()) }

func guardErr(b *retry.Breaker, err error) error {
	_, gerr := retry.Guard(context.Background(), b, func(context.Context) (int, error) { return 0, err })
	return gerr
}

// shedsAt reports whether b sheds a successful call when Rand draws r.
func shedsAt(b *retry.Breaker, rnd *hpRand, r float64) bool {
	rnd.set(r)
	err := guardErr(b, nil)
	rnd.set(0.999999)
	return errors.Is(err, retry.ErrBreakerThrottled)
}

// Adaptive throttling sheds with the documented probability,
// (requests − K·accepts)/(requests + 1), on both kinds of window, once
// failures are in it: just below it a draw sheds, just above it none.
func TestHostilePerfAdaptiveProbability(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  retry.BreakerConfig
	}{
		{"count", retry.BreakerConfig{Adaptive: true, AdaptiveK: 2, WindowCalls: 100}},
		{"time", retry.BreakerConfig{Adaptive: true, AdaptiveK: 2, Window: 10 * time.Second}},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := newHPClock()
			rnd := &hpRand{}
			rnd.set(0.999999)
			cfg := c.cfg
			cfg.Clock, cfg.Rand = clk, rnd.draw
			b := newBreaker(t, cfg)
			for range 20 {
				if err := guardErr(b, nil); err != nil {
					t.Fatal(err)
				}
			}
			for range 79 {
				if err := guardErr(b, errBoom); !errors.Is(err, errBoom) {
					t.Fatalf("a failure while the draws shed nothing: %v", err)
				}
			}
			// 99 requests, 20 accepts: p = (99 − 40)/100. The probe call
			// that is not shed counts too, so test the lower side last.
			p := (99.0 - 40) / 100
			if !shedsAt(b, rnd, p-1e-9) {
				t.Fatalf("not shed at a draw just below p = %v", p)
			}
			if shedsAt(b, rnd, p+1e-9) {
				t.Fatalf("shed at a draw just above p = %v", p)
			}
		})
	}
}

// Once the failures leave a time window, or an operator resets or forces the breaker closed, nothing is
// shed; failures after a reset are throttled again, with the new
// period's counts only.
func TestHostilePerfAdaptiveAcrossPeriods(t *testing.T) {
	clk := newHPClock()
	rnd := &hpRand{}
	rnd.set(0.999999)
	b := newBreaker(t, retry.BreakerConfig{Adaptive: true, Window: 10 * time.Second, Clock: clk, Rand: rnd.draw})
	failAll := func(n int) {
		for range n {
			guardErr(b, errBoom)
		}
	}
	clk.Add(5 * time.Second)
	failAll(50)
	if !shedsAt(b, rnd, 0) {
		t.Fatal("nothing shed with 50 failures in the window")
	}
	clk.Add(-time.Hour) // the clock goes back before the breaker's base
	for range 10 {
		shedsAt(b, rnd, 0) // whatever it decides, it must not break
	}
	clk.Add(time.Hour)
	if !shedsAt(b, rnd, 0) {
		t.Fatal("nothing shed once the clock came back to the failures")
	}
	clk.Add(11 * time.Second)
	if shedsAt(b, rnd, 0) {
		t.Fatal("shed after the failures left the window")
	}
	failAll(50)
	if err := b.ForceClosed(); err != nil {
		t.Fatal(err)
	}
	failAll(50)
	if shedsAt(b, rnd, 0) {
		t.Fatal("shed while forced closed")
	}
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	if shedsAt(b, rnd, 0) {
		t.Fatal("shed right after Reset: the failures of the forced period came along")
	}
	failAll(50)
	if !shedsAt(b, rnd, 0) {
		t.Fatal("nothing shed after Reset and 50 failures")
	}
	if err := b.ForceOpen(time.Second); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Second)
	if err := guardErr(b, nil); err != nil { // the probe closes it
		t.Fatalf("probe: %v", err)
	}
	if s := b.State(); s != retry.BreakerClosed {
		t.Fatalf("state %v after the probe succeeded", s)
	}
	if shedsAt(b, rnd, 0) {
		t.Fatal("shed right after closing: the failures of the last closed period came along")
	}
}

// A count window sheds again after its failures were pushed out and new
// ones came, and the clock-free admission never hides a failure: under 8
// goroutines, a throttling breaker sheds.
func TestHostilePerfAdaptiveCountWindowParallel(t *testing.T) {
	rnd := &hpRand{}
	rnd.set(0)
	b := newBreaker(t, retry.BreakerConfig{Adaptive: true, WindowCalls: 64, Rand: rnd.draw})
	var shed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if errors.Is(guardErr(b, errBoom), retry.ErrBreakerThrottled) {
					shed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if shed.Load() == 0 {
		t.Fatal("nothing shed while every call failed")
	}
	rnd.set(0.999999)
	for range 64 {
		guardErr(b, nil)
	}
	if s := b.Snapshot(); s.Failures != 0 || s.Calls != 64 {
		t.Fatalf("window %d calls, %d failures after 64 successes", s.Calls, s.Failures)
	}
	if shedsAt(b, rnd, 0) {
		t.Fatal("shed with no failure in the window")
	}
}

// ratioExtras returns how many extra attempts b grants now.
func ratioExtras(b *retry.RatioBudget) int {
	n := 0
	for b.Extra() {
		n++
		if n > 1e6 {
			break
		}
	}
	return n
}

// ratioAtOne returns a budget of one extra per first attempt and no floor,
// over 10s of clk.
func ratioAtOne(t *testing.T, clk retry.Clock) *retry.RatioBudget {
	t.Helper()
	b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 1, MinPerSecond: retry.None,
		Window: 10 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// firstsFrom makes n first attempts on b from each of g goroutines at once.
func firstsFrom(b *retry.RatioBudget, g, n int) {
	var start, wg sync.WaitGroup
	start.Add(1)
	for range g {
		wg.Go(func() {
			start.Wait()
			for range n {
				b.First()
			}
		})
	}
	start.Done()
	wg.Wait()
}

// 64 goroutines' first attempts are all counted, exactly, the first use of
// the window included, and leave it a slice at a time, at the slice's
// edge, with the extras granted in that slice.
func TestHostilePerfRatioFirstsExact(t *testing.T) {
	clk := newHPClock()
	b := ratioAtOne(t, clk)
	const G, N = 64, 50
	firstsFrom(b, G, N)
	clk.Add(time.Second - 1) // the last instant of slice 0
	for range N {
		b.First()
	}
	for i := range 3000 {
		if !b.Extra() {
			t.Fatalf("extra %d refused with %d firsts", i, G*N+N)
		}
	}
	clk.Add(1) // slice 1
	for range 2 * N {
		b.First()
	}
	clk.Add(9*time.Second - 1) // the last instant of slice 9: slice 0 still in
	if !b.Extra() {
		t.Fatal("extra refused in slice 9")
	}
	clk.Add(1) // slice 10: slice 0 leaves, its firsts and extras with it
	if got, want := ratioExtras(b), 2*N-1; got != want {
		t.Fatalf("%d extras granted after slice 0 left, want %d", got, want)
	}
}

// A clock that goes back stands still for the budget: the firsts stay in
// the window, and firsts made meanwhile count in the latest slice.
func TestHostilePerfRatioClockBackwards(t *testing.T) {
	clk := newHPClock()
	b := ratioAtOne(t, clk)
	b.First() // the origin
	clk.Add(5 * time.Second)
	for range 10 {
		b.First()
	}
	clk.Add(-time.Hour)
	for range 10 {
		b.First()
	}
	if got := ratioExtras(b); got != 21 {
		t.Fatalf("%d extras with the clock set back, want 21", got)
	}
	clk.Add(time.Hour + 5*time.Second) // 10s: slice 0 (one first) left
	if got := ratioExtras(b); got != 0 {
		t.Fatalf("%d extras, want none (21 granted, 20 firsts left)", got)
	}
	clk.Add(5 * time.Second) // 15s: slice 5 left too
	b.First()
	if got := ratioExtras(b); got != 1 {
		t.Fatalf("%d extras after the window passed, want 1", got)
	}
}

// Extra never grants more than the firsts counted so far allow, while
// firsts are being made, and once they are all made, grants exactly what
// is left.
func TestHostilePerfRatioExtraWithConcurrentFirsts(t *testing.T) {
	clk := newHPClock()
	b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.25, MinPerSecond: retry.None, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	var firsts, granted atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 100 {
				b.First()
				firsts.Add(1)
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 300 {
				if b.Extra() {
					g := granted.Add(1)
					if f := firsts.Load() + 32; float64(g) > 0.25*float64(f) {
						t.Errorf("extra %d granted with at most %d firsts made", g, f)
						return
					}
				}
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	if got := granted.Load() + int64(ratioExtras(b)); got != 800 {
		t.Fatalf("%d extras granted in all, want 800", got)
	}
}

// The zero RatioBudget counts 64 goroutines' firsts exactly on real time.
func TestHostilePerfRatioZeroValue(t *testing.T) {
	var b retry.RatioBudget
	firstsFrom(&b, 64, 100)
	// 0.2·6400 + 10/s·10s, unless the test ran past the window.
	if got := ratioExtras(&b); got != 1380 {
		t.Fatalf("%d extras, want 1380", got)
	}
}

// The time window of a breaker neither deadlocks nor loses a call when
// 32 goroutines cross bucket edges together, in a synctest bubble where
// time stands still while they run.
func TestHostilePerfWindowRecycleInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, retry.BreakerConfig{FailureRatio: 0.99, MinCalls: 1 << 30,
			Window: 10 * time.Millisecond, BucketPeriod: time.Millisecond})
		for round := range 30 {
			var wg sync.WaitGroup
			for range 32 {
				wg.Go(func() {
					for range 20 {
						guardErr(b, nil)
					}
				})
			}
			wg.Wait()
			if s := b.Snapshot(); s.Calls != 640 {
				t.Fatalf("round %d: %d calls in the window, want 640", round, s.Calls)
			}
			time.Sleep(10 * time.Millisecond) // the whole window turns over
		}
	})
}

// Retry and Do with a budget of this package still refuse every invalid
// policy, calling nothing and counting nothing.
func TestHostilePerfBudgetFastPathValidates(t *testing.T) {
	var nilClock *hpClock
	for _, c := range []struct {
		name string
		p    retry.Policy
	}{
		{"typed-nil clock", retry.Policy{Clock: nilClock}},
		{"bad backoff", retry.Policy{Backoff: retry.Exponential{Base: -1}}},
		{"nil *Exponential", retry.Policy{Backoff: (*retry.Exponential)(nil)}},
		{"nil BackoffFunc", retry.Policy{Backoff: retry.BackoffFunc(nil)}},
		{"negative MaxAfter", retry.Policy{MaxAfter: -1}},
		{"negative MaxElapsed", retry.Policy{MaxElapsed: -1}},
		{"negative AttemptTimeout", retry.Policy{AttemptTimeout: -1}},
		{"bad MaxAttempts", retry.Policy{MaxAttempts: -2}},
		{"split unlimited", retry.Policy{SplitDeadline: true, MaxAttempts: retry.Unlimited}},
	} {
		for _, budget := range []string{"token", "ratio"} {
			t.Run(c.name+"/"+budget, func(t *testing.T) {
				rb, _ := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 1, MinPerSecond: retry.None})
				tb, _ := retry.NewTokenBucket(retry.TokenBucketConfig{})
				p := c.p
				if budget == "token" {
					p.Budget = tb
				} else {
					p.Budget = rb
				}
				calls := 0
				err := retry.Do(context.Background(), &p, func(context.Context) error { calls++; return nil })
				_, err2 := retry.Retry(context.Background(), &p, func(context.Context) (int, error) { calls++; return 0, nil })
				if !errors.Is(err, retry.ErrInvalid) || !errors.Is(err2, retry.ErrInvalid) || calls != 0 {
					t.Fatalf("Do: %v, Retry: %v, %d calls", err, err2, calls)
				}
				if got := ratioExtras(rb); budget == "ratio" && got != 0 {
					t.Fatalf("%d firsts counted for refused calls", got)
				}
			})
		}
	}
	for _, budget := range []retry.Budget{(*retry.TokenBucket)(nil), (*retry.RatioBudget)(nil)} {
		p := &retry.Policy{Budget: budget}
		if err := retry.Do(context.Background(), p, okCall); !errors.Is(err, retry.ErrInvalid) {
			t.Fatalf("typed nil %T: %v", budget, err)
		}
	}
}

// First and Result are counted once each on every path of the budgeted
// fast path: success, failure then success, a panic in fn, a context
// done before or during the call, and with MarkAttempts and hooks that
// do not watch the call.
func TestHostilePerfBudgetCountsEveryPath(t *testing.T) {
	ctx := context.Background()
	newRB := func() *retry.RatioBudget {
		rb, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 1, MinPerSecond: retry.None, Clock: newHPClock()})
		if err != nil {
			t.Fatal(err)
		}
		return rb
	}
	for _, marks := range []bool{false, true} {
		rb := newRB()
		retried := 0
		p := &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, Budget: rb, MarkAttempts: marks,
			Hooks: &retry.Hooks{OnRetry: func(context.Context, retry.RetryEvent) { retried++ }}}
		retry.Do(ctx, p, okCall)                     // 1 first
		fn, _ := failing(1, errTransient)            // 1 first, 1 extra
		if err := retry.Do(ctx, p, fn); err != nil { // a failure then success
			t.Fatal(err)
		}
		func() {
			defer func() { recover() }()
			retry.Do(ctx, p, func(context.Context) error { panic("boom") }) // 1 first
		}()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		retry.Do(cctx, p, okCall) // nothing
		cctx, cancel = context.WithCancel(ctx)
		retry.Do(cctx, p, func(context.Context) error { cancel(); return errTransient }) // 1 first
		if retried != 1 {
			t.Fatalf("marks %v: OnRetry called %d times, want 1", marks, retried)
		}
		if got := ratioExtras(rb); got != 3 {
			t.Fatalf("marks %v: %d extras left, want 3 (4 firsts, 1 spent)", marks, got)
		}
	}
	tb, _ := retry.NewTokenBucket(retry.TokenBucketConfig{MaxTokens: 10, TokenRatio: 0.5})
	p := &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, Budget: tb}
	fn, _ := failing(2, errTransient)
	if err := retry.Do(ctx, p, fn); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { recover() }()
		retry.Do(ctx, p, func(context.Context) error { panic("boom") })
	}()
	if got := tb.Tokens(); got != 8.5 {
		t.Fatalf("%v tokens after 2 failures and 1 success, want 8.5", got)
	}
}

// closerVal is a hedged result that records its release.
type closerVal struct{ closed *atomic.Int64 }

func (c closerVal) Close() error { c.closed.Add(1); return nil }

// 100 concurrent hedged calls whose attempts end in every order: every
// success is either returned or discarded, exactly once; late panics reach
// OnDiscard; late Goexits vanish; no goroutine is left.
func TestHostilePerfHedgeLateResults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var made, discarded, panics atomic.Int64
		var returned atomic.Int64
		h := &retry.HedgePolicy{MaxAttempts: 4, Delay: time.Millisecond, OnDiscard: func(v any) {
			switch v.(type) {
			case *retry.PanicError:
				panics.Add(1)
			case int:
				discarded.Add(1)
			default:
				t.Errorf("OnDiscard got %T", v)
			}
		}}
		// wait returns once ctx is done, or after a while.
		wait := func(ctx context.Context) {
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		var calls sync.WaitGroup
		for i := range 100 {
			calls.Go(func() {
				defer func() {
					if r := recover(); r != nil {
						if _, ok := r.(*retry.PanicError); !ok {
							t.Errorf("call %d panicked with %T", i, r)
						}
					}
				}()
				v, err := retry.Hedge(context.Background(), h, func(ctx context.Context) (int, error) {
					a, _ := retry.AttemptFrom(ctx)
					switch (i + a.Number) % 7 {
					case 0:
						time.Sleep(time.Duration(a.Number) * time.Millisecond)
						made.Add(1)
						return 1, nil
					case 1:
						wait(ctx)
						made.Add(1)
						return 1, nil // a loser that succeeds anyway
					case 2:
						wait(ctx)
						panic("late")
					case 3:
						wait(ctx)
						runtime.Goexit()
					case 4:
						time.Sleep(3 * time.Millisecond)
						return 0, errBoom
					}
					made.Add(1)
					return 1, nil
				})
				if err == nil {
					if v != 1 {
						t.Errorf("call %d returned %d", i, v)
					}
					returned.Add(1)
				}
			})
		}
		calls.Wait()
		synctest.Wait() // every attempt has ended
		if m, r, d := made.Load(), returned.Load(), discarded.Load(); r+d != m {
			t.Fatalf("%d values made, %d returned, %d discarded", m, r, d)
		}
	})
}

// HedgeWithRelease keeps the winner's context alive until released, late,
// however the losers end; the release of a call after them cancels it.
func TestHostilePerfHedgeReleaseLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var closed atomic.Int64
		h := &retry.HedgePolicy{MaxAttempts: 3, Delay: time.Millisecond}
		var winnerCtx context.Context
		var mu sync.Mutex
		v, release, err := retry.HedgeWithRelease(context.Background(), h, func(ctx context.Context) (closerVal, error) {
			a, _ := retry.AttemptFrom(ctx)
			if a.Number == 2 {
				mu.Lock()
				winnerCtx = ctx
				mu.Unlock()
				return closerVal{&closed}, nil
			}
			<-ctx.Done()
			return closerVal{&closed}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if closed.Load() != 1 {
			t.Fatalf("%d losers closed, want 1", closed.Load())
		}
		mu.Lock()
		wctx := winnerCtx
		mu.Unlock()
		if wctx.Err() != nil {
			t.Fatal("the winner's context ended before release")
		}
		time.Sleep(time.Hour)
		release()
		if wctx.Err() == nil {
			t.Fatal("the winner's context lives on after release")
		}
		release()
		v.Close()
	})
}

// A time window that falls below MinCalls as its calls age out, with no
// call checking it meanwhile, is short again: the success that fills it
// back to MinCalls checks the rules, as one that fills a new window does.
func TestHostilePerfWindowShortAgainAfterAging(t *testing.T) {
	clk := newHPClock()
	b := newBreaker(t, retry.BreakerConfig{FailureRatio: 0.5, MinCalls: 10, Window: 10 * time.Second,
		BucketPeriod: time.Second, Clock: clk})
	for range 19 {
		guardErr(b, nil)
	}
	guardErr(b, errBoom) // checks: 20 calls, 1 failure; the window is full
	clk.Add(5 * time.Second)
	for range 5 {
		guardErr(b, errBoom) // checks: 25 calls, 6 failures
	}
	clk.Add(5 * time.Second) // the first 20 calls leave: 5 failures, no check
	for range 5 {
		guardErr(b, nil) // the fifth makes 10 calls, 5 failures: 50%
	}
	if s := b.Snapshot(); s.State != retry.BreakerOpen {
		t.Fatalf("%v with %d failures in %d calls (ratio 0.5, MinCalls 10)", s.State, s.Failures, s.Calls)
	}
}

// Calls that age out of a time window can raise its failure ratio past
// the rule without it falling short: the first call of the later period,
// a success, checks and trips.
func TestHostilePerfWindowRatioRisesAsSuccessesAge(t *testing.T) {
	clk := newHPClock()
	b := newBreaker(t, retry.BreakerConfig{FailureRatio: 0.5, MinCalls: 10, Window: 10 * time.Second,
		BucketPeriod: time.Second, Clock: clk})
	for range 20 {
		guardErr(b, nil)
	}
	clk.Add(5 * time.Second)
	for range 10 {
		guardErr(b, errBoom) // 10 failures in 30 calls
	}
	clk.Add(5 * time.Second) // the 20 successes leave
	guardErr(b, nil)         // 10 failures in 11 calls
	if s := b.Snapshot(); s.State != retry.BreakerOpen {
		t.Fatalf("%v with %d failures in %d calls (ratio 0.5)", s.State, s.Failures, s.Calls)
	}
}

// In a count window a call replaces the oldest, so one no longer than
// MaxAverageDuration can still raise the average past it, by replacing a
// shorter call: it checks the rule and trips.
func TestHostilePerfCountWindowAverageRisesByReplacement(t *testing.T) {
	clk := newHPClock()
	b := newBreaker(t, retry.BreakerConfig{MaxAverageDuration: 100 * time.Millisecond, WindowCalls: 10,
		MinCalls: 10, Clock: clk})
	took := func(d time.Duration) {
		retry.Guard(context.Background(), b, func(context.Context) (int, error) { clk.Add(d); return 0, nil })
	}
	took(0)
	for range 9 {
		took(110 * time.Millisecond) // the tenth call: 990ms in 10 calls
	}
	if s := b.Snapshot(); s.State != retry.BreakerClosed {
		t.Fatalf("%v at an average of %v", s.State, s.AverageDuration)
	}
	took(100 * time.Millisecond) // replaces the 0ms call: 1090ms in 10 calls
	if s := b.Snapshot(); s.State != retry.BreakerOpen {
		t.Fatalf("%v at an average of %v over 10 calls (MaxAverageDuration 100ms)", s.State, s.AverageDuration)
	}
}
