package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// The breaker's hooks receive the request's context: a trace id set by the
// caller reaches OnBreakerChange and OnBreakerReject.
func TestBreakerHooksGetRequestContext(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(proto(h2), func(t *testing.T) {
			srv := newScript(t, h2, status(502, "bad"))
			var changed, rejected atomic.Value
			br, err := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, Hooks: &retry.Hooks{
				OnBreakerChange: func(ctx context.Context, e retry.BreakerChange) { changed.Store(ctx.Value(traceKey{})) },
				OnBreakerReject: func(ctx context.Context, e retry.BreakerReject) { rejected.Store(ctx.Value(traceKey{})) },
			}})
			if err != nil {
				t.Fatal(err)
			}
			client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(1),
				Breaker: func(*http.Request) *retry.Breaker { return br }})
			for _, id := range []string{"trip", "reject"} {
				ctx := context.WithValue(context.Background(), traceKey{}, id)
				req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
				resp, err := client.Do(req)
				if err == nil {
					readAll(t, resp)
				} else if id == "reject" && !errors.Is(err, retry.ErrBreakerOpen) {
					t.Fatalf("second request: %v, want ErrBreakerOpen", err)
				}
			}
			if changed.Load() != "trip" || rejected.Load() != "reject" {
				t.Fatalf("hooks saw trace ids %v and %v, want trip and reject", changed.Load(), rejected.Load())
			}
		})
	}
}
