package httpx

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/retrykit/retry"
)

// guarded sends attempt n through the request's circuit breaker, if any.
func (c *call) guarded(ctx context.Context, n int) (*http.Response, error) {
	if c.t.cfg.Breaker == nil {
		return c.send(ctx, n)
	}
	br := c.t.cfg.Breaker(c.req)
	if br == nil {
		return c.send(ctx, n)
	}
	done, err := br.Allow()
	if err != nil {
		return nil, err // a *retry.RejectedError, marked for the retry loop
	}
	var resp *http.Response
	defer func() { done(c.breakerOutcome(resp, err)) }() // a panic in the base counts as a failure
	err = errPanicked
	resp, err = c.send(ctx, n)
	return resp, err
}

// errPanicked is the outcome the breaker sees if the base transport panics.
var errPanicked = errors.New("httpx: the base transport panicked")

// breakerOutcome is the error that tells a breaker how an attempt went:
// nil for an answer from a healthy server (2xx to 4xx but 429), a failure
// for a transport error, a timeout, a 5xx or a 429.
func (c *call) breakerOutcome(resp *http.Response, err error) error {
	if err != nil {
		if _, ok := errors.AsType[*attemptTimeoutError](err); ok {
			return errAttemptTimeout // not a cancellation: the server was slow
		}
		return err
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return c.statusError(resp) // with its Retry-After, for the open time
	}
	return nil
}

// PerHost keeps one circuit breaker per host (URL.Host), all made from one
// config, for Config.Breaker:
//
//	breakers, err := httpx.NewPerHost(retry.BreakerConfig{FailureRatio: 0.5})
//	client, err := httpx.NewClient(httpx.Config{Breaker: breakers.For})
//
// A PerHost is safe for concurrent use. It keeps a breaker for every host
// it has seen, so give it to clients that call a known set of hosts.
type PerHost struct {
	cfg      retry.BreakerConfig
	breakers sync.Map // host → *retry.Breaker
}

// NewPerHost checks cfg (by making a first breaker) and returns an empty
// PerHost.
func NewPerHost(cfg retry.BreakerConfig) (*PerHost, error) {
	if _, err := retry.NewBreaker(cfg); err != nil {
		return nil, err
	}
	return &PerHost{cfg: cfg}, nil
}

// For returns the breaker of req's host, making it on first use.
func (p *PerHost) For(req *http.Request) *retry.Breaker {
	if b, ok := p.breakers.Load(req.URL.Host); ok {
		return b.(*retry.Breaker)
	}
	b, _ := retry.NewBreaker(p.cfg) // cannot fail: NewPerHost checked cfg
	actual, _ := p.breakers.LoadOrStore(req.URL.Host, b)
	return actual.(*retry.Breaker)
}
