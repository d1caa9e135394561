package httpx_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

type traceKey struct{}

// hookLog records, for every hook call, the hook, the policy's name, and
// what the context says: the request's method and host, and the trace id
// the caller put in the request's context.
type hookLog struct {
	mu    sync.Mutex
	lines []string
	dones []retry.CallEvent
}

func (l *hookLog) saw(hook, name string, ctx context.Context) {
	req, ok := httpx.RequestFrom(ctx)
	line := fmt.Sprintf("%s %s: no request", hook, name)
	if ok {
		trace, _ := ctx.Value(traceKey{}).(string)
		line = fmt.Sprintf("%s %s: %s %s trace=%s", hook, name, req.Method, req.URL.Host, trace)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *hookLog) hooks() *retry.Hooks {
	return &retry.Hooks{
		OnAttempt: func(ctx context.Context, e retry.AttemptEvent) { l.saw("OnAttempt", e.Name, ctx) },
		OnRetry:   func(ctx context.Context, e retry.RetryEvent) { l.saw("OnRetry", e.Name, ctx) },
		OnHedge:   func(ctx context.Context, e retry.HedgeEvent) { l.saw("OnHedge", e.Name, ctx) },
		OnDone: func(ctx context.Context, e retry.CallEvent) {
			l.saw("OnDone", e.Name, ctx)
			l.mu.Lock()
			l.dones = append(l.dones, e)
			l.mu.Unlock()
		},
	}
}

// The hooks of Config.Retry and Config.Hedge, and Config.OnAttempt, see
// every request with a context from which the request (method, host) and
// the caller's context values can be read, over HTTP/1.1 and HTTP/2,
// hedged or not; the responses that are retried are still drained and
// closed (one connection), with the caller's OnRetry kept.
func TestHooksSeeRequest(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		for _, hedged := range []bool{false, true} {
			t.Run(fmt.Sprintf("h2=%v/hedged=%v", h2, hedged), func(t *testing.T) {
				srv := newScript(t, h2, status(503, "busy"), status(200, "ok"))
				log := &hookLog{}
				tr := &tracker{base: srv.base(t)}
				cfg := httpx.Config{Base: tr,
					Retry: &retry.Policy{Name: "api", Backoff: retry.Constant{}, Hooks: log.hooks()},
					OnAttempt: func(ctx context.Context, e httpx.AttemptEvent) {
						log.saw(fmt.Sprintf("Config.OnAttempt#%d/%d", e.Attempt, e.StatusCode), "", ctx)
					}}
				if hedged {
					cfg.Hedge = &retry.HedgePolicy{Name: "api-hedge", Delay: 1 << 40, Hooks: log.hooks()}
				}
				client := mustNew(t, cfg)
				ctx := context.WithValue(context.Background(), traceKey{}, "t7")
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/x", nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if got := readAll(t, resp); got != "ok" {
					t.Fatalf("body %q", got)
				}
				host := mustURL(srv.URL).Host
				at := func(hook, name string) string {
					return fmt.Sprintf("%s %s: GET %s trace=t7", hook, name, host)
				}
				// Config.OnAttempt reports a failed attempt with the wait
				// after it, a successful one within the attempt.
				want := []string{
					at("OnAttempt", "api"),
					at("Config.OnAttempt#1/503", ""),
					at("OnRetry", "api"),
					at("Config.OnAttempt#2/200", ""),
					at("OnAttempt", "api"),
					at("OnDone", "api"),
				}
				if hedged {
					// Each round is a call of Hedge, inside an attempt of
					// the retry loop; Config.OnAttempt reports a hedged
					// attempt as it ends, before Hedge's OnAttempt.
					want = []string{
						at("Config.OnAttempt#1/503", ""),
						at("OnAttempt", "api-hedge"),
						at("OnDone", "api-hedge"),
						at("OnAttempt", "api"),
						at("OnRetry", "api"),
						at("Config.OnAttempt#2/200", ""),
						at("OnAttempt", "api-hedge"),
						at("OnDone", "api-hedge"),
						at("OnAttempt", "api"),
						at("OnDone", "api"),
					}
				}
				log.mu.Lock()
				defer log.mu.Unlock()
				if !slices.Equal(log.lines, want) {
					t.Errorf("hook calls:\n got %q\nwant %q", log.lines, want)
				}
				last := log.dones[len(log.dones)-1]
				if last.Name != "api" || last.Attempts != 2 || last.Winner != 2 || last.Outcome() != retry.OutcomeSuccess {
					t.Errorf("the request's OnDone: %+v", last)
				}
				if n := srv.conns.Load(); n != 1 {
					t.Errorf("%d connections, want 1: the 503 was drained and its connection reused", n)
				}
				if tr.open.Load() != 0 {
					t.Errorf("%d bodies left open", tr.open.Load())
				}
			})
		}
	}
}

// When attempts run out on a status, OnDone says so and the response
// still comes back, body intact.
func TestHooksExhaustedStatus(t *testing.T) {
	srv := newScript(t, false, status(503, "busy"))
	log := &hookLog{}
	client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: &retry.Policy{Name: "api", MaxAttempts: 2,
		Backoff: retry.Constant{}, Hooks: log.hooks()}})
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); resp.StatusCode != 503 || got != "busy" {
		t.Fatalf("%d %q, want the last 503", resp.StatusCode, got)
	}
	if len(log.dones) != 1 || log.dones[0].Outcome() != retry.OutcomeExhausted || log.dones[0].Attempts != 2 {
		t.Errorf("OnDone events %+v, want one exhausted after 2 attempts", log.dones)
	}
}

// A context that no Transport made carries no request.
func TestRequestFromOtherContext(t *testing.T) {
	if r, ok := httpx.RequestFrom(context.Background()); ok || r != nil {
		t.Errorf("RequestFrom(Background) = %v, %v", r, ok)
	}
}
