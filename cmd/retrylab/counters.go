package main

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// tally counts what one client did, from the hooks of httpx and from
// wrappers around what the lab hands it (the base transport, the budgets).
// All counting is here, in one place. It is safe for concurrent use.
type tally struct {
	sent     atomic.Int64 // requests the base transport was asked to send
	retries  atomic.Int64 // attempts after the first that were not hedges
	hedges   atomic.Int64 // hedged copies
	rejected atomic.Int64 // calls that a breaker failed fast
	refused  atomic.Int64 // extra attempts a budget refused

	// unreported counts attempts sent whose OnAttempt has not run yet: a
	// hedged copy that lost reports from its own goroutine, possibly after
	// its call returned (see settle).
	unreported atomic.Int64
	reports    bool // OnAttempt is set: the client is an httpx one
}

// onAttempt is httpx.Config.OnAttempt: it runs once per attempt sent.
func (t *tally) onAttempt(_ context.Context, e httpx.AttemptEvent) {
	t.unreported.Add(-1)
	switch {
	case e.Hedge:
		t.hedges.Add(1)
	case e.Attempt > 1:
		t.retries.Add(1)
	}
}

// onCallError counts how a failed call ended. A breaker's rejection sends
// nothing, so httpx reports no attempt for it: the call's error tells.
func (t *tally) onCallError(err error) {
	if _, ok := errors.AsType[*retry.BreakerError](err); ok {
		t.rejected.Add(1)
	}
}

// countSent wraps a base transport to count the requests it sends.
func (t *tally) countSent(base http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.sent.Add(1)
		if t.reports {
			t.unreported.Add(1)
		}
		return base.RoundTrip(r)
	})
}

// settle waits, up to limit, until every attempt sent has been reported,
// so that the counts include the hedges that lost last.
func (t *tally) settle(limit time.Duration) {
	for deadline := time.Now().Add(limit); t.unreported.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// countRefusals wraps a budget to count the extra attempts it refuses.
func (t *tally) countRefusals(b retry.Budget) retry.Budget {
	return &countingBudget{Budget: b, refused: &t.refused}
}

type countingBudget struct {
	retry.Budget
	refused *atomic.Int64
}

func (b *countingBudget) Extra() bool {
	ok := b.Budget.Extra()
	if !ok {
		b.refused.Add(1)
	}
	return ok
}

var _ http.RoundTripper = roundTripFunc(nil)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
