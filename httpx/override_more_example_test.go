package httpx_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// A health check through a client that retries: NoRetry sends it once, so
// a sick server is reported at once and not hammered.
func ExampleNoRetry() {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	client, err := httpx.NewClient(httpx.Config{Retry: &retry.Policy{MaxAttempts: 4, Backoff: retry.Constant{}}})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(httpx.NoRetry(context.Background()), "GET", srv.URL+"/healthz", nil)
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, hits.Load())
	// Output:
	// 503 1
}

// A client that does not hedge, and one request that does: a read whose
// latency matters more than the load of a second copy.
func ExampleWithHedge() {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			<-r.Context().Done() // the first copy hangs until it loses
			return
		}
		io.WriteString(w, "fast copy")
	}))
	defer srv.Close()

	client, err := httpx.NewClient(httpx.Config{}) // no Config.Hedge
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	ctx := httpx.WithHedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 2, Delay: 5 * time.Millisecond})
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body), hits.Load())
	// Output:
	// fast copy 2
}

// A client that hedges, and one request that must not send copies: a GET
// that starts an expensive report, say.
func ExampleNoHedge() {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(5 * time.Millisecond) // slower than the hedge delay
		io.WriteString(w, "report")
	}))
	defer srv.Close()

	client, err := httpx.NewClient(httpx.Config{Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond}})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(httpx.NoHedge(context.Background()), "GET", srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body), hits.Load())
	// Output:
	// report 1
}

// Idempotent says which requests a Transport may send more than once: the
// methods that are safe to repeat, and any request that carries an
// Idempotency-Key.
func ExampleIdempotent() {
	get, _ := http.NewRequest("GET", "https://api.example.com/orders/7", nil)
	post, _ := http.NewRequest("POST", "https://api.example.com/orders", nil)
	keyed, _ := http.NewRequest("POST", "https://api.example.com/orders", nil)
	keyed.Header.Set("Idempotency-Key", "order-7f3a")
	fmt.Println(httpx.Idempotent(get), httpx.Idempotent(post), httpx.Idempotent(keyed))
	// Output:
	// true false true
}
