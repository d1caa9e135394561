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

// PerHost keeps one value per host (URL.Host), made on first use: a
// circuit breaker for Config.Breaker, a budget for Config.Budget.
//
//	breakers, err := httpx.Breakers(retry.BreakerConfig{FailureRatio: 0.5})
//	budgets := httpx.NewPerHost(func() retry.Budget { return &retry.TokenBucket{} })
//	client, err := httpx.NewClient(httpx.Config{Breaker: breakers.For, Budget: budgets.For})
//
// A PerHost is safe for concurrent use. It keeps a value for every host it
// has seen, so give it to clients that call a known set of hosts.
type PerHost[T any] struct {
	newValue func() T
	values   sync.Map // host → T
}

// NewPerHost returns a PerHost that makes each host's value with
// newValue, which must not be nil.
func NewPerHost[T any](newValue func() T) *PerHost[T] {
	return &PerHost[T]{newValue: newValue}
}

// Breakers returns a PerHost of circuit breakers made from cfg, which it
// checks first.
func Breakers(cfg retry.BreakerConfig) (*PerHost[*retry.Breaker], error) {
	if _, err := retry.NewBreaker(cfg); err != nil {
		return nil, err
	}
	return NewPerHost(func() *retry.Breaker {
		b, _ := retry.NewBreaker(cfg) // cannot fail: checked above
		return b
	}), nil
}

// For returns the value of req's host, making it on first use.
func (p *PerHost[T]) For(req *http.Request) T {
	if v, ok := p.values.Load(req.URL.Host); ok {
		return v.(T)
	}
	v, _ := p.values.LoadOrStore(req.URL.Host, p.newValue())
	return v.(T)
}
