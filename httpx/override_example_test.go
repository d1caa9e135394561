package httpx_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// One shared client for bulk calls and health checks: the client retries
// 3 times, a bulk call 5 times, and a health check not at all.
func ExampleWithPolicy() {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	client, err := httpx.NewClient(httpx.Config{Retry: &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}}})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	bulk := &retry.Policy{MaxAttempts: 5, Backoff: retry.Constant{}}

	for _, ctx := range []context.Context{
		context.Background(),
		httpx.WithPolicy(context.Background(), bulk),
		httpx.NoRetry(context.Background()),
	} {
		hits.Store(0)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, hits.Load())
	}
	// Output:
	// 503 3
	// 503 5
	// 503 1
}
