package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/retrykit/retry"
)

// guarded makes attempt n through the request's circuit breaker, if any.
// Nothing is sent, and the breaker is not asked, for a context that is
// already done. hedge says whether another attempt was running when this
// one started.
func (c *call) guarded(ctx context.Context, n int, hedge bool) (*http.Response, error, *AttemptEvent) {
	if ctx.Err() != nil {
		return nil, contextError(ctx), nil
	}
	var done func(error)
	if c.t.cfg.Breaker != nil {
		if br := c.t.cfg.Breaker(c.req); br != nil {
			d, err := br.AllowContext(ctx)
			if err != nil {
				return nil, err, nil // a *retry.BreakerError: nothing sent
			}
			done = d
		}
	}
	body, getBody, err := c.body.body(ctx)
	if err != nil {
		if done != nil {
			done(errNotSent)
		}
		return nil, retry.Permanent(err), nil // another attempt would fail alike
	}
	if done == nil {
		return c.send(ctx, n, hedge, body, getBody)
	}
	var resp *http.Response
	var ev *AttemptEvent
	err = errPanicked
	defer func() { // a panic in the base counts as a failure
		counted := false
		defer closeUnhanded(resp, &counted) // the breaker's Classify may panic
		done(c.breakerOutcome(ctx, resp, err))
		counted = true
	}()
	resp, err, ev = c.send(ctx, n, hedge, body, getBody)
	return resp, err, ev
}

// errPanicked is the outcome the breaker sees if the base transport panics.
var errPanicked = errors.New("httpx: the base transport panicked")

// errNotSent is the outcome the breaker sees for an attempt that says
// nothing about the server: the breaker ignores it, as it ignores every
// error that matches context.Canceled.
var errNotSent = fmt.Errorf("httpx: attempt not made or given up by the client: %w", context.Canceled)

// breakerOutcome is the error that tells a breaker how an attempt went:
// nil for an answer from a healthy server (2xx to 4xx but 429), a failure
// for a transport error, a timeout, a 5xx or a 429, and errNotSent when
// the attempt says nothing about the server: the caller cancelled it, it
// lost its hedge race (ctx is the attempt's), or net/http refused the
// request before sending it.
func (c *call) breakerOutcome(ctx context.Context, resp *http.Response, err error) error {
	switch {
	case err == nil:
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return statusCause(resp, c.t.now()) // with its Retry-After, for the open time
		}
		return nil
	case err == errPanicked:
		return err
	case errors.Is(ctx.Err(), context.Canceled), refusedRequest(err):
		return errNotSent
	}
	if _, ok := errors.AsType[*attemptTimeoutError](err); ok {
		return errAttemptTimeout // not a cancellation: the server was slow
	}
	return err
}

// statusCause is the breaker's failure for a response with status 5xx or
// 429, marked with the server's Retry-After, if any, for the open time.
func statusCause(resp *http.Response, now time.Time) error {
	err := errors.New("httpx: " + resp.Status)
	if d, ok := retryAfter(resp, now); ok {
		return retry.After(err, d)
	}
	return err
}
