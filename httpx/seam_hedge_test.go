package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"github.com/retrykit/retry/internal/stepclock"
)

// Item 10: a hedge copy answered 503 stops the round from sending more
// copies but leaves the primary running, which then wins: 2 requests in
// 50ms, not a cancelled primary, a wait and a new round.
func TestHedgePushbackKeepsPrimary(t *testing.T) {
	for _, code := range []int{503, 429} {
		synctest.Test(t, func(t *testing.T) {
			base := &hedgeBase{delays: []time.Duration{50 * time.Millisecond, 0}, codes: []int{200, code}}
			rt, _ := httpx.New(httpx.Config{Base: base, Retry: &retry.Policy{Backoff: retry.Constant{Interval: time.Second}},
				Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: 10 * time.Millisecond}})
			req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
			start := time.Now()
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			if resp.StatusCode != 200 || base.n.Load() != 2 || time.Since(start) != 50*time.Millisecond {
				t.Fatalf("%d: status %d after %d requests in %v; want 200 after 2 in 50ms",
					code, resp.StatusCode, base.n.Load(), time.Since(start))
			}
			synctest.Wait() // drains of held losers run on their own goroutine
			if base.open.Load() != 0 {
				t.Fatalf("%d bodies open", base.open.Load())
			}
		})
	}
}

// Item 10: a half-open breaker's probe is not killed by its own hedge: the
// copy is refused (ErrTooManyProbes), the probe goes on, succeeds, and the
// breaker closes.
func TestHedgeKeepsHalfOpenProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second})
		done, _ := br.Allow()
		done(errors.New("down"))
		time.Sleep(time.Second) // the next call is the probe
		base := &hedgeBase{delays: []time.Duration{50 * time.Millisecond}}
		rt, _ := httpx.New(httpx.Config{Base: base, Retry: fastPolicy(3),
			Hedge:   &retry.HedgePolicy{MaxAttempts: 3, Delay: 10 * time.Millisecond},
			Breaker: func(*http.Request) *retry.Breaker { return br }})
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.StatusCode != 200 || base.n.Load() != 1 || br.State() != retry.BreakerClosed {
			t.Fatalf("status %d after %d requests, breaker %v; want 200 after 1, closed",
				resp.StatusCode, base.n.Load(), br.State())
		}
	})
}

// Item 11: a hedged call charges its budget exactly as a sequential one:
// 4 calls to a host that always answers 503 (or 429) send 7 requests
// either way with a per-host TokenBucket.
func TestHedgedBudgetSeesEveryFailure(t *testing.T) {
	for _, code := range []int{503, 429} {
		sent := map[bool]int32{}
		for _, hedged := range []bool{false, true} {
			synctest.Test(t, func(t *testing.T) {
				base := &hedgeBase{delays: []time.Duration{0}, codes: []int{code}}
				budgets, _ := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) retry.Budget { return &retry.TokenBucket{} })
				cfg := httpx.Config{Base: base, Retry: fastPolicy(3), Budget: budgets.For}
				if hedged {
					cfg.Hedge = &retry.HedgePolicy{MaxAttempts: 2, Delay: 10 * time.Millisecond}
				}
				rt, _ := httpx.New(cfg)
				for range 4 {
					req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
					resp, err := rt.RoundTrip(req)
					if err != nil {
						t.Fatal(err)
					}
					readAll(t, resp)
				}
				sent[hedged] = base.n.Load()
			})
		}
		if sent[false] != 7 || sent[true] != 7 {
			t.Fatalf("%d: %d requests sequential, %d hedged; want 7 and 7", code, sent[false], sent[true])
		}
	}
}

// Items 8 and 9: a request rejected by an open breaker was not sent. By
// default the call ends at once with the rejection, whatever the method;
// with Policy.WaitForProbe a POST waits for the next probe like a GET.
func TestBreakerRejectionPostWaitsForProbe(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) { breakerRejectionPost(t, h2) })
}

func breakerRejectionPost(t *testing.T, h2 bool) {
	for _, wait := range []bool{false, true} {
		srv := newScript(t, h2, status(200, "ok"))
		clk := stepclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		br, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: 10 * time.Second, Clock: clk})
		done, _ := br.Allow()
		done(errors.New("down"))
		client := mustNew(t, httpx.Config{Base: srv.base(t),
			Retry:   &retry.Policy{Clock: clk, WaitForProbe: wait},
			Breaker: func(*http.Request) *retry.Breaker { return br }})
		resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("order #1"))
		if !wait {
			if !errors.Is(err, retry.ErrBreakerOpen) || srv.hits.Load() != 0 || len(clk.Waits()) != 0 {
				t.Fatalf("err = %v after %d requests and waits %v; want ErrBreakerOpen at once", err, srv.hits.Load(), clk.Waits())
			}
			var pe *retry.PushbackError
			if errors.As(err, &pe) || strings.Contains(err.Error(), "server asked") {
				t.Fatalf("err = %v: a breaker's wait reported as server pushback", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if srv.hits.Load() != 1 || len(clk.Waits()) != 1 || clk.Waits()[0] != 10*time.Second {
			t.Fatalf("%d requests after waits %v; want 1 after 10s", srv.hits.Load(), clk.Waits())
		}
		if got := srv.Bodies()[0]; got != "order #1" {
			t.Fatalf("the server got %q", got)
		}
	}
}

// Item 10 over loopback: the hedge copy's 503 reaches the client while the
// primary is still running (the primary's handler waits for the client to
// report it); the primary then wins, and is not cancelled.
func TestHedgePushbackKeepsPrimaryLoopback(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		sawPushback := make(chan struct{})
		var once sync.Once
		srv := newScript(t, h2,
			func(w http.ResponseWriter, r *http.Request) { // the primary
				select {
				case <-sawPushback:
				case <-r.Context().Done():
					return // cancelled: the bug
				case <-time.After(5 * time.Second):
				}
				io.WriteString(w, "primary")
			},
			status(503, "busy"))
		tr := &tracker{base: srv.base(t)}
		client := mustNew(t, httpx.Config{Base: tr, Retry: fastPolicy(3),
			Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond},
			OnAttempt: func(_ context.Context, e httpx.AttemptEvent) {
				if e.StatusCode == 503 {
					once.Do(func() { close(sawPushback) })
				}
			}})
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "primary" || srv.hits.Load() != 2 {
			t.Fatalf("got %q after %d requests; want the primary's answer after 2", got, srv.hits.Load())
		}
		waitFor(t, func() bool { return tr.open.Load() == 0 })
	})
}

// Item 10 over loopback: a half-open breaker's probe, slower than the
// hedge delay, is not cancelled when its hedge copy is refused.
func TestHedgeKeepsHalfOpenProbeLoopback(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		clk := stepclock.New(time.Now())
		br, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk})
		done, _ := br.Allow()
		done(errors.New("down"))
		clk.Add(time.Second)
		srv := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
			waitFor(t, func() bool { return br.Snapshot().Rejected > 0 || r.Context().Err() != nil })
			io.WriteString(w, "probe")
		})
		client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(3),
			Hedge:   &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond},
			Breaker: func(*http.Request) *retry.Breaker { return br }})
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "probe" || br.State() != retry.BreakerClosed {
			t.Fatalf("got %q, breaker %v; want the probe's answer and a closed breaker", got, br.State())
		}
	})
}

// Item 11 over loopback: hedged or not, 4 calls to a host that always
// answers 503 send 7 requests with a per-host TokenBucket.
func TestHedgedBudgetSeesEveryFailureLoopback(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		for _, hedged := range []bool{false, true} {
			srv := newScript(t, h2, status(503, "busy"))
			budgets, _ := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) retry.Budget { return &retry.TokenBucket{} })
			cfg := httpx.Config{Base: srv.base(t), Retry: fastPolicy(3), Budget: budgets.For}
			if hedged {
				cfg.Hedge = &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour}
			}
			client := mustNew(t, cfg)
			for range 4 {
				resp, err := client.Get(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				readAll(t, resp)
			}
			if srv.hits.Load() != 7 {
				t.Fatalf("hedged %v: %d requests, want 7", hedged, srv.hits.Load())
			}
		}
	})
}
