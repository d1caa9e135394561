package httpx_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// TestModelSharedState extends TestModel: a breaker shared by all the concurrent
// cases of a seed (HalfOpenProbes up to 3, a Classify, WaitForProbe),
// Config.Budget returning another budget (or nil) on every call, a
// RatioBudget on the real clock shared by cases, Budgets that panic in
// First, Extra or Result, and a panicking Retryable on hedged calls
// before the decision. After each seed, the shared breaker holds no probe.

type sharedState struct {
	br     *retry.Breaker
	ratio  *retry.RatioBudget
	bucket *retry.TokenBucket
	probes int
}

type sharedPanicBudget struct {
	where int // 0 First, 1 Extra, 2 Result(false)
	inner retry.Budget
	fired atomic.Bool
}

func (b *sharedPanicBudget) First() {
	if b.where == 0 && !b.fired.Swap(true) {
		panic("shared Budget.First panics")
	}
	b.inner.First()
}

func (b *sharedPanicBudget) Extra() bool {
	if b.where == 1 && !b.fired.Swap(true) {
		panic("shared Budget.Extra panics")
	}
	return b.inner.Extra()
}

func (b *sharedPanicBudget) Result(ok bool) {
	if b.where == 2 && !ok && !b.fired.Swap(true) {
		panic("shared Budget.Result panics")
	}
	b.inner.Result(ok)
}

var sharedSeeds = []uint64{1, 2, 3, 4, 5, 6}

func TestModelSharedState(t *testing.T) {
	seeds, only := modelSeedsFromEnv(sharedSeeds)
	protocols(t, func(t *testing.T, h2 bool) {
		run := newModelRun(t, h2)
		for _, seed := range seeds {
			t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 0xadf6))
				sh := &sharedState{probes: 1 + rng.IntN(3), bucket: &retry.TokenBucket{}}
				bc := retry.BreakerConfig{ConsecutiveFailures: 1 + rng.IntN(3),
					OpenDuration: time.Duration(5+rng.IntN(20)) * time.Millisecond, HalfOpenProbes: sh.probes}
				if rng.IntN(2) == 0 {
					bc.Classify = func(err error) retry.BreakerOutcome {
						if err != nil && strings.Contains(err.Error(), "500") {
							return retry.BreakerIgnored
						}
						if err == nil {
							return retry.BreakerSuccess
						}
						return retry.BreakerFailure
					}
				}
				var err error
				if sh.br, err = retry.NewBreaker(bc); err != nil {
					t.Fatal(err)
				}
				sh.ratio, _ = retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.3, MinPerSecond: 5})
				run.cases(t, seed, only, sh)
				// No probe leaked: once the calls ended, a half-open breaker
				// has none in flight, and an open one lets a probe through
				// once its time is up.
				snap := sh.br.Snapshot()
				if snap.State == retry.BreakerHalfOpen && snap.Probes != 0 {
					t.Errorf("seed %d: after every call ended the shared breaker is half-open with %d probes in flight: %+v", seed, snap.Probes, snap)
				}
				time.Sleep(bc.OpenDuration + 5*time.Millisecond)
				done, err := sh.br.Allow()
				if err != nil {
					t.Errorf("seed %d: after every call ended and OpenDuration passed, the shared breaker refuses: %v (%+v)", seed, err, sh.br.Snapshot())
				} else {
					done(nil)
				}
			})
		}
	})
}

func retryableAttempt(resp *http.Response) any {
	if resp == nil || resp.Request == nil {
		return nil
	}
	a, _ := retry.AttemptFrom(resp.Request.Context())
	return fmt.Sprintf("%+v status %d", a, resp.StatusCode)
}

// sharedFar reports whether ctx is live with its deadline well ahead: a
// hedged callback may then panic before its call is decided.
func sharedFar(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ctx.Err() == nil && (!ok || time.Until(d) > 80*time.Millisecond)
}
