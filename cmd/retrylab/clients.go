package main

import (
	"crypto/tls"
	"net/http"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// client is one of the clients the lab compares.
type client struct {
	name  string
	http  *http.Client
	tally *tally
	base  *http.Transport

	latency *retry.LatencyTracker // the adaptive hedge delay's, if any
}

// newClient builds the client called name over a fresh connection pool.
// tlsConfig is the service's, for -h2.
func newClient(name string, o *options, tlsConfig *tls.Config) (*client, error) {
	base := &http.Transport{
		MaxIdleConnsPerHost: o.concurrency,
		IdleConnTimeout:     30 * time.Second,
		TLSClientConfig:     tlsConfig,
		ForceAttemptHTTP2:   tlsConfig != nil,
	}
	if o.url != "" {
		base.Proxy = http.ProxyFromEnvironment
	}
	c := &client{name: name, tally: &tally{reports: name != "plain"}, base: base}
	sender := c.tally.countSent(base)
	if o.url != "" { // the limits hold for requests, retries and hedges included
		limited := newGentle(c.tally.countRequests(base), o.rate, o.concurrency)
		sender = c.tally.countAttempts(limited)
	}
	if name == "plain" {
		c.http = &http.Client{Transport: sender, CheckRedirect: stayPut(o)}
		return c, nil
	}
	cfg := httpx.Config{
		Base: sender,
		Retry: &retry.Policy{
			Name:        name,
			MaxAttempts: o.attempts,
			Backoff:     backoff(o),
			Hooks:       c.tally.hooks(),
		},
		OnAttempt: c.tally.onAttempt,
	}
	if name == "hedge" || name == "guarded" {
		h, err := hedgePolicy(o)
		if err != nil {
			return nil, err
		}
		h.Name, h.Hooks = name, cfg.Retry.Hooks
		cfg.Hedge, c.latency = h, h.Latency
	}
	if name == "guarded" {
		breakers, err := httpx.Breakers(retry.BreakerConfig{
			FailureRatio: o.breakerRatio,
			MinCalls:     20,
			Window:       time.Second,
			OpenDuration: o.breakerOpen,
			Hooks:        cfg.Retry.Hooks,
		}, httpx.PerHostConfig{})
		if err != nil {
			return nil, err
		}
		budget := retry.RatioBudgetConfig{Ratio: o.budgetRatio, Window: time.Second}
		if err := budget.Validate(); err != nil {
			return nil, err
		}
		budgets, err := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) retry.Budget {
			b, _ := retry.NewRatioBudget(budget) // validated above
			return b
		})
		if err != nil {
			return nil, err
		}
		cfg.Breaker, cfg.Budget = breakers.For, budgets.For
	}
	hc, err := httpx.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	hc.CheckRedirect = stayPut(o)
	c.http = hc
	return c, nil
}

// stayPut keeps -url traffic on the URL given: a redirect could point it
// at a service that is not the user's. A redirect is then the answer.
func stayPut(o *options) func(*http.Request, []*http.Request) error {
	if o.url == "" {
		return nil
	}
	return func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
}

// hedgePolicy hedges after -hedge-delay, or else after the -hedge-quantile
// of the latencies seen so far.
func hedgePolicy(o *options) (*retry.HedgePolicy, error) {
	if o.hedgeDelay > 0 {
		return &retry.HedgePolicy{MaxAttempts: 2, Delay: o.hedgeDelay}, nil
	}
	lt, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{
		Quantile: o.hedgeQuantile,
		Floor:    time.Millisecond,
		Fallback: 20 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	return &retry.HedgePolicy{MaxAttempts: 2, Latency: lt}, nil
}

// backoff is exponential from -backoff up to -backoff-max, with full jitter;
// -backoff 0 retries at once (a zero Exponential.Base would mean 100ms).
func backoff(o *options) retry.Backoff {
	if o.backoffBase == 0 {
		return retry.Constant{}
	}
	return retry.Exponential{Base: o.backoffBase, Max: o.backoffMax, Jitter: retry.FullJitter}
}
