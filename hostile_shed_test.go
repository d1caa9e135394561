package retry_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// Hostile tests of load shedding (issue 14): the cases a demanding user
// tries first.

// TestHostileShedHugeLimits: a limit as large as an int holds (it is how
// a user says "no limit yet"); it must not fall to MinLimit when a
// window's float limit is turned back into an int.
func TestHostileShedHugeLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: math.MaxInt, MaxLimit: math.MaxInt, Window: time.Millisecond}))
		for range 3 {
			wave(l, context.Background(), 10, 10*time.Millisecond, nil)
		}
		if got := l.Limit(); got < math.MaxInt/2 {
			t.Errorf("limit %d after windows far below it, want it still huge", got)
		}
		pinned := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: math.MaxInt, MinLimit: math.MaxInt, MaxLimit: math.MaxInt, Window: time.Millisecond}))
		for range 3 {
			wave(pinned, context.Background(), 10, 10*time.Millisecond, nil)
		}
		if got := pinned.Limit(); got != math.MaxInt {
			t.Errorf("pinned limit %d, want MaxInt", got)
		}
	})
}

// TestHostileShedHugeDurations: durations as long as a Duration can be
// are valid and harmless: no panic, refusals suggest a huge wait (not a
// negative or tiny one), and a queued call still gets a freed slot.
func TestHostileShedHugeDurations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const huge = time.Duration(math.MaxInt64)
		b := mustNew(retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1, MaxWaiters: 1, MaxWait: huge, RetryAfter: huge}))
		l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 1, MaxLimit: 1, MaxWaiters: 1, MaxWait: huge, RetryAfter: huge, Window: huge, ProbeInterval: huge}))
		for name, a := range map[string]retry.Admitter{"bulkhead": b, "limiter": l} {
			held, err := a.Acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan error, 1)
			go func() {
				p, err := a.Acquire(context.Background())
				p.Done(nil)
				got <- err
			}()
			synctest.Wait()
			_, err = a.Acquire(context.Background()) // the queue is full
			var se *retry.ShedError
			if !errors.As(err, &se) || se.Wait != huge {
				t.Errorf("%s: refusal %v, want a *ShedError asking for %v", name, err, huge)
			}
			if d, ok := retry.RequestedDelay(err); !ok || d != huge {
				t.Errorf("%s: RequestedDelay %v %v, want %v", name, d, ok, huge)
			}
			held.Done(nil)
			if err := <-got; err != nil {
				t.Errorf("%s: queued call: %v", name, err)
			}
		}
	})
}

// TestHostileShedDoneTwice: Done on the same Permit twice frees one slot,
// and the zero Permit's Done does nothing.
func TestHostileShedDoneTwice(t *testing.T) {
	for name, a := range admitters(t, 1, 0, 0) {
		p, err := a.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		p.Done(nil)
		p.Done(nil)
		var zero retry.Permit
		zero.Done(errors.New("x"))
		q, err := a.Acquire(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := a.Acquire(context.Background()); !errors.Is(err, retry.ErrLimitReached) {
			t.Errorf("%s: a second call with the limit 1 taken: %v, want ErrLimitReached (a double Done freed two slots)", name, err)
		}
		q.Done(nil)
	}
	var l retry.Limiter
	if l.InFlight() != 0 {
		t.Errorf("zero Limiter: %d in flight", l.InFlight())
	}
}

// TestHostileShedWaitExpiresAsSlotFrees: the slot frees at the very
// instant the queued call's MaxWait ends. Either outcome is fine; a slot
// lost or doubled is not.
func TestHostileShedWaitExpiresAsSlotFrees(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for round := range 20 {
			for name, a := range admitters(t, 1, 2, 10*time.Millisecond) {
				held, err := a.Acquire(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				var admitted atomic.Int64
				var wg sync.WaitGroup
				for range 2 {
					wg.Go(func() {
						if _, err := retry.Admit(context.Background(), a, func(context.Context) (int, error) {
							admitted.Add(1)
							return 0, nil
						}); err != nil && !errors.Is(err, retry.ErrWaitTimeout) {
							t.Errorf("%s: %v", name, err)
						}
					})
				}
				if round%2 == 0 {
					synctest.Wait()
				}
				time.Sleep(10 * time.Millisecond)
				held.Done(nil)
				wg.Wait()
				// Every slot is back: exactly one call fits.
				p, err := a.Acquire(context.Background())
				if err != nil {
					t.Fatalf("%s round %d: after the race: %v", name, round, err)
				}
				if _, err := a.Acquire(context.Background()); err == nil {
					t.Fatalf("%s round %d: two calls in flight with a limit of 1", name, round)
				}
				p.Done(nil)
				if l, ok := a.(*retry.Limiter); ok && l.InFlight() != 0 {
					t.Errorf("round %d: %d in flight", round, l.InFlight())
				}
			}
		}
	})
}

// TestHostileShedWaiterStorm: 300 goroutines queue with a short MaxWait
// while a third of them are cancelled at random moments, in real time
// under -race: the limit is never passed, no slot is lost, every call
// ends with a result, a refusal or its context's error, and nothing is
// left behind (goleak in TestMain).
func TestHostileShedWaiterStorm(t *testing.T) {
	for name, a := range admitters(t, 4, 64, time.Millisecond) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			var inflight, most atomic.Int64
			for i := range 300 {
				wg.Go(func() {
					ctx, cancel := context.WithCancelCause(context.Background())
					defer cancel(nil)
					if i%3 == 0 {
						go cancel(errors.New("caller left"))
					}
					_, err := retry.Admit(ctx, a, func(ctx context.Context) (int, error) {
						n := inflight.Add(1)
						for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
						}
						time.Sleep(50 * time.Microsecond)
						inflight.Add(-1)
						return 0, nil
					})
					if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, retry.ErrWaitTimeout) && !errors.Is(err, retry.ErrLimitReached) {
						t.Errorf("unexpected error %v", err)
					}
				})
			}
			wg.Wait()
			if most.Load() > 4 {
				t.Errorf("%d calls in flight at once, limit 4", most.Load())
			}
			var ps []retry.Permit
			for range 4 {
				p, err := a.Acquire(context.Background())
				if err != nil {
					t.Fatalf("a slot was lost: %v", err)
				}
				ps = append(ps, p)
			}
			for i := range ps {
				ps[i].Done(nil)
			}
		})
	}
}

// TestHostileShedLimiterRefusalInRetryCostsBudgetNothing: a Limiter's
// refusals (queue timeouts here) inside Retry with a Budget are not
// failures for the budget; the failure that follows is.
func TestHostileShedLimiterRefusalInRetryCostsBudgetNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 1, MaxLimit: 1, MaxWaiters: 1, MaxWait: 5 * time.Millisecond, RetryAfter: time.Millisecond}))
		held, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		b := &countingBudget{}
		p := &retry.Policy{MaxAttempts: 4, Budget: b, Backoff: retry.Constant{}}
		calls := 0
		_, err = retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) {
			return retry.Admit(ctx, l, func(context.Context) (int, error) {
				calls++
				return 0, errTransient
			})
		})
		if !errors.Is(err, retry.ErrWaitTimeout) || calls != 0 {
			t.Fatalf("Retry = %v after %d calls, want ErrWaitTimeout and none", err, calls)
		}
		if b.ko != 0 {
			t.Errorf("budget saw %d failures for refusals, want 0", b.ko)
		}
		held.Done(nil)
		_, _ = retry.Retry(context.Background(), &retry.Policy{MaxAttempts: 1, Budget: b}, func(ctx context.Context) (int, error) {
			return retry.Admit(ctx, l, func(context.Context) (int, error) { return 0, errTransient })
		})
		if b.ko != 1 {
			t.Errorf("a real failure counted %d times, want once", b.ko)
		}
	})
}

// TestHostileShedFastErrorsDoNotPoisonNoLoad: a dependency that fails
// fast for a while (connection refused in microseconds) and then comes
// back as it was must not leave the limiter believing its no-load
// latency is the errors' and refusing calls until the next probe.
func TestHostileShedFastErrorsDoNotPoisonNoLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 20, Window: time.Millisecond, MaxWaiters: 1000}))
		for range 5 {
			wave(l, context.Background(), 20, 20*time.Millisecond, nil)
		}
		before := l.Limit()
		for range 5 { // the dependency flaps: fast errors
			wave(l, context.Background(), 20, 50*time.Microsecond, errTransient)
		}
		start := time.Now()
		for time.Since(start) < 2*time.Second { // back as it was, and busy
			wave(l, context.Background(), max(20, l.Limit()), 20*time.Millisecond, nil)
		}
		if got := l.Limit(); got < before/2 {
			t.Errorf("limit %d two seconds after the dependency came back (it was %d before it flapped): fast errors taught a no-load latency the dependency never had", got, before)
		}
	})
}

// TestHostileShedPanickingDropFreesSlot: a Drop that panics lets the
// panic through but frees the call's slot, as a breaker's panicking
// Classify frees its probe; a leaked slot per panic would leave the
// limiter refusing everything.
func TestHostileShedPanickingDropFreesSlot(t *testing.T) {
	l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 1, MaxLimit: 1, Drop: func(error) bool { panic("bad Drop") }}))
	func() {
		defer func() {
			if r := recover(); r != "bad Drop" {
				t.Errorf("recovered %v, want the Drop's panic", r)
			}
		}()
		retry.Admit(context.Background(), l, func(context.Context) (int, error) { return 0, errTransient })
	}()
	if l.InFlight() != 0 {
		t.Errorf("%d in flight after the call", l.InFlight())
	}
	if _, err := retry.Admit(context.Background(), l, func(context.Context) (int, error) { return 0, nil }); err != nil {
		t.Errorf("next call: %v, want it let through", err)
	}
}

// TestHostileShedBadLimiterConfigs: every bad setting is ErrInvalid from
// Validate and NewLimiter, never a panic nor a limiter that breaks its
// own bounds: an InitialLimit above the default MaxLimit (1000) is as
// bad as a MinLimit above it.
func TestHostileShedBadLimiterConfigs(t *testing.T) {
	for name, cfg := range map[string]retry.LimiterConfig{
		"Initial>default Max": {InitialLimit: 5000},
		"Tolerance NaN":       {Tolerance: math.NaN()},
		"Tolerance +Inf":      {Tolerance: math.Inf(1)},
		"Tolerance -1":        {Tolerance: -1},
		"Backoff NaN":         {Backoff: math.NaN()},
		"Backoff -0.5":        {Backoff: -0.5},
		"negative Initial":    {InitialLimit: -1},
		"negative Min":        {MinLimit: -1},
		"negative Max":        {MaxLimit: -1},
		"negative Window":     {Window: -1},
		"negative Probe":      {ProbeInterval: -1},
		"negative RetryAfter": {RetryAfter: -1},
		"Min>Max huge":        {MinLimit: math.MaxInt, MaxLimit: math.MaxInt - 1},
	} {
		if err := cfg.Validate(); !errors.Is(err, retry.ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
		if l, err := retry.NewLimiter(cfg); l != nil || !errors.Is(err, retry.ErrInvalid) {
			t.Errorf("%s: NewLimiter = %p, %v, want ErrInvalid", name, l, err)
		}
	}
}

// TestHostileShedLimitMovesUnderStorm: the limit shrinks (drops) and
// grows (fast successes) every millisecond while 300 goroutines queue,
// time out and are cancelled, under -race: at the end nothing is in
// flight, nothing waits, and exactly Limit() calls fit.
func TestHostileShedLimitMovesUnderStorm(t *testing.T) {
	l := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 8, MaxLimit: 16, Window: time.Millisecond, MaxWaiters: 32, MaxWait: 2 * time.Millisecond}))
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if i%5 == 0 {
				go cancel()
			}
			retry.Admit(ctx, l, func(ctx context.Context) (int, error) {
				time.Sleep(time.Duration(i%4) * 100 * time.Microsecond)
				switch i % 7 {
				case 0:
					return 0, context.DeadlineExceeded
				case 1:
					return 0, errTransient
				}
				return 0, nil
			})
		})
	}
	wg.Wait()
	if l.InFlight() != 0 {
		t.Fatalf("%d in flight after every call ended", l.InFlight())
	}
	n := l.Limit()
	var ps []retry.Permit
	for range n {
		p, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatalf("limit %d, but call %d was refused: %v", n, len(ps)+1, err)
		}
		ps = append(ps, p)
	}
	if _, err := l.Acquire(context.Background()); !errors.Is(err, retry.ErrWaitTimeout) {
		t.Errorf("call %d with a limit of %d: %v, want ErrWaitTimeout", n+1, n, err)
	}
	for i := range ps {
		ps[i].Done(context.Canceled)
	}
}

// TestHostileShedQueuedAttemptTimeoutCostsBudgetNothing: attempts of a
// Retry whose AttemptTimeout runs out while they wait in a Limiter's
// queue sent nothing: the budget counts no failure for them (it counted
// one per attempt), and the error still matches the attempt's timeout.
func TestHostileShedQueuedAttemptTimeoutCostsBudgetNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for name, a := range admitters(t, 1, 4, 0) {
			held, err := a.Acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			b := &countingBudget{}
			p := &retry.Policy{MaxAttempts: 3, Budget: b, AttemptTimeout: 10 * time.Millisecond, Backoff: retry.Constant{}}
			_, err = retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) {
				return retry.Admit(ctx, a, func(context.Context) (int, error) { return 0, nil })
			})
			if !errors.Is(err, retry.ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: Retry = %v, want the attempt's timeout", name, err)
			}
			if b.ko != 0 {
				t.Errorf("%s: budget counted %d failures for attempts that waited in the queue, want 0", name, b.ko)
			}
			held.Done(nil)
		}
	})
}

// TestHostileShedInnerQueueTimeoutIsNoSample: calls whose deadline came
// while they waited in an inner admitter's queue never reached the
// dependency: for the outer Limiter they are no sample, not drops.
func TestHostileShedInnerQueueTimeoutIsNoSample(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outer := mustNew(retry.NewLimiter(retry.LimiterConfig{InitialLimit: 30, Window: time.Millisecond}))
		inner := mustNew(retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1, MaxWaiters: 100}))
		wave(outer, context.Background(), 10, 10*time.Millisecond, nil)
		held, err := inner.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
				defer cancel()
				_, err := retry.Admit(ctx, outer, func(ctx context.Context) (int, error) {
					return retry.Admit(ctx, inner, func(context.Context) (int, error) { return 0, nil })
				})
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("queued call: %v, want its deadline", err)
				}
			})
		}
		wg.Wait()
		held.Done(nil)
		wave(outer, context.Background(), 10, 10*time.Millisecond, nil) // ends the window
		if got := outer.Limit(); got != 30 {
			t.Errorf("outer limit %d, want 30: waits in the inner queue are no drops", got)
		}
	})
}
