package httpx_test

import (
	"net/http"
	"testing"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// TestRoundTripAllocatesNothing checks that a request with no body, sent
// through a Transport with no hook, allocates nothing beyond what its
// base transport allocates: the state of the call stays on the stack. A
// closure that captures the call anywhere on its path (one for OnDone
// did) moves every call to the heap, ~400 B each.
func TestRoundTripAllocatesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  httpx.Config
	}{
		{"zero Config", httpx.Config{}},
		{"Retry", httpx.Config{Retry: &retry.Policy{MaxAttempts: 5}}},
		{"RetryNonIdempotent", httpx.Config{RetryNonIdempotent: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Base = cannedBase{}
			rt, err := httpx.New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				req, err := http.NewRequest(method, "http://example.test/", http.NoBody)
				if err != nil {
					t.Fatal(err)
				}
				send := func(rt http.RoundTripper) func() {
					return func() {
						resp, err := rt.RoundTrip(req)
						if err != nil {
							t.Fatal(err)
						}
						resp.Body.Close()
					}
				}
				base := testing.AllocsPerRun(100, send(cannedBase{}))
				if got := testing.AllocsPerRun(100, send(rt)); got != base {
					t.Errorf("%s: %v allocations per request, want %v as the base's", method, got, base)
				}
			}
		})
	}
}
