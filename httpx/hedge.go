package httpx

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/retrykit/retry"
)

// hedged is the attempt of the retry loop when the request is hedged: one
// round of retry.Hedge. Each attempt's response outlives its attempt's
// context (see send), so the winner's body is read after Hedge returns.
func (c *call) hedged(ctx context.Context) (*http.Response, error) {
	c.rounds.Add(1)
	return retry.Hedge(ctx, &c.hedge, c.hedgeAttempt)
}

// hedgeAttempt is one attempt of a hedged round, reported as it ends. A
// status by which the server asks for less load or more time (429, 503,
// 409 for a request with a key) and a breaker's rejection stop the round
// from sending more copies, but leave the attempts already running alone,
// as gRPC's hedging does; the retry loop then waits before the next round.
func (c *call) hedgeAttempt(ctx context.Context) (*http.Response, error) {
	a, _ := retry.AttemptFrom(ctx)
	resp, err, ev := c.guarded(ctx, int(c.attempts.Add(1)), a.Hedge)
	handed := false
	defer closeUnhanded(resp, &handed) // OnAttempt or Retryable may panic
	if ev != nil {
		c.t.cfg.OnAttempt(ctx, *ev)
	}
	resp, err = c.classify(resp, err)
	if pushedBack(err) {
		err = retry.StopHedging(err)
	}
	handed = true
	return resp, err
}

// pushedBack reports whether err is a breaker's rejection or a status by
// which the server asks for less load or more time.
func pushedBack(err error) bool {
	if _, ok := errors.AsType[*retry.BreakerError](err); ok {
		return true
	}
	se, ok := errors.AsType[*statusError](err)
	if !ok {
		return false
	}
	switch se.resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusConflict:
		return true
	}
	return false
}

// discardAll drains and closes every response held in err's tree but
// except.
func discardAll(err error, except *statusError) {
	walkStatusErrors(err, func(se *statusError) {
		if se != except {
			se.discard()
		}
	})
}

// lastStatusError returns the last *statusError in err's tree: the latest
// failed attempt's, since hedged rounds join their errors in order.
func lastStatusError(err error) *statusError {
	var last *statusError
	walkStatusErrors(err, func(se *statusError) { last = se })
	return last
}

// walkStatusErrors calls f with each *statusError in err's tree, in order.
func walkStatusErrors(err error, f func(*statusError)) {
	switch e := err.(type) {
	case nil:
	case *statusError:
		f(e)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			walkStatusErrors(inner, f)
		}
	case interface{ Unwrap() error }:
		walkStatusErrors(e.Unwrap(), f)
	}
}

// roundGate is the budget of the retry loop of a hedged call: it asks the
// call's budget before each new round, and leaves counting first attempts
// and outcomes to the rounds, which see each attempt.
type roundGate struct{ b retry.Budget }

func (roundGate) First()        {}
func (g roundGate) Extra() bool { return g.b.Extra() }
func (roundGate) Result(bool)   {}

// Name is the call's budget's, for Hooks.OnBudgetRefused.
func (g roundGate) Name() string { return budgetName(g.b) }

// callBudget is the budget of the hedged rounds of one call: only the
// first round's first attempt is a first attempt; the retry loop has
// already asked Extra for the first attempt of each later round.
type callBudget struct {
	retry.Budget
	first atomic.Bool
}

func (b *callBudget) First() {
	if !b.first.Swap(true) {
		b.Budget.First()
	}
}

// Name is the call's budget's, for Hooks.OnBudgetRefused.
func (b *callBudget) Name() string { return budgetName(b.Budget) }

// budgetName is b's name, if it has a Name method (see
// retry.BudgetEvent).
func budgetName(b retry.Budget) string {
	if n, ok := b.(interface{ Name() string }); ok {
		return n.Name()
	}
	return ""
}
