package retry_test

// Regression tests named after the defects of the seed article's
// retryHedged (docs/sample-defects.md lists them), one per defect.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// Seed defect: every goroutine wrote the shared resp and err, a data race
// in which a loser could overwrite the winner. Attempts here only send
// their own result; run with -race. Three attempts finish at the same
// instant, many times: the value returned is always the one whose context
// was not cancelled as a loser.
func TestSeedRacySharedResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for range 200 {
			var mu sync.Mutex
			ctxs := map[string]context.Context{}
			fn := func(ctx context.Context) (string, error) {
				a, _ := retry.AttemptFrom(ctx)
				v := fmt.Sprint("attempt ", a.Number)
				mu.Lock()
				ctxs[v] = ctx
				mu.Unlock()
				time.Sleep(time.Duration(4-a.Number) * ms)
				return v, nil
			}
			v, release, err := retry.HedgeWithRelease(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: ms, OnDiscard: func(any) {}}, fn)
			if err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			mu.Lock()
			for name, ctx := range ctxs {
				if lost := context.Cause(ctx) == retry.ErrHedgeLost; lost == (name == v) {
					t.Fatalf("returned %q, but %q lost: %v", v, name, lost)
				}
			}
			mu.Unlock()
			release()
		}
	})
}

// Seed defect: an unbuffered result channel read once, so every later
// success blocked its goroutine forever and leaked its response body. Here
// no goroutine outlives its attempt (the synctest bubble fails the test if
// one does, and goleak checks the whole run) and every discarded body is
// closed.
func TestSeedUnbufferedChannelLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var closed atomic.Int32
		fn := func(ctx context.Context) (closer, error) {
			time.Sleep(10 * ms) // every attempt succeeds, ignoring its cancellation
			return closer{"body", &closed}, nil
		}
		for range 10 {
			if _, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 5, Delay: ms}, fn); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(10 * ms)
		synctest.Wait()
		if n := closed.Load(); n != 10*4 {
			t.Errorf("%d bodies closed, want 40 (4 losers × 10 calls)", n)
		}
	})
}

// Seed defect: all "hedges" started at once, which is fan-out, not
// hedging. Here attempt k+1 starts a full delay after attempt k.
func TestSeedAllHedgesStartedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(step{after: time.Hour}, step{after: time.Hour}, step{after: time.Hour}, step{after: ms, val: "4"})
		if _, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 4, Delay: 5 * ms}, s.fn); err != nil {
			t.Fatal(err)
		}
		if got := s.Starts(); !slices.Equal(got, []time.Duration{0, 5 * ms, 10 * ms, 15 * ms}) {
			t.Errorf("attempts started at %v, want [0 5ms 10ms 15ms]", got)
		}
	})
}

// Seed defect: losers were never cancelled; they shared the caller's
// context and ran to the end. Here they are cancelled, with ErrHedgeLost,
// the moment a winner is known, and the caller's context is untouched.
func TestSeedLosersNeverCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := newScript(step{after: time.Hour}, step{after: time.Hour}, step{after: ms, val: "3"})
		start := time.Now()
		if _, err := retry.Hedge(ctx, &retry.HedgePolicy{MaxAttempts: 3, Delay: ms}, s.fn); err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= 2; n++ {
			if c := s.Ctx(n); context.Cause(c) != retry.ErrHedgeLost {
				t.Errorf("attempt %d: cause %v, want ErrHedgeLost", n, context.Cause(c))
			}
		}
		synctest.Wait() // the losers return as soon as they see it
		if time.Since(start) != 3*ms {
			t.Errorf("losers ran until %v", time.Since(start))
		}
	})
}

// Seed defect: when every attempt failed, the errors were thrown away
// ("all req finish, but all fail"). Here the *Error joins all of them.
func TestSeedErrorsThrownAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e1, e2 := errors.New("connection reset"), errors.New("503 Service Unavailable")
		s := newScript(step{after: 5 * ms, err: e1}, step{after: ms, err: e2})
		_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{Delay: 3 * ms}, s.fn)
		if !errors.Is(err, e1) || !errors.Is(err, e2) || !errors.Is(err, retry.ErrExhausted) {
			t.Fatalf("err = %v, want both attempts' errors and ErrExhausted", err)
		}
		t.Log(err)
	})
}
