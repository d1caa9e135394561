package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// onlyOnce is a request body that cannot be sent twice: no GetBody, and
// larger than the test's MaxReplayBytes.
func onlyOnce(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

// abort ends the exchange with no answer, on HTTP/1.1 (the connection
// closes) and HTTP/2 (the stream is reset).
func abort(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }

// A request whose body is sent once (too large to keep for a resend) is a
// call like any other for the Retry policy's hooks: one OnAttempt and one
// OnDone, with the request readable from their context (RequestFrom), the
// policy's name, one attempt and the error RoundTrip returns; over
// HTTP/1.1 and HTTP/2, with or without hedging, answered or failed.
func TestHostileObsSendOnceReachesHooks(t *testing.T) {
	const body = "0123456789abcdef0123456789abcdef" // 32 bytes, over MaxReplayBytes
	for _, h2 := range []bool{false, true} {
		for _, hedged := range []bool{false, true} {
			for _, fail := range []bool{false, true} {
				t.Run(fmt.Sprintf("h2=%v/hedged=%v/fail=%v", h2, hedged, fail), func(t *testing.T) {
					step := status(200, "ok")
					if fail {
						step = abort
					}
					srv := newScript(t, h2, step)
					log := &hookLog{}
					tr := &tracker{base: srv.base(t)}
					cfg := httpx.Config{Base: tr, MaxReplayBytes: 16,
						Retry: &retry.Policy{Name: "api", Backoff: retry.Constant{}, Hooks: log.hooks()}}
					if hedged {
						cfg.Hedge = &retry.HedgePolicy{Name: "api-hedge", Delay: 1 << 40}
					}
					client := mustNew(t, cfg)
					ctx := context.WithValue(context.Background(), traceKey{}, "t9")
					req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/x", onlyOnce(body))
					resp, err := client.Do(req)
					if fail {
						if err == nil {
							resp.Body.Close()
							t.Fatal("a hang-up answered")
						}
					} else {
						if err != nil {
							t.Fatal(err)
						}
						if got := readAll(t, resp); got != "ok" {
							t.Fatalf("body %q", got)
						}
						if got := srv.Bodies(); !slices.Equal(got, []string{body}) {
							t.Errorf("server got bodies %q", got)
						}
					}
					host := mustURL(srv.URL).Host
					at := func(hook string) string { return fmt.Sprintf("%s api: PUT %s trace=t9", hook, host) }
					log.mu.Lock()
					defer log.mu.Unlock()
					if want := []string{at("OnAttempt"), at("OnDone")}; !slices.Equal(log.lines, want) {
						t.Errorf("hook calls:\n got %q\nwant %q", log.lines, want)
					}
					if len(log.dones) != 1 {
						t.Fatalf("%d OnDone, want 1", len(log.dones))
					}
					d := log.dones[0]
					if d.Attempts != 1 || d.Hedges != 0 {
						t.Errorf("OnDone %+v, want 1 attempt", d)
					}
					if fail {
						var nr *httpx.NotReplayableError
						if d.Winner != 0 || !errors.As(d.Err, &nr) || d.Err != errors.Unwrap(err) { // client.Do wraps it in a *url.Error
							t.Errorf("OnDone %+v, want no winner and RoundTrip's error (%v)", d, err)
						}
					} else if d.Winner != 1 || d.Err != nil || d.Outcome() != retry.OutcomeSuccess {
						t.Errorf("OnDone %+v, want attempt 1 won", d)
					}
					if tr.open.Load() != 0 {
						t.Errorf("%d bodies left open", tr.open.Load())
					}
				})
			}
		}
	}
}

// Hooks change nothing of a request sent once: with its context already
// cancelled, RoundTrip returns the same error with or without them, and
// OnDone still sees the call, once, with that error; Config.OnAttempt
// sees nothing, as nothing was sent.
func TestHostileObsSendOnceCancelled(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			srv := newScript(t, h2, status(200, "ok"))
			base := srv.base(t)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			send := func(hooks *retry.Hooks, onAttempt func(context.Context, httpx.AttemptEvent)) error {
				tr, err := httpx.New(httpx.Config{Base: base, MaxReplayBytes: 4, OnAttempt: onAttempt,
					Retry: &retry.Policy{Name: "api", Hooks: hooks}})
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, onlyOnce("too long to keep"))
				req.ContentLength = 16 // over MaxReplayBytes: sent once, unread
				resp, err := tr.RoundTrip(req)
				if err == nil {
					resp.Body.Close()
					t.Fatal("a cancelled request answered")
				}
				return err
			}
			bare := send(nil, nil)
			log := &hookLog{}
			attempts := 0
			got := send(log.hooks(), func(context.Context, httpx.AttemptEvent) { attempts++ })
			if got.Error() != bare.Error() || !errors.Is(got, context.Canceled) {
				t.Errorf("with hooks: %v; without: %v", got, bare)
			}
			if len(log.dones) != 1 || log.dones[0].Err != got || log.dones[0].Attempts != 1 {
				t.Errorf("OnDone %+v, want one with RoundTrip's error", log.dones)
			}
			if attempts != 0 {
				t.Errorf("Config.OnAttempt called %d times, want 0", attempts)
			}
		})
	}
}

// A Retry hook that panics as a request sent once ends: OnDone sees the
// panic once, the panic reaches the caller with its value, and the
// response is closed.
func TestHostileObsSendOncePanic(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			srv := newScript(t, h2, status(200, "ok"))
			tr := &tracker{base: srv.base(t)}
			var dones []retry.CallEvent
			hooks := &retry.Hooks{
				OnAttempt: func(context.Context, retry.AttemptEvent) { panic("boom") },
				OnDone:    func(_ context.Context, e retry.CallEvent) { dones = append(dones, e) },
			}
			rt, err := httpx.New(httpx.Config{Base: tr, MaxReplayBytes: 4, Retry: &retry.Policy{Hooks: hooks}})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPut, srv.URL, onlyOnce("too long to keep"))
			func() {
				defer func() {
					if r := recover(); r != "boom" {
						t.Errorf("recovered %v, want boom", r)
					}
				}()
				resp, _ := rt.RoundTrip(req)
				if resp != nil {
					resp.Body.Close()
				}
				t.Error("no panic")
			}()
			var pe *retry.PanicError
			if len(dones) != 1 || !errors.As(dones[0].Err, &pe) || pe.Value != "boom" || dones[0].Outcome() != retry.OutcomePanic {
				t.Errorf("OnDone %+v, want one panic", dones)
			}
			if tr.open.Load() != 0 {
				t.Errorf("%d bodies left open", tr.open.Load())
			}
		})
	}
}

// A hedged request whose first copy loses and ends after RoundTrip
// returned (and after the caller closed the winner's body): every hook
// still reads the request from its context, Config.OnAttempt and the
// Hedge hooks see both copies once, and the counts of OnDone match;
// under -race, over HTTP/1.1 and HTTP/2.
func TestHostileObsHedgeLateLoserHooks(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			srv := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Attempt") == "1" {
					<-r.Context().Done() // the first copy loses
					return
				}
				status(200, "ok")(w, r)
			})
			log := &hookLog{}
			var configAttempts, hedgeAttempts, noRequest atomic.Int32
			hooks := log.hooks()
			onAttempt := hooks.OnAttempt
			hooks.OnAttempt = func(ctx context.Context, e retry.AttemptEvent) {
				if e.Name == "api-hedge" {
					hedgeAttempts.Add(1)
				}
				onAttempt(ctx, e)
			}
			tr := &tracker{base: srv.base(t)}
			client := mustNew(t, httpx.Config{Base: tr, AttemptHeader: "Attempt",
				Retry: &retry.Policy{Name: "api", Hooks: hooks},
				Hedge: &retry.HedgePolicy{Name: "api-hedge", Delay: time.Millisecond, MaxAttempts: 2, Hooks: hooks},
				OnAttempt: func(ctx context.Context, e httpx.AttemptEvent) {
					if r, ok := httpx.RequestFrom(ctx); !ok || r != e.Request {
						noRequest.Add(1)
					}
					configAttempts.Add(1)
				}})
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/h", nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, resp); got != "ok" {
				t.Fatalf("body %q", got)
			}
			for i := 0; (configAttempts.Load() < 2 || hedgeAttempts.Load() < 2) && i < 5000; i++ {
				time.Sleep(time.Millisecond) // the loser ends once cancelled
			}
			if configAttempts.Load() != 2 || hedgeAttempts.Load() != 2 || noRequest.Load() != 0 {
				t.Errorf("Config.OnAttempt %d, Hedge OnAttempt %d, %d without the request", configAttempts.Load(), hedgeAttempts.Load(), noRequest.Load())
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			for _, l := range log.lines {
				if strings.Contains(l, "no request") {
					t.Errorf("hook without the request: %s", l)
				}
			}
			var inner, outer retry.CallEvent
			for _, d := range log.dones {
				if d.Name == "api-hedge" {
					inner = d
				} else {
					outer = d
				}
			}
			if inner.Attempts != 2 || inner.Hedges != 1 || inner.Winner != 2 || outer.Attempts != 1 || outer.Winner != 1 {
				t.Errorf("OnDone: hedge %+v, retry %+v", inner, outer)
			}
			if tr.open.Load() != 0 {
				t.Errorf("%d bodies left open", tr.open.Load())
			}
		})
	}
}

// A request sent once that the caller cancels in flight is reported to
// OnDone as cancelled (Outcome), as a retried one is, though its error is
// RoundTrip's own and no *retry.Error.
func TestHostileObsSendOnceCancelledInFlight(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
				cancel()
				<-r.Context().Done()
			})
			log := &hookLog{}
			client := mustNew(t, httpx.Config{Base: srv.base(t), MaxReplayBytes: 4,
				Retry: &retry.Policy{Name: "api", Hooks: log.hooks()}})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, onlyOnce("too long to keep"))
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("answered")
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			if len(log.dones) != 1 || log.dones[0].Outcome() != retry.OutcomeCanceled {
				t.Errorf("OnDone %+v (outcome %q), want one cancelled", log.dones, log.dones[0].Outcome())
			}
		})
	}
}

// A request that a breaker refuses, sent once or not, is reported to
// OnDone as a breaker's refusal (Outcome); the breaker's OnBreakerReject
// gets the request's context, from which RequestFrom reads the request.
func TestHostileObsBreakerRejectSeesRequest(t *testing.T) {
	for _, once := range []bool{false, true} {
		t.Run(fmt.Sprintf("once=%v", once), func(t *testing.T) {
			srv := newScript(t, false, status(200, "ok"))
			log := &hookLog{}
			var rejects []string
			bh := &retry.Hooks{OnBreakerReject: func(ctx context.Context, e retry.BreakerReject) {
				r, ok := httpx.RequestFrom(ctx)
				trace, _ := ctx.Value(traceKey{}).(string)
				rejects = append(rejects, fmt.Sprint(ok && r.Method == http.MethodPut, " ", trace, " ", e.Name))
			}}
			br, _ := retry.NewBreaker(retry.BreakerConfig{Name: "srv", Hooks: bh})
			br.ForceOpen(0)
			client := mustNew(t, httpx.Config{Base: srv.base(t), MaxReplayBytes: 4,
				Breaker: func(*http.Request) *retry.Breaker { return br },
				Retry:   &retry.Policy{Name: "api", Hooks: log.hooks()}})
			body := "ok"
			if once {
				body = "too long to keep"
			}
			ctx := context.WithValue(context.Background(), traceKey{}, "t3")
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, onlyOnce(body))
			resp, err := client.Do(req)
			if !errors.Is(err, retry.ErrBreakerOpen) {
				if resp != nil {
					resp.Body.Close()
				}
				t.Fatalf("err %v, want the breaker's", err)
			}
			if len(log.dones) != 1 || log.dones[0].Outcome() != retry.OutcomeBreaker || srv.hits.Load() != 0 {
				t.Errorf("OnDone %+v, want one breaker; %d sent", log.dones, srv.hits.Load())
			}
			if len(rejects) != 1 || rejects[0] != "true t3 srv" {
				t.Errorf("rejections %q", rejects)
			}
		})
	}
}

// refusing is a named Budget that refuses every extra attempt.
type refusing struct{ name string }

func (refusing) First()         {}
func (refusing) Extra() bool    { return false }
func (refusing) Result(bool)    {}
func (b refusing) Name() string { return b.name }

// A budget's refusal names the budget (its Name method) in
// OnBudgetRefused, whether the request is hedged or not, its budget set
// on the policy or by Config.Budget.
func TestHostileObsBudgetNamed(t *testing.T) {
	for _, code := range []int{503, 502} { // 503 stops a hedged round; 502 asks for a copy at once
		for _, hedged := range []bool{false, true} {
			for _, perRequest := range []bool{false, true} {
				t.Run(fmt.Sprintf("%d/hedged=%v/per-request=%v", code, hedged, perRequest), func(t *testing.T) {
					srv := newScript(t, false, status(code, "busy"))
					var refusals []retry.BudgetEvent
					hooks := &retry.Hooks{OnBudgetRefused: func(_ context.Context, e retry.BudgetEvent) { refusals = append(refusals, e) }}
					cfg := httpx.Config{Base: srv.base(t), Retry: &retry.Policy{Name: "api", Hooks: hooks, Backoff: retry.Constant{}}}
					if perRequest {
						cfg.Budget = func(*http.Request) retry.Budget { return refusing{"tb"} }
					} else {
						cfg.Retry.Budget = refusing{"tb"}
					}
					if hedged {
						cfg.Hedge = &retry.HedgePolicy{Name: "api-hedge", Delay: time.Hour, MaxAttempts: 2, Hooks: hooks}
					}
					client := mustNew(t, cfg)
					resp, err := client.Get(srv.URL)
					if err != nil {
						t.Fatal(err)
					}
					readAll(t, resp)
					if len(refusals) == 0 {
						t.Fatal("no refusal reported")
					}
					for _, e := range refusals {
						if e.Budget != "tb" {
							t.Errorf("refusal %+v, want the budget's name", e)
						}
					}
				})
			}
		}
	}
}

// A request that ends before its first attempt, its body unread because
// its context is done, is still a call for OnDone, as a GET with that
// context is: once, with no attempt, cancelled.
func TestHostileObsUnsentReachesOnDone(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		for _, hedged := range []bool{false, true} {
			for _, method := range []string{http.MethodGet, http.MethodPut} {
				t.Run(fmt.Sprintf("h2=%v/hedged=%v/%s", h2, hedged, method), func(t *testing.T) {
					srv := newScript(t, h2, status(200, "ok"))
					log := &hookLog{}
					cfg := httpx.Config{Base: srv.base(t), Retry: &retry.Policy{Name: "api", Hooks: log.hooks()}}
					if hedged {
						cfg.Hedge = &retry.HedgePolicy{Name: "api-hedge"}
					}
					client := mustNew(t, cfg)
					ctx, cancel := context.WithCancel(context.WithValue(context.Background(), traceKey{}, "t1"))
					cancel()
					var body io.Reader
					if method == http.MethodPut {
						body = onlyOnce("small")
					}
					req, _ := http.NewRequestWithContext(ctx, method, srv.URL, body)
					resp, err := client.Do(req)
					if err == nil {
						resp.Body.Close()
						t.Fatal("a cancelled request answered")
					}
					log.mu.Lock()
					defer log.mu.Unlock()
					want := fmt.Sprintf("OnDone api: %s %s trace=t1", method, mustURL(srv.URL).Host)
					if len(log.dones) != 1 || log.dones[0].Attempts != 0 || log.dones[0].Outcome() != retry.OutcomeCanceled ||
						!slices.Equal(log.lines, []string{want}) {
						t.Errorf("OnDone %+v, hooks %q; want one cancelled, no attempt", log.dones, log.lines)
					}
					if srv.hits.Load() != 0 {
						t.Errorf("%d requests sent", srv.hits.Load())
					}
				})
			}
		}
	}
}

// A request whose budget (Config.Budget) is invalid is reported to OnDone
// once as invalid, hedged or not, and nothing is sent.
func TestHostileObsInvalidBudgetReachesOnDone(t *testing.T) {
	for _, hedged := range []bool{false, true} {
		t.Run(fmt.Sprintf("hedged=%v", hedged), func(t *testing.T) {
			srv := newScript(t, false, status(200, "ok"))
			log := &hookLog{}
			cfg := httpx.Config{Base: srv.base(t), Retry: &retry.Policy{Name: "api", Hooks: log.hooks()},
				Budget: func(*http.Request) retry.Budget { return (*retry.TokenBucket)(nil) }}
			if hedged {
				cfg.Hedge = &retry.HedgePolicy{Name: "api-hedge"}
			}
			client := mustNew(t, cfg)
			_, err := client.Get(srv.URL)
			if !errors.Is(err, retry.ErrInvalid) {
				t.Fatalf("err %v, want ErrInvalid", err)
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			if len(log.dones) != 1 || log.dones[0].Outcome() != retry.OutcomeInvalid || srv.hits.Load() != 0 {
				t.Errorf("OnDone %+v, %d sent; want one invalid, none sent", log.dones, srv.hits.Load())
			}
		})
	}
}

// A 503 to a request sent once is returned as it is, and reported to
// OnDone as a failed call, as a retried request whose attempts all got a
// 503 is: a metric of calls by outcome counts both alike.
func TestSendOnceRetryableStatusIsAFailedCall(t *testing.T) {
	const body = "0123456789abcdef0123456789abcdef" // 32 bytes, over MaxReplayBytes
	for _, h2 := range []bool{false, true} {
		for _, once := range []bool{true, false} {
			t.Run(fmt.Sprintf("h2=%v/once=%v", h2, once), func(t *testing.T) {
				srv := newScript(t, h2, status(503, "busy"))
				log := &hookLog{}
				cfg := httpx.Config{Base: srv.base(t), MaxReplayBytes: 16,
					Retry: &retry.Policy{Name: "api", MaxAttempts: 2, Backoff: retry.Constant{}, Hooks: log.hooks()}}
				var req *http.Request
				if once {
					req, _ = http.NewRequest(http.MethodPut, srv.URL, onlyOnce(body))
				} else {
					req, _ = http.NewRequest(http.MethodPut, srv.URL, strings.NewReader(body[:8]))
				}
				resp, err := mustNew(t, cfg).Do(req)
				if err != nil || resp.StatusCode != 503 {
					t.Fatalf("Do = %v, %v; want the 503", resp, err)
				}
				readAll(t, resp)
				log.mu.Lock()
				defer log.mu.Unlock()
				if len(log.dones) != 1 {
					t.Fatalf("%d OnDone, want 1", len(log.dones))
				}
				if d := log.dones[0]; d.Outcome() != retry.OutcomeExhausted || d.Winner != 0 {
					t.Errorf("OnDone %+v: outcome %q, want exhausted with no winner", d, d.Outcome())
				}
			})
		}
	}
}
