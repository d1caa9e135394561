package httpx_test

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// Everything at once: a 1.5 MiB file PUT whose GetBody seeks one shared
// file (over MaxReplayBytes: sent one attempt at a time although hedging
// is configured), a breaker, a budget, AttemptTimeout, SplitDeadline,
// OnAttempt and an attempt header. The server answers 503 before reading,
// then reads part of the body and hangs up, then reads it whole.
func TestComboFileBody(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		u := newUpload(t, 3<<19)
		var n atomic.Int32
		var srv *script
		srv = newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
			switch n.Add(1) {
			case 1:
				w.WriteHeader(503)
			case 2:
				io.CopyN(io.Discard, r.Body, 100<<10)
				panic(http.ErrAbortHandler)
			default:
				b, err := io.ReadAll(r.Body)
				if err != nil {
					w.WriteHeader(400)
					return
				}
				srv.record(string(b), r.Header)
			}
		}).lazy()
		tr := &tracker{base: srv.base(t)}
		br, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 5, OpenDuration: time.Second})
		var events atomic.Int32
		client := mustNew(t, httpx.Config{Base: tr, Retry: &retry.Policy{MaxAttempts: 4, Backoff: retry.Constant{Interval: time.Millisecond}, Budget: &retry.TokenBucket{}},
			Hedge:          &retry.HedgePolicy{MaxAttempts: 3, Delay: time.Millisecond},
			AttemptTimeout: 5 * time.Second, SplitDeadline: true, AttemptHeader: "X-Attempt",
			Breaker:   func(*http.Request) *retry.Breaker { return br },
			OnAttempt: func(context.Context, httpx.AttemptEvent) { events.Add(1) }})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req := u.request(t, srv.URL, int64(len(u.data))).WithContext(ctx)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.StatusCode != 200 || n.Load() < 3 {
			t.Fatalf("status %d after %d requests", resp.StatusCode, n.Load())
		}
		if len(srv.Bodies()) != 1 {
			t.Fatalf("%d whole bodies read", len(srv.Bodies()))
		}
		u.wholeBodies(t, srv.Bodies())
		if h := srv.Headers()[0].Get("X-Attempt"); h != "3" {
			t.Errorf("attempt header %q, want 3", h)
		}
		waitFor(t, func() bool { return tr.open.Load() == 0 })
		if events.Load() != n.Load() {
			t.Errorf("%d OnAttempt events for %d requests", events.Load(), n.Load())
		}
	})
}
