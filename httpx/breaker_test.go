package httpx_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"github.com/retrykit/retry/internal/stepclock"
)

// 503s trip the breaker; with WaitForProbe the retry loop waits out the
// open time instead of spinning, and the probe after it succeeds.
func TestBreakerOpensAndRetryWaits(t *testing.T) {
	srv := newScript(t, false, status(503, ""), status(503, ""), status(503, ""), status(200, "ok"))
	clk := stepclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	br, err := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 3, OpenDuration: 40 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	client := mustNew(t, httpx.Config{Base: srv.base(t),
		Retry:   &retry.Policy{MaxAttempts: 6, Backoff: retry.Constant{Interval: time.Second}, Clock: clk, WaitForProbe: true},
		Breaker: func(*http.Request) *retry.Breaker { return br }})
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != 200 || srv.hits.Load() != 4 {
		t.Fatalf("status %d after %d requests", resp.StatusCode, srv.hits.Load())
	}
	// 1s, 1s, then 1s after the third 503 (the breaker opened for 40s
	// then), then the rejection's wait for the rest of the open time.
	want := []time.Duration{time.Second, time.Second, time.Second, 39 * time.Second}
	if got := clk.Waits(); !slices.Equal(got, want) {
		t.Fatalf("waits = %v, want %v", got, want)
	}
	if br.State() != retry.BreakerClosed {
		t.Fatalf("breaker %v after a successful probe", br.State())
	}
}

// A breaker open for longer than the policy will wait ends the call at
// once with ErrBreakerOpen, and no request goes out.
func TestBreakerRejectionEndsCall(t *testing.T) {
	srv := newScript(t, false, status(500, "boom"))
	clk := stepclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	br, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Hour, Clock: clk})
	client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: &retry.Policy{Clock: clk},
		Breaker: func(*http.Request) *retry.Breaker { return br }})
	resp, err := client.Get(srv.URL) // a 500 is not retried, but it is a failure
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	_, err = client.Get(srv.URL)
	var rej *retry.BreakerError
	if !errors.Is(err, retry.ErrBreakerOpen) || !errors.As(err, &rej) || rej.Wait != time.Hour {
		t.Fatalf("err = %v, want ErrBreakerOpen with an hour to wait", err)
	}
	if srv.hits.Load() != 1 || len(clk.Waits()) != 0 {
		t.Fatalf("%d requests and waits %v; want 1 and none", srv.hits.Load(), clk.Waits())
	}
}

// A Retry-After sets how long the breaker stays open.
func TestBreakerOpenTimeFromRetryAfter(t *testing.T) {
	srv := newScript(t, false, withHeader(status(503, ""), "Retry-After", "90"))
	clk := stepclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	br, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: 5 * time.Second,
		MaxOpenDuration: 10 * time.Minute, Clock: clk})
	client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: &retry.Policy{MaxAttempts: 1, Clock: clk},
		Breaker: func(*http.Request) *retry.Breaker { return br }})
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if s := br.Snapshot(); s.State != retry.BreakerOpen || !s.OpenUntil.Equal(clk.Now().Add(90*time.Second)) {
		t.Fatalf("breaker %v until %v, want open for 90s from %v", s.State, s.OpenUntil, clk.Now())
	}
}

// PerHost keeps the hosts apart: one failing host does not open the
// breaker of another.
func TestPerHost(t *testing.T) {
	bad := newScript(t, false, status(502, ""))
	good := newScript(t, false, status(200, "ok"))
	breakers, err := httpx.Breakers(retry.BreakerConfig{ConsecutiveFailures: 2, OpenDuration: time.Hour}, httpx.PerHostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	base := bad.base(t)
	client := mustNew(t, httpx.Config{Base: base, Retry: &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, MaxAfter: time.Millisecond},
		Breaker: breakers.For})
	if _, err := client.Get(bad.URL); !errors.Is(err, retry.ErrBreakerOpen) {
		t.Fatalf("bad host: err = %v, want the breaker open after 2 failures", err)
	}
	resp, err := client.Get(good.URL)
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("good host: %d", resp.StatusCode)
	}
	if _, err := httpx.Breakers(retry.BreakerConfig{FailureRatio: 2}, httpx.PerHostConfig{}); !errors.Is(err, retry.ErrInvalid) {
		t.Fatalf("bad config: %v", err)
	}
}

// One budget per host: a failing host drains its own budget and stops
// retrying, while another host keeps its retries.
func TestBudgetPerHost(t *testing.T) {
	bad := newScript(t, false, status(503, ""))
	good := newScript(t, false, status(503, ""), status(200, "ok"))
	budgets, err := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) retry.Budget { return &retry.TokenBucket{} })
	if err != nil {
		t.Fatal(err)
	}
	client := mustNew(t, httpx.Config{Base: bad.base(t), Retry: fastPolicy(3), Budget: budgets.For})
	for range 4 { // each failure takes a token; retries stop at half of 10
		resp, err := client.Get(bad.URL)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
	}
	if got := bad.hits.Load(); got != 3+2+1+1 {
		t.Fatalf("bad host saw %d requests, want 7 (3, then 2 until half the tokens are gone, then 1 each)", got)
	}
	resp, err := client.Get(good.URL)
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != 200 || good.hits.Load() != 2 {
		t.Fatalf("good host: %d after %d requests; its budget must be its own", resp.StatusCode, good.hits.Load())
	}
	b := budgets.For(httptest.NewRequest("GET", bad.URL, nil)).(*retry.TokenBucket)
	if b.Extra() {
		t.Fatalf("bad host's bucket still allows retries: %v tokens", b.Tokens())
	}
}
