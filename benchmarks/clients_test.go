package benchmarks

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cristalhq/hedgedhttp"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/failsafe-go/failsafe-go/hedgepolicy"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// namedClient is one library's *http.Client.
type namedClient struct {
	name   string
	client *http.Client
}

// server is a test server on loopback that counts the connections it
// accepts.
type server struct {
	*httptest.Server
	conns atomic.Int64
}

// loopback starts handler on a server on loopback, over HTTP/1.1, or over
// HTTP/2 with TLS if h2, and returns it with a keep-alive transport for
// it. Both are closed at cleanup.
func loopback(tb testing.TB, handler http.Handler, h2 bool) (*server, *http.Transport) {
	s := &server{Server: httptest.NewUnstartedServer(handler)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if h2 {
		s.EnableHTTP2 = true
		s.StartTLS()
	} else {
		s.Start()
	}
	tr := s.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tb.Cleanup(s.Close)
	tb.Cleanup(tr.CloseIdleConnections)
	return s, tr
}

// retryClients returns this library's retrying client, then the peers':
// each makes at most 3 attempts, with no wait between them, over tr.
func retryClients(tr http.RoundTripper) []namedClient {
	ours, err := httpx.NewClient(httpx.Config{
		Base:  tr,
		Retry: &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}},
	})
	if err != nil {
		panic(err)
	}

	// go-retryablehttp: "configure a *retryablehttp.Client as you wish, and
	// then call StandardClient()" (README). RetryMax 2 is 3 attempts; a
	// zero RetryWaitMin/Max waits 0; Logger nil turns off its default
	// logging of every request to stderr; HTTPClient shares tr.
	// https://pkg.go.dev/github.com/hashicorp/go-retryablehttp#Client.StandardClient
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: tr}
	rc.RetryMax, rc.RetryWaitMin, rc.RetryWaitMax = 2, 0, 0
	rc.Logger = nil

	// failsafe-go: failsafehttp.NewRoundTripper with the retry policy of
	// failsafehttp.NewRetryPolicyBuilder, which "will retry non-terminal
	// HTTP errors and responses up to 2 times" and waits only for a
	// Retry-After. https://failsafe-go.dev/http/ and
	// https://pkg.go.dev/github.com/failsafe-go/failsafe-go/failsafehttp#NewRetryPolicyBuilder
	// As documented, it never closes the response of an attempt that it
	// retries, which leaks that connection and its two goroutines for good
	// (TestFailsafeHTTPLeaksRetriedResponse); the listener closes it.
	fsPolicy := failsafehttp.NewRetryPolicyBuilder().
		OnRetryScheduled(func(e failsafe.ExecutionScheduledEvent[*http.Response]) {
			if r := e.LastResult(); r != nil {
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
			}
		}).Build()
	fs := &http.Client{Transport: failsafehttp.NewRoundTripper(tr, fsPolicy)}

	return []namedClient{{"httpx", ours}, {"retryablehttp", rc.StandardClient()}, {"failsafehttp", fs}}
}

// hedgeDelay is the hedge delay of every hedging client and policy: past
// the 2 ms of 95% of the calls of the tail workload (see tail_test.go).
const hedgeDelay = 5 * time.Millisecond

// hedgeClients returns this library's hedging client, then the peers':
// each sends a second copy of a request that has not answered within
// hedgeDelay, and no third, over tr.
func hedgeClients(tr http.RoundTripper) []namedClient {
	ours, err := httpx.NewClient(httpx.Config{
		Base:  tr,
		Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: hedgeDelay},
	})
	if err != nil {
		panic(err)
	}
	// hedgedhttp: NewClient(timeout, upto, client), as in its README's
	// example ("will take `upto` requests, with a `timeout` delay between
	// them"). https://pkg.go.dev/github.com/cristalhq/hedgedhttp#NewClient
	hh, err := hedgedhttp.NewClient(hedgeDelay, 2, &http.Client{Transport: tr})
	if err != nil {
		panic(err)
	}
	// failsafe-go: a hedge policy with a delay ("WithMaxHedges ... which is
	// 1 by default") in failsafehttp.NewRoundTripper.
	// https://pkg.go.dev/github.com/failsafe-go/failsafe-go/hedgepolicy#NewWithDelay
	fs := &http.Client{Transport: failsafehttp.NewRoundTripper(tr, hedgepolicy.NewWithDelay[*http.Response](hedgeDelay))}
	return []namedClient{{"httpx", ours}, {"hedgedhttp", hh}, {"failsafehttp", fs}}
}

// get sends a GET to url, reads the whole body and closes it, and returns
// the status and body.
func get(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body), err
}
