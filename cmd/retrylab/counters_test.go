package main

import (
	"context"
	"net/http"
	"net/url"
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

	rejection := &url.Error{Op: "Get", URL: "http://x", Err: &retry.BreakerError{Reason: retry.ErrBreakerOpen}}
	tl.onCallError(rejection)
	tl.onCallError(&url.Error{Op: "Get", URL: "http://x", Err: retry.ErrExhausted})
	if tl.rejected.Load() != 1 {
		t.Errorf("rejected %d, want 1", tl.rejected.Load())
	}

	allowed := refuseAfter(2)
	b := tl.countRefusals(&allowed)
	for range 5 {
		b.Extra()
	}
	if tl.refused.Load() != 3 {
		t.Errorf("refused %d, want 3", tl.refused.Load())
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
