package httpx_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// A server protects itself with an adaptive limiter: requests beyond what
// it can serve without queueing are answered at once with 503 and a
// Retry-After, which clients of httpx honour, instead of waiting in a
// queue that grows until every request times out.
func ExampleShed() {
	limiter, err := retry.NewLimiter(retry.LimiterConfig{InitialLimit: 1, MaxLimit: 1})
	if err != nil {
		panic(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})
	protected, err := httpx.Shed(httpx.ShedConfig{Admitter: limiter}, api)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(protected)
	defer srv.Close()

	get := func() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%s, Retry-After %q: %s", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	get()
	busy, _ := limiter.Acquire(context.Background()) // the server is busy
	get()
	busy.Done(nil)
	// Output:
	// 200 OK, Retry-After "": hello
	// 503 Service Unavailable, Retry-After "1": load shed: try again later
}
