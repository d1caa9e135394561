package httpx_test

import (
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
		OnAttempt: func(e httpx.AttemptEvent) {
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

func ExampleRetryAfter() {
	d, ok := httpx.RetryAfter("120", time.Now())
	fmt.Println(d, ok)
	_, ok = httpx.RetryAfter("-1", time.Now())
	fmt.Println(ok)
	// Output:
	// 2m0s true
	// false
}
