package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// A POST with an Idempotency-Key is retried after a 503, and every attempt
// carries the whole body.
func ExampleNewClient() {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if hits.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "stored %q", body)
	}))
	defer srv.Close()

	client, err := httpx.NewClient(httpx.Config{
		Retry: &retry.Policy{MaxAttempts: 4, Backoff: retry.Constant{}},
	})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"id":7}`))
	req.Header.Set("Idempotency-Key", "order-7")
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", hits.Load(), "attempts")
	// Output: 200 stored "{\"id\":7}" after 3 attempts
}

// When retries run out, the last response is the answer: status and body
// intact, no error.
func ExampleTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	rt, err := httpx.New(httpx.Config{
		Retry: &retry.Policy{MaxAttempts: 2, Backoff: retry.Constant{}},
		OnAttempt: func(_ context.Context, e httpx.AttemptEvent) {
			fmt.Println("attempt", e.Attempt, e.StatusCode)
		},
	})
	if err != nil {
		panic(err)
	}
	defer rt.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s", resp.StatusCode, body)
	// Output:
	// attempt 1 503
	// attempt 2 503
	// 503 down for maintenance
}

// The zero Transport is ready to use: it sends through
// http.DefaultTransport with retry's zero Policy (3 attempts), as
// New(Config{}) does. Here the server asks for a retry at once.
func ExampleTransport_zeroValue() {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()

	var rt httpx.Transport
	defer rt.CloseIdleConnections()
	client := &http.Client{Transport: &rt}
	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", hits.Load(), "attempts")
	// Output: 200 ok after 2 attempts
}

// DefaultRetryable does not retry a 500, which is as often a bug as a
// passing fault. For a service whose 500s are known to pass, wrap it.
func ExampleDefaultRetryable() {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			http.Error(w, "lost the lock", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()

	client, err := httpx.NewClient(httpx.Config{
		Retry: &retry.Policy{Backoff: retry.Constant{}},
		Retryable: func(resp *http.Response, err error) bool {
			if err == nil && resp.StatusCode == http.StatusInternalServerError {
				return true
			}
			return httpx.DefaultRetryable(resp, err)
		},
	})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", hits.Load(), "attempts")
	// Output: 200 ok after 2 attempts
}

func ExampleParseRetryAfter() {
	d, ok := httpx.ParseRetryAfter("120", time.Now())
	fmt.Println(d, ok)
	_, ok = httpx.ParseRetryAfter("-1", time.Now())
	fmt.Println(ok)
	// Output:
	// 2m0s true
	// false
}

// A hedged GET: when the first attempt is slow, a second copy goes out
// after the hedge delay and the first answer wins; the loser is cancelled
// and its connection cleaned up.
func ExampleConfig_hedge() {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			<-r.Context().Done() // the first copy hangs until it loses
			return
		}
		io.WriteString(w, "fast copy")
	}))
	defer srv.Close()

	client, err := httpx.NewClient(httpx.Config{
		Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: 5 * time.Millisecond},
	})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: fast copy
}

// One circuit breaker per host: after two failures in a row the host's
// breaker opens, and calls to it fail at once with ErrBreakerOpen instead of
// waiting on a sick server.
func ExampleBreakers() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded", http.StatusBadGateway)
	}))
	defer srv.Close()

	breakers, err := httpx.Breakers(retry.BreakerConfig{ConsecutiveFailures: 2, OpenDuration: time.Minute}, httpx.PerHostConfig{})
	if err != nil {
		panic(err)
	}
	client, err := httpx.NewClient(httpx.Config{
		Retry:   &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, MaxAfter: time.Second},
		Breaker: breakers.For,
	})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	_, err = client.Get(srv.URL)
	fmt.Println(errors.Is(err, retry.ErrBreakerOpen))
	// Output: true
}

// Hooks of the retry policy label their metrics with the request's method
// and path, read from the hook's context.
func ExampleRequestFrom() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()

	hooks := &retry.Hooks{OnDone: func(ctx context.Context, e retry.CallEvent) {
		if req, ok := httpx.RequestFrom(ctx); ok {
			fmt.Println(e.Name, req.Method, req.URL.Path, e.Outcome(), e.Attempts)
		}
	}}
	client, err := httpx.NewClient(httpx.Config{
		Retry: &retry.Policy{Name: "catalog", Hooks: hooks},
	})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL + "/items")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	// Output: catalog GET /items success 1
}
