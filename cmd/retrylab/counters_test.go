package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

func TestTally(t *testing.T) {
	tl := &tally{reports: true}
	send := tl.countSent(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, nil }))
	for range 4 {
		send.RoundTrip(nil)
	}
	tl.onAttempt(context.Background(), httpx.AttemptEvent{Attempt: 1})
	tl.onAttempt(context.Background(), httpx.AttemptEvent{Attempt: 2})
	tl.onAttempt(context.Background(), httpx.AttemptEvent{Attempt: 3, Hedge: true})
	if tl.sent.Load() != 4 || tl.retries.Load() != 1 || tl.hedges.Load() != 1 || tl.unreported.Load() != 1 {
		t.Errorf("sent %d retries %d hedges %d unreported %d; want 4 1 1 1", tl.sent.Load(), tl.retries.Load(), tl.hedges.Load(), tl.unreported.Load())
	}
	tl.onAttempt(context.Background(), httpx.AttemptEvent{Attempt: 4})
	tl.settle(time.Hour) // all reported: returns at once

	// Rejections and refusals come from the hooks given to the breaker and
	// the policies, from a real breaker and budget.
	br, err := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, Hooks: tl.hooks()})
	if err != nil {
		t.Fatal(err)
	}
	retry.Guard(context.Background(), br, func(context.Context) (int, error) { return 0, retry.ErrExhausted })
	retry.Guard(context.Background(), br, func(context.Context) (int, error) { return 1, nil })
	if tl.rejected.Load() != 1 {
		t.Errorf("rejected %d, want 1", tl.rejected.Load())
	}
	allowed := refuseAfter(2)
	p := &retry.Policy{MaxAttempts: 6, Budget: &allowed, Backoff: retry.Constant{}, Hooks: tl.hooks()}
	retry.Do(context.Background(), p, func(context.Context) error { return errors.New("down") })
	retry.Do(context.Background(), p, func(context.Context) error { return errors.New("down") })
	if tl.refused.Load() != 2 {
		t.Errorf("refused %d, want 2", tl.refused.Load())
	}
}

// refuseAfter is a budget that allows n extra attempts.
type refuseAfter int

func (*refuseAfter) First()      {}
func (*refuseAfter) Result(bool) {}
func (n *refuseAfter) Extra() bool {
	*n--
	return *n >= 0
}
