package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// overrideCase is a request context and the requests a server that always
// answers 503 sees for it, from a client of 4 attempts.
type overrideCase struct {
	name string
	ctx  func(context.Context) context.Context
	hits int64
}

var overrideCases = []overrideCase{
	{"none", func(ctx context.Context) context.Context { return ctx }, 4},
	{"NoRetry", httpx.NoRetry, 1},
	{"WithPolicy(2)", func(ctx context.Context) context.Context { return httpx.WithPolicy(ctx, fastPolicy(2)) }, 2},
	{"WithPolicy(6)", func(ctx context.Context) context.Context { return httpx.WithPolicy(ctx, fastPolicy(6)) }, 6},
	{"WithPolicy(6) then NoRetry", func(ctx context.Context) context.Context {
		return httpx.NoRetry(httpx.WithPolicy(ctx, fastPolicy(6)))
	}, 1},
	{"NoRetry then WithPolicy(2)", func(ctx context.Context) context.Context {
		return httpx.WithPolicy(httpx.NoRetry(ctx), fastPolicy(2))
	}, 2},
	{"NoHedge", httpx.NoHedge, 4},
}

// A request's context chooses its attempts: exactly that many requests
// reach a server that answers 503, whose last answer comes back whole
// (nil error, as net/http's contract wants), on one connection, over
// HTTP/1.1 and HTTP/2, through one shared client.
func TestOverrideAttempts(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		for _, hedged := range []bool{false, true} {
			for _, tc := range overrideCases {
				name := fmt.Sprintf("%s/hedged=%v/%s", protoName(h2), hedged, tc.name)
				t.Run(name, func(t *testing.T) {
					srv := newScript(t, h2, status(503, "busy"))
					tr := &tracker{base: srv.base(t)}
					cfg := httpx.Config{Base: tr, Retry: fastPolicy(4)}
					if hedged {
						// A 503 stops a round: one copy per attempt.
						cfg.Hedge = &retry.HedgePolicy{MaxAttempts: 3, Delay: time.Hour}
					}
					client := mustNew(t, cfg)
					req, _ := http.NewRequestWithContext(tc.ctx(context.Background()), "PUT", srv.URL, strings.NewReader("payload"))
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					if body := readAll(t, resp); resp.StatusCode != 503 || body != "busy" {
						t.Fatalf("%d %q, want the last 503 whole", resp.StatusCode, body)
					}
					if got := srv.hits.Load(); got != tc.hits {
						t.Fatalf("server saw %d requests, want %d", got, tc.hits)
					}
					for i, b := range srv.Bodies() {
						if b != "payload" {
							t.Fatalf("request %d carried %q", i+1, b)
						}
					}
					if tr.open.Load() != 0 || srv.conns.Load() != 1 {
						t.Fatalf("%d bodies open, %d connections (want 0, 1)", tr.open.Load(), srv.conns.Load())
					}
				})
			}
		}
	}
}

// slowFirst answers its first request only once a second has arrived (or
// the first is cancelled), so a call that gets an answer was hedged.
func slowFirst() http.HandlerFunc {
	second := make(chan struct{})
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-second:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "first")
			return
		}
		close(second)
		io.WriteString(w, "second")
	}
}

// WithHedge hedges a request on a client that does not hedge; NoRetry
// (one attempt, one copy) and NoHedge turn a client's hedging off.
func TestOverrideHedge(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(protoName(h2), func(t *testing.T) {
			hedge := &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond}

			srv := newScript(t, h2, slowFirst())
			client := mustNew(t, httpx.Config{Base: srv.base(t)})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(httpx.WithHedge(ctx, hedge), "GET", srv.URL, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("WithHedge: %v (a second copy was never sent?)", err)
			}
			readAll(t, resp)
			if srv.hits.Load() != 2 {
				t.Fatalf("WithHedge: %d requests, want 2", srv.hits.Load())
			}

			for _, off := range []func(context.Context) context.Context{httpx.NoRetry, httpx.NoHedge} {
				srv := newScript(t, h2, status(200, "ok"))
				client := mustNew(t, httpx.Config{Base: srv.base(t), Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: time.Nanosecond}})
				for range 5 {
					req, _ := http.NewRequestWithContext(off(context.Background()), "GET", srv.URL, nil)
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					readAll(t, resp)
				}
				if got := srv.hits.Load(); got != 5 {
					t.Fatalf("hedging off: %d requests for 5 calls", got)
				}
			}
		})
	}
}

// An invalid policy in the context fails the request with ErrInvalid:
// nothing is sent, and the request's body is closed.
func TestOverrideInvalid(t *testing.T) {
	srv := newScript(t, false, status(200, "ok"))
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		split bool
	}{
		{"nil policy", httpx.WithPolicy(context.Background(), nil), false},
		{"nil hedge", httpx.WithHedge(context.Background(), nil), false},
		{"Retryable", httpx.WithPolicy(context.Background(), &retry.Policy{Retryable: func(error) bool { return true }}), false},
		{"AttemptTimeout", httpx.WithPolicy(context.Background(), &retry.Policy{AttemptTimeout: time.Second}), false},
		{"SplitDeadline", httpx.WithPolicy(context.Background(), &retry.Policy{SplitDeadline: true}), false},
		{"MaxAttempts", httpx.WithPolicy(context.Background(), &retry.Policy{MaxAttempts: -5}), false},
		{"Unlimited with Config.SplitDeadline", httpx.WithPolicy(context.Background(), &retry.Policy{MaxAttempts: retry.Unlimited}), true},
		{"hedge Retryable", httpx.WithHedge(context.Background(), &retry.HedgePolicy{Retryable: func(error) bool { return true }}), false},
		{"hedge OnDiscard", httpx.WithHedge(context.Background(), &retry.HedgePolicy{OnDiscard: func(any) {}}), false},
		{"hedge Delay", httpx.WithHedge(context.Background(), &retry.HedgePolicy{Delay: -time.Second}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := mustNew(t, httpx.Config{Base: srv.base(t), SplitDeadline: tc.split})
			body := &closeCounter{Reader: strings.NewReader("x")}
			req, _ := http.NewRequestWithContext(tc.ctx, "POST", srv.URL, body)
			resp, err := client.Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			if !errors.Is(err, httpx.ErrInvalid) || !errors.Is(err, retry.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "With") {
				t.Fatalf("error %q: want one line naming the function", err)
			}
			if body.closed.Load() != 1 {
				t.Fatalf("body closed %d times", body.closed.Load())
			}
		})
	}
	if srv.hits.Load() != 0 {
		t.Fatalf("%d requests sent", srv.hits.Load())
	}
}

type closeCounter struct {
	io.Reader
	closed atomic.Int32
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }

// One shared client, many goroutines: health checks (NoRetry), bulk calls
// (WithPolicy) and plain calls at once each get their own attempts, and
// the per-host breaker and budget still apply to all of them.
func TestOverrideConcurrent(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(protoName(h2), func(t *testing.T) {
			var mu sync.Mutex
			hits := map[string]int{}
			srv := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				hits[r.URL.Path]++
				mu.Unlock()
				w.WriteHeader(503)
			})
			breakers, err := httpx.Breakers(retry.BreakerConfig{ConsecutiveFailures: 1 << 20}, httpx.PerHostConfig{})
			if err != nil {
				t.Fatal(err)
			}
			client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(3), Breaker: breakers.For})
			var wg sync.WaitGroup
			const each = 10
			for i := range each {
				for _, tc := range overrideCases[:4] {
					wg.Go(func() {
						ctx := tc.ctx(context.Background())
						req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/%s/%d", srv.URL, strings.ReplaceAll(tc.name, "(", "-"), i), nil)
						resp, err := client.Do(req)
						if err != nil {
							t.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					})
				}
			}
			wg.Wait()
			want := map[string]int{"none": 3, "NoRetry": 1, "WithPolicy-2)": 2, "WithPolicy-6)": 6}
			mu.Lock()
			defer mu.Unlock()
			for path, n := range hits {
				name := strings.Split(strings.TrimPrefix(path, "/"), "/")[0]
				if n != want[name] {
					t.Errorf("%s: %d requests, want %d", path, n, want[name])
				}
			}
			if len(hits) != 4*each {
				t.Errorf("%d paths seen, want %d", len(hits), 4*each)
			}
			var breaker *retry.Breaker
			for _, b := range breakers.All() {
				breaker = b
			}
			if s := breaker.Snapshot(); s.ConsecutiveFailures != int64(each*(3+1+2+6)) {
				t.Errorf("the host's breaker counted %d failures, want every attempt's", s.ConsecutiveFailures)
			}
		})
	}
}

// A health check (NoRetry) still asks the host's breaker: two failed
// checks open it, and the third is refused without reaching the server.
func TestNoRetryAsksBreaker(t *testing.T) {
	srv := newScript(t, false, status(503, ""))
	breakers, err := httpx.Breakers(retry.BreakerConfig{ConsecutiveFailures: 2, OpenDuration: time.Hour}, httpx.PerHostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(5), Breaker: breakers.For})
	check := func() error {
		req, _ := http.NewRequestWithContext(httpx.NoRetry(context.Background()), "GET", srv.URL+"/healthz", nil)
		resp, err := client.Do(req)
		if err == nil {
			readAll(t, resp)
		}
		return err
	}
	for range 2 {
		if err := check(); err != nil {
			t.Fatal(err)
		}
	}
	if err := check(); !errors.Is(err, retry.ErrBreakerOpen) {
		t.Fatalf("third check: %v, want the breaker open", err)
	}
	if srv.hits.Load() != 2 {
		t.Fatalf("%d requests, want 2", srv.hits.Load())
	}
}

// NoRetry keeps the rest of the policy in force: its MaxElapsed still
// bounds the one attempt.
func TestNoRetryKeepsMaxElapsed(t *testing.T) {
	srv := newScript(t, false, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: &retry.Policy{MaxAttempts: 5, MaxElapsed: 20 * time.Millisecond}})
	req, _ := http.NewRequestWithContext(httpx.NoRetry(context.Background()), "GET", srv.URL, nil)
	_, err := client.Do(req)
	if !errors.Is(err, retry.ErrElapsed) {
		t.Fatalf("err = %v, want ErrElapsed", err)
	}
	if srv.hits.Load() != 1 {
		t.Fatalf("%d requests, want 1", srv.hits.Load())
	}
}

// NoRetry keeps the budget of the policy in force: its one attempt is
// counted, and a failure takes a token as any attempt's would.
func TestNoRetryKeepsBudget(t *testing.T) {
	srv := newScript(t, false, status(503, ""))
	bucket := &retry.TokenBucket{}
	client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: &retry.Policy{MaxAttempts: 5, Backoff: retry.Constant{}, Budget: bucket}})
	before := bucket.Tokens()
	req, _ := http.NewRequestWithContext(httpx.NoRetry(context.Background()), "GET", srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if srv.hits.Load() != 1 || bucket.Tokens() >= before {
		t.Fatalf("%d requests, tokens %v then %v: want 1 request that took a token", srv.hits.Load(), before, bucket.Tokens())
	}
}
