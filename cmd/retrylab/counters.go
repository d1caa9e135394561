package main

import (
	"context"
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
	rejected atomic.Int64 // attempts that a breaker failed fast
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

// hooks counts the breaker's rejections (a rejected attempt sends
// nothing, so OnAttempt never sees it: hedged copies included) and the
// budget's refusals.
func (t *tally) hooks() *retry.Hooks {
	return &retry.Hooks{
		OnBreakerReject: func(context.Context, retry.BreakerReject) { t.rejected.Add(1) },
		OnBudgetRefused: func(context.Context, retry.BudgetEvent) { t.refused.Add(1) },
	}
}

// countSent wraps a base transport to count the requests it sends.
func (t *tally) countSent(base http.RoundTripper) http.RoundTripper {
	return t.countAttempts(t.countRequests(base))
}

// countRequests counts the requests that reach base.
func (t *tally) countRequests(base http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.sent.Add(1)
		return base.RoundTrip(r)
	})
}

// countAttempts counts the attempts that httpx will report (see settle),
// sent or not: with -url, one may end waiting for its turn.
func (t *tally) countAttempts(rt http.RoundTripper) http.RoundTripper {
	if !t.reports {
		return rt
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.unreported.Add(1)
		return rt.RoundTrip(r)
	})
}

// settle waits, up to limit, until every attempt sent has been reported,
// so that the counts include the hedges that lost last.
func (t *tally) settle(limit time.Duration) {
	for deadline := time.Now().Add(limit); t.unreported.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

var _ http.RoundTripper = roundTripFunc(nil)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
