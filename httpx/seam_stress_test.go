package httpx_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// chaos answers at random: fast 200, slow 200, 503 (with or without a
// body), a hang-up, a hang then close, a partial body.
func chaos(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	switch rand.IntN(7) {
	case 0:
		io.WriteString(w, "fast")
	case 1:
		select {
		case <-time.After(time.Duration(rand.IntN(8)) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "slow")
	case 2:
		w.WriteHeader(503)
		io.WriteString(w, strings.Repeat("busy", 100))
	case 3:
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(429)
	case 4:
		if r.ProtoMajor == 1 {
			hangup(w, r)
			return
		}
		panic(http.ErrAbortHandler)
	case 5:
		select {
		case <-time.After(20 * time.Millisecond):
		case <-r.Context().Done():
		}
		panic(http.ErrAbortHandler)
	case 6:
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
}

// Many goroutines share one client, one breaker and one budget, with
// hedging, attempt timeouts, split deadlines, OnAttempt and bodies of
// every kind; callers cancel at random moments. Nothing races, panics,
// leaks a response body, or returns both or neither of a response and an
// error.
func TestStressShared(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		srv := newScript(t, h2, chaos).lazy()
		tr := &tracker{base: srv.base(t)}
		br, _ := retry.NewBreaker(retry.BreakerConfig{FailureRatio: 0.9, MinCalls: 50, OpenDuration: 5 * time.Millisecond, HalfOpenProbes: 3})
		bucket := &retry.TokenBucket{}
		var events atomic.Int64
		client := mustNew(t, httpx.Config{Base: tr,
			Retry:          &retry.Policy{MaxAttempts: 4, Backoff: retry.Constant{Interval: time.Millisecond}, Budget: bucket, WaitForProbe: true, MaxAfter: 20 * time.Millisecond},
			Hedge:          &retry.HedgePolicy{MaxAttempts: 3, Delay: 3 * time.Millisecond},
			AttemptTimeout: 15 * time.Millisecond, SplitDeadline: true, MaxReplayBytes: 2048,
			Breaker:       func(*http.Request) *retry.Breaker { return br },
			OnAttempt:     func(context.Context, httpx.AttemptEvent) { events.Add(1) },
			AttemptHeader: "X-Attempt"})
		var wg sync.WaitGroup
		var oks, errs atomic.Int64
		for g := range 24 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 15 {
					ctx, cancel := context.WithCancelCause(context.Background())
					if (g+i)%3 == 0 {
						var stop context.CancelFunc
						ctx, stop = context.WithTimeout(ctx, time.Duration(20+rand.IntN(60))*time.Millisecond)
						defer stop()
					}
					if (g+i)%5 == 0 {
						go func() {
							time.Sleep(time.Duration(rand.IntN(10)) * time.Millisecond)
							cancel(errors.New("caller gave up"))
						}()
					}
					var req *http.Request
					switch i % 4 {
					case 0:
						req, _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
					case 1:
						req, _ = http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, strings.NewReader(strings.Repeat("p", 1000)))
					case 2:
						req, _ = http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, strings.NewReader(strings.Repeat("q", 5000)))
					case 3:
						req, _ = http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("stream")))
						req.Header.Set("Idempotency-Key", "k")
					}
					resp, err := client.Do(req)
					switch {
					case err != nil && resp != nil:
						t.Errorf("both a response and an error: %v", err)
					case err != nil:
						if errs.Add(1)%40 == 0 {
							t.Logf("sample error: %.300v", err)
						}
					default:
						oks.Add(1)
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					cancel(nil)
				}
			}()
		}
		wg.Wait()
		t.Logf("%d ok, %d errors, %d attempts, %d requests", oks.Load(), errs.Load(), events.Load(), tr.sent.Load())
		waitFor(t, func() bool { return tr.open.Load() == 0 }) // held losers drain on their own
		if s := br.Snapshot(); s.Probes != 0 {
			t.Fatalf("breaker %v holds %d probe slots with no call in flight", s.State, s.Probes)
		}
	})
}

// httputil.ReverseProxy with the Transport: a POST with an
// Idempotency-Key and a body is retried through the proxy with its whole
// body; a GET is hedged; a client that goes away leaves nothing open.
func TestReverseProxy(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		var n atomic.Int32
		backend := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
			i := n.Add(1)
			b, _ := io.ReadAll(r.Body)
			if i == 1 {
				w.WriteHeader(503)
				return
			}
			if r.Method == http.MethodGet && i == 3 {
				select { // the primary GET hangs; its hedge wins
				case <-r.Context().Done():
				case <-time.After(2 * time.Second):
				}
				return
			}
			w.Write(b)
		}).lazy()
		tr := &tracker{base: backend.base(t)}
		rt, _ := httpx.New(httpx.Config{Base: tr, Retry: fastPolicy(3),
			Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: 5 * time.Millisecond}})
		target := mustURL(backend.URL)
		proxy := &httputil.ReverseProxy{
			Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
			Transport: rt,
			ErrorLog:  nil,
		}
		front := httptest.NewServer(proxy)
		defer front.Close()
		req, _ := http.NewRequest(http.MethodPost, front.URL, strings.NewReader("order #7"))
		req.Header.Set("Idempotency-Key", "k7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); resp.StatusCode != 200 || got != "order #7" {
			t.Fatalf("POST through the proxy: %d %q", resp.StatusCode, got)
		}
		greq, _ := http.NewRequest(http.MethodGet, front.URL, strings.NewReader("get body"))
		resp, err = http.DefaultClient.Do(greq)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); resp.StatusCode != 200 || got != "get body" {
			t.Fatalf("hedged GET through the proxy: %d %q", resp.StatusCode, got)
		}
		http.DefaultClient.CloseIdleConnections()
		waitFor(t, func() bool { return tr.open.Load() == 0 })
	})
}
