package httpx_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// countingBase counts what reaches the base transport and the errors it
// returns.
type countingBase struct {
	base  http.RoundTripper
	calls atomic.Int64
	last  atomic.Value
}

func (b *countingBase) RoundTrip(r *http.Request) (*http.Response, error) {
	b.calls.Add(1)
	resp, err := b.base.RoundTrip(r)
	if err != nil {
		b.last.Store(fmt.Sprint(err))
	}
	return resp, err
}

// A request that net/http refuses before sending it (an invalid trailer
// field; over HTTP/2 a connection-specific header such as Connection:
// upgrade, Upgrade or Transfer-Encoding: gzip, or an invalid Host) is not
// retried and counts as nothing to the breaker: a client's bug must not
// trip the host's breaker for every other request.
func TestRefusedRequestTripsBreaker(t *testing.T) {
	type variant struct {
		name   string
		h2only bool
		mod    func(*http.Request)
	}
	variants := []variant{
		{"TrailerName", false, func(r *http.Request) { r.Trailer = http.Header{"Bad Name": nil} }},
		{"TrailerValue", false, func(r *http.Request) { r.Trailer = http.Header{"X-T": {"a\nb"}} }},
		{"ConnectionUpgrade", true, func(r *http.Request) { r.Header.Set("Connection", "upgrade") }},
		{"Upgrade", true, func(r *http.Request) { r.Header.Set("Upgrade", "websocket") }},
		{"TransferEncoding", true, func(r *http.Request) { r.Header.Set("Transfer-Encoding", "gzip") }},
		{"Host", true, func(r *http.Request) { r.Host = "bad host" }},
	}
	for _, h2 := range []bool{false, true} {
		for _, v := range variants {
			if v.h2only && !h2 {
				continue
			}
			t.Run(fmt.Sprintf("h2=%v/%s", h2, v.name), func(t *testing.T) {
				srv := newScript(t, h2, status(200, "ok"))
				base := &countingBase{base: srv.base(t)}
				br, err := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 2})
				if err != nil {
					t.Fatal(err)
				}
				rt, err := httpx.New(httpx.Config{Base: base, Retry: fastPolicy(3),
					Breaker: func(*http.Request) *retry.Breaker { return br }})
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest("GET", srv.URL, nil)
				v.mod(req)
				resp, err := rt.RoundTrip(req)
				if resp != nil {
					resp.Body.Close()
				}
				if err == nil {
					t.Skip("net/http sent this request: nothing to compare")
				}
				if srv.hits.Load() != 0 {
					t.Skipf("the server saw the request (%v)", err)
				}
				last, _ := base.last.Load().(string)
				t.Logf("RoundTrip: %v; base transport called %d times, last error %q; breaker %v",
					err, base.calls.Load(), last, br.State())
				if n := base.calls.Load(); n > 1 { // 0 when httpx refuses it first
					t.Errorf("a request net/http refuses before sending went to the base transport %d times, want at most 1 (not retried)", n)
				}
				if br.State() != retry.BreakerClosed {
					t.Errorf("breaker %v after one refused request, want closed: net/http's refusal counted as the server's failure", br.State())
				}
				// Another, valid request must pass.
				ok, _ := http.NewRequest("GET", srv.URL, nil)
				resp, err = rt.RoundTrip(ok)
				if err != nil {
					var rej *retry.BreakerError
					if errors.As(err, &rej) {
						t.Errorf("a valid request is rejected by the breaker that the bad one opened: %v", err)
					} else {
						t.Errorf("valid request: %v", err)
					}
					return
				}
				resp.Body.Close()
			})
		}
	}
}
