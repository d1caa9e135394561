package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// A randomized model test of Retry, with Hedge and Guard inside it at
// random: random policies, budgets and breakers, random scripted outcomes
// per attempt (success, failure, Permanent, After pushback, StopHedging,
// hang until cancelled), random cancellations with a cause. Seeds are
// fixed; MODEL_SEEDS=a-b sweeps more.

type m4Value struct {
	n      int
	closed atomic.Int32
}

func (v *m4Value) Close() error { v.closed.Add(1); return nil }

type m4Budget struct {
	mu                    sync.Mutex
	first, extra, ok, bad int
	refuseAfter           int // Extra refuses once it was asked this many times; -1 never
}

func (b *m4Budget) First() { b.mu.Lock(); b.first++; b.mu.Unlock() }
func (b *m4Budget) Extra() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.extra++
	return b.refuseAfter < 0 || b.extra <= b.refuseAfter
}
func (b *m4Budget) Result(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.ok++
	} else {
		b.bad++
	}
}

const (
	oOK = iota
	oFail
	oPermanent
	oAfter0
	oAfterLong
	oStopHedging
	oHang
	oSlowOK
	numOutcomes
)

var errM4 = errors.New("model attempt failed")

func TestCoreModel(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if s := os.Getenv("MODEL_SEEDS"); s != "" {
		var from, to uint64
		fmt.Sscanf(s, "%d-%d", &from, &to)
		seeds = nil
		for n := from; n <= to; n++ {
			seeds = append(seeds, n)
		}
	}
	only := -1
	if s := os.Getenv("MODEL_CASE"); s != "" {
		only, _ = strconv.Atoi(s)
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			var wg sync.WaitGroup
			for k := range 200 {
				if only >= 0 && k != only {
					continue
				}
				wg.Go(func() { modelCoreCase(t, seed, k) })
			}
			wg.Wait()
		})
	}
}

func modelCoreCase(t *testing.T, seed uint64, k int) {
	rng := rand.New(rand.NewPCG(seed, uint64(k)))
	desc := fmt.Sprintf("s%d-c%d:", seed, k)
	attempts := 1 + rng.IntN(5)
	p := &retry.Policy{MaxAttempts: attempts, Backoff: retry.Constant{Interval: time.Duration(rng.IntN(2)) * time.Millisecond},
		MaxAfter: 20 * time.Millisecond, WaitForProbe: rng.IntN(2) == 0, MarkAttempts: rng.IntN(2) == 0}
	if rng.IntN(3) == 0 {
		p.AttemptTimeout = time.Duration(5+rng.IntN(20)) * time.Millisecond
	}
	p.SplitDeadline = rng.IntN(3) == 0
	budget := &m4Budget{refuseAfter: -1}
	useBudget := rng.IntN(2) == 0
	if useBudget {
		if rng.IntN(2) == 0 {
			budget.refuseAfter = rng.IntN(3)
		}
	}
	var h *retry.HedgePolicy
	if rng.IntN(2) == 0 {
		h = &retry.HedgePolicy{MaxAttempts: 2 + rng.IntN(2), Delay: time.Duration(1+rng.IntN(5)) * time.Millisecond}
		if rng.IntN(2) == 0 {
			h.MaxAfter = 20 * time.Millisecond
		}
	}
	if useBudget {
		if h != nil && rng.IntN(2) == 0 {
			h.Budget = budget
		} else {
			p.Budget = budget
		}
	}
	var br *retry.Breaker
	if rng.IntN(3) == 0 {
		br, _ = retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1 + rng.IntN(2), OpenDuration: time.Duration(2+rng.IntN(10)) * time.Millisecond})
	}
	var retries atomic.Int32
	p.Hooks = &retry.Hooks{OnRetry: func(context.Context, retry.RetryEvent) { retries.Add(1) }}
	script := make([]int, 1+rng.IntN(10))
	for i := range script {
		script[i] = rng.IntN(numOutcomes)
	}
	desc += fmt.Sprintf(" attempts=%d wait4probe=%v mark=%v timeout=%v split=%v budget=%v(refuse>%d,inHedge=%v) hedge=%+v breaker=%v script=%v",
		attempts, p.WaitForProbe, p.MarkAttempts, p.AttemptTimeout, p.SplitDeadline, useBudget, budget.refuseAfter, h != nil && h.Budget != nil, h, br != nil, script)

	cause := errors.New("model caller cause")
	parent, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	ctx, stop := context.WithTimeout(parent, time.Duration(50+rng.IntN(150))*time.Millisecond)
	defer stop()
	cancelMode := rng.IntN(3)
	if cancelMode == 1 {
		tm := time.AfterFunc(time.Duration(rng.IntN(40))*time.Millisecond, func() { cancel(cause) })
		defer tm.Stop()
	}
	desc += fmt.Sprintf(" cancel=%d", cancelMode)

	var mu sync.Mutex
	var calls int
	var values []*m4Value
	var running atomic.Int32
	fn := func(ctx context.Context) (*m4Value, error) {
		running.Add(1)
		defer running.Add(-1)
		mu.Lock()
		i := calls
		calls++
		mu.Unlock()
		o := oOK
		if i < len(script) {
			o = script[i]
		}
		switch o {
		case oOK:
		case oSlowOK:
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(3 * time.Millisecond):
			}
		case oFail:
			return nil, errM4
		case oPermanent:
			return nil, retry.Permanent(errM4)
		case oAfter0:
			return nil, retry.After(errM4, 0)
		case oAfterLong:
			return nil, retry.After(errM4, time.Hour)
		case oStopHedging:
			return nil, retry.StopHedging(errM4)
		case oHang:
			<-ctx.Done()
			return nil, context.Cause(ctx)
		}
		v := &m4Value{n: i}
		mu.Lock()
		values = append(values, v)
		mu.Unlock()
		return v, nil
	}
	attempt := fn
	if br != nil {
		inner := attempt
		attempt = func(ctx context.Context) (*m4Value, error) { return retry.Guard(ctx, br, inner) }
	}
	round := attempt
	if h != nil {
		round = func(ctx context.Context) (*m4Value, error) { return retry.Hedge(ctx, h, attempt) }
	}
	v, err := retry.Retry(ctx, p, round)
	ctxErr := ctx.Err()

	// Exactly one of a value and an error.
	if (v == nil) == (err == nil) {
		t.Errorf("%s\n  value %v, error %v", desc, v, err)
	}
	// Every attempt ends; every value not returned is closed, once (Hedge
	// closes losers: io.Closer), and the one returned is not.
	if !modelPoll(2*time.Second, func() bool { return running.Load() == 0 }) {
		t.Errorf("%s\n  attempts still running after the call", desc)
	}
	want := func(x *m4Value) int32 {
		if x == v || h == nil {
			return 0 // returned; or Retry alone, which a success ends
		}
		return 1
	}
	// A loser is closed on its own goroutine just after fn returns: poll.
	modelPoll(2*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, x := range values {
			if x.closed.Load() != want(x) {
				return false
			}
		}
		return true
	})
	mu.Lock()
	for _, x := range values {
		want := want(x)
		if got := x.closed.Load(); got != want {
			t.Errorf("%s\n  value of attempt %d closed %d times, want %d (returned: %v)", desc, x.n, got, want, x == v)
		}
	}
	n := calls
	mu.Unlock()
	maxCalls := attempts
	if h != nil {
		maxCalls *= h.MaxAttempts
	}
	if n > maxCalls {
		t.Errorf("%s\n  %d calls of fn, more than %d", desc, n, maxCalls)
	}
	if err != nil {
		var e *retry.Error
		if !errors.As(err, &e) {
			if !errors.Is(err, retry.ErrInvalid) {
				t.Errorf("%s\n  error %T %v is not a *retry.Error", desc, err, err)
			}
		} else {
			if e.Reason == nil {
				t.Errorf("%s\n  nil Reason", desc)
			}
			// 0 only when the caller's context was done before any call.
			if e.Attempts < 1 && n > 0 || e.Attempts > attempts {
				t.Errorf("%s\n  Attempts %d with MaxAttempts %d", desc, e.Attempts, attempts)
			}
		}
		if errors.Is(err, context.Canceled) && !errors.Is(err, cause) {
			t.Errorf("%s\n  error matches context.Canceled but not the cause: %v", desc, err)
		}
		if ctxErr == nil && errors.Is(err, context.Canceled) {
			t.Errorf("%s\n  error matches context.Canceled with a live context: %v", desc, err)
		}
	}
	if h == nil && br == nil {
		// Retry alone: one OnRetry per retry.
		// (n when the wait after the last call was cut short)
		if r := int(retries.Load()); r != n-1 && !(r == n && ctxErr != nil) {
			t.Errorf("%s\n  %d OnRetry for %d calls", desc, retries.Load(), n)
		}
	}
	if useBudget && p.Budget != nil && h == nil && br == nil && n > 0 { // n == 0: cancelled before the call
		budget.mu.Lock()
		b := struct{ first, extra, ok, bad, refuseAfter int }{budget.first, budget.extra, budget.ok, budget.bad, budget.refuseAfter}
		budget.mu.Unlock()
		if b.first != 1 || b.extra > n || b.ok > 1 || (err == nil) != (b.ok == 1) {
			t.Errorf("%s\n  budget: first %d extra %d ok %d bad %d for %d calls, err %v", desc, b.first, b.extra, b.ok, b.bad, n, err)
		}
		if b.refuseAfter < 0 && b.extra != n-1 && !(b.extra == n && ctxErr != nil) {
			t.Errorf("%s\n  budget: %d Extra for %d calls", desc, b.extra, n)
		}
	}
	if br != nil {
		if !modelPoll(time.Second, func() bool { return br.Snapshot().Probes == 0 }) {
			t.Errorf("%s\n  breaker holds %d probe slots after the call", desc, br.Snapshot().Probes)
		}
	}
}

func modelPoll(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return cond()
}
