package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"github.com/retrykit/retry/internal/stepclock"
)

// hostsOf returns the key newValue is told for each URL, in order.
func hostsOf(t *testing.T, urls ...string) []string {
	t.Helper()
	var made []string
	p, err := httpx.NewPerHost(httpx.PerHostConfig{}, func(host string) string {
		made = append(made, host)
		return host
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range urls {
		keys = append(keys, p.For(&http.Request{URL: mustURL(u)}))
	}
	return keys
}

// Hosts of odd forms: two different hosts never share a key.
func TestHostileHostKeyDistinct(t *testing.T) {
	for _, pair := range [][2]string{
		{"http://%ff.example/", "http://%fe.example/"}, // bytes that are not UTF-8
		{"http://%c3%a4.example/", "http://%c3.example/"},
		{"http://[fe80::1%25eth0]/", "http://[fe80::1%25eth1]/"},
		{"http://h:8080/", "http://h:8081/"},
		{"http://h./", "http://h/"},
	} {
		keys := hostsOf(t, pair[0], pair[1])
		if keys[0] == keys[1] {
			t.Errorf("%s and %s share the key %q", pair[0], pair[1], keys[0])
		}
	}
}

// newValue panics: the panic reaches For's caller, the PerHost is left as
// it was, and the host's next For asks newValue again.
func TestHostileNewValuePanics(t *testing.T) {
	var calls atomic.Int32
	p, err := httpx.NewPerHost(httpx.PerHostConfig{MaxHosts: 2}, func(host string) int {
		if calls.Add(1); strings.HasPrefix(host, "bad") {
			panic("boom " + host)
		}
		return len(host)
	})
	if err != nil {
		t.Fatal(err)
	}
	p.For(get("http://a/"))
	p.For(get("http://b/"))
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Fatal("no panic")
			}
		}()
		p.For(get("http://bad/"))
	}()
	if n := p.Len(); n > 2 {
		t.Fatalf("Len %d past the cap", n)
	}
	if got := p.For(get("http://c/")); got != len("c:80") {
		t.Fatalf("For after a panic: %d", got)
	}
	before := calls.Load()
	func() {
		defer func() { recover() }()
		p.For(get("http://bad/"))
	}()
	if calls.Load() != before+1 {
		t.Fatal("newValue not asked again for a host whose first value panicked")
	}
}

// Many hosts, a small cap, For from many goroutines on hot and cold hosts,
// and listings at once: the PerHost never holds more than its cap, and
// All and Len agree.
func TestHostileManyHostsSmallCap(t *testing.T) {
	const cap = 16
	clk := stepclock.New(epoch)
	breakers, err := httpx.Breakers(retry.BreakerConfig{Clock: clk, ConsecutiveFailures: 1, OpenDuration: time.Hour}, httpx.PerHostConfig{MaxHosts: cap, IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	sick := breakers.For(get("https://sick.example/"))
	done, _ := sick.Allow()
	done(errors.New("down"))
	forced := breakers.For(get("https://forced.example/"))
	if err := forced.ForceOpen(0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10000 / 8 {
				breakers.For(get(fmt.Sprintf("https://h%d-%d.example/", g, i)))
				breakers.For(get("https://hot.example/"))
				if i%100 == 0 {
					clk.Add(time.Second)
					n := 0
					for range breakers.All() {
						n++
					}
					if n > cap {
						t.Errorf("All lists %d hosts, cap %d", n, cap)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := breakers.Len(); n > cap {
		t.Fatalf("Len %d, cap %d", n, cap)
	}
	if breakers.For(get("https://sick.example/")) != sick {
		t.Error("the open breaker was dropped")
	}
	if breakers.For(get("https://forced.example/")) != forced {
		t.Error("the forced breaker was dropped")
	}
}

// newValue returns nil (a nil breaker, a typed nil budget): a nil breaker
// is none; a typed nil budget is ErrInvalid, nothing sent, body closed.
func TestHostileNilValues(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(protoName(h2), func(t *testing.T) {
			srv := newScript(t, h2, status(200, "ok"))
			none, _ := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) *retry.Breaker { return nil })
			client := mustNew(t, httpx.Config{Base: srv.base(t), Breaker: none.For})
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, resp); got != "ok" {
				t.Fatal(got)
			}
			for _, hedge := range []*retry.HedgePolicy{nil, {Delay: time.Hour}} {
				for _, big := range []bool{false, true} {
					bad, _ := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) retry.Budget { return (*retry.TokenBucket)(nil) })
					cfg := httpx.Config{Base: srv.base(t), Budget: bad.For, Hedge: hedge}
					if big {
						cfg.MaxReplayBytes = 1
					}
					client = mustNew(t, cfg)
					body := &closeCounter{Reader: strings.NewReader("payload")}
					req, _ := http.NewRequest("PUT", srv.URL, body)
					req.GetBody = nil
					req.ContentLength = 7
					resp, err = client.Do(req)
					if resp != nil {
						resp.Body.Close()
					}
					if !errors.Is(err, httpx.ErrInvalid) {
						t.Errorf("hedge=%v big=%v: %v, want ErrInvalid", hedge != nil, big, err)
					}
					if body.closed.Load() == 0 {
						t.Errorf("hedge=%v big=%v: body not closed", hedge != nil, big)
					}
				}
			}
			if srv.hits.Load() != 1 {
				t.Fatalf("%d requests, want 1", srv.hits.Load())
			}
		})
	}
}

var _ = io.Discard
var _ = url.Parse
var _ = context.Background

// roundCounter is a HedgePolicy whose rounds (calls of Hedge) are counted
// through its OnDone hook; its second copy never starts.
func roundCounter(name string, n *atomic.Int32) *retry.HedgePolicy {
	return &retry.HedgePolicy{Name: name, MaxAttempts: 2, Delay: time.Hour, Hooks: &retry.Hooks{
		OnDone: func(context.Context, retry.CallEvent) { n.Add(1) },
	}}
}

// Every order of WithPolicy, NoRetry, WithHedge and NoHedge (each once,
// any subset) against a model of "the latest applied wins for what it
// sets": the attempts made, and whether they were hedged and by which
// policy. A server that answers 502 (retryable, no pushback) counts the
// attempts.
func TestHostileOverrideOrders(t *testing.T) {
	type op struct {
		name  string
		apply func(ctx context.Context, h *retry.HedgePolicy) context.Context
	}
	ops := []op{
		{"WithPolicy", func(ctx context.Context, _ *retry.HedgePolicy) context.Context {
			return httpx.WithPolicy(ctx, fastPolicy(2))
		}},
		{"NoRetry", func(ctx context.Context, _ *retry.HedgePolicy) context.Context { return httpx.NoRetry(ctx) }},
		{"WithHedge", func(ctx context.Context, h *retry.HedgePolicy) context.Context { return httpx.WithHedge(ctx, h) }},
		{"NoHedge", func(ctx context.Context, _ *retry.HedgePolicy) context.Context { return httpx.NoHedge(ctx) }},
	}
	// model: attempts and who hedges ("", "cfg" or "req").
	model := func(seq []int, cfgHedged bool) (int, string) {
		attempts, once, hedge := 4, false, ""
		if cfgHedged {
			hedge = "cfg"
		}
		for _, i := range seq {
			switch ops[i].name {
			case "WithPolicy":
				attempts, once = 2, false
			case "NoRetry":
				once, hedge = true, ""
			case "WithHedge":
				hedge = "req"
			case "NoHedge":
				hedge = ""
			}
		}
		if once {
			attempts = 1
		}
		return attempts, hedge
	}
	var seqs [][]int
	var perm func(prefix []int, used int)
	perm = func(prefix []int, used int) {
		seqs = append(seqs, append([]int(nil), prefix...))
		for i := range ops {
			if used&(1<<i) == 0 {
				perm(append(prefix, i), used|1<<i)
			}
		}
	}
	perm(nil, 0)
	for _, h2 := range []bool{false, true} {
		srv := newScript(t, h2, status(502, "bad gateway"))
		tr := &tracker{base: srv.base(t)}
		for _, cfgHedged := range []bool{false, true} {
			var cfgRounds, reqRounds atomic.Int32
			cfg := httpx.Config{Base: tr, Retry: fastPolicy(4)}
			if cfgHedged {
				cfg.Hedge = roundCounter("cfg", &cfgRounds)
			}
			client := mustNew(t, cfg)
			for _, seq := range seqs {
				var names []string
				ctx := context.Background()
				reqHedge := roundCounter("req", &reqRounds)
				for _, i := range seq {
					names = append(names, ops[i].name)
					ctx = ops[i].apply(ctx, reqHedge)
				}
				name := fmt.Sprintf("%s/cfgHedged=%v/%s", protoName(h2), cfgHedged, strings.Join(names, ","))
				wantAttempts, wantHedge := model(seq, cfgHedged)
				before := srv.hits.Load()
				cfgRounds.Store(0)
				reqRounds.Store(0)
				req, _ := http.NewRequestWithContext(ctx, "PUT", srv.URL, strings.NewReader("payload"))
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if body := readAll(t, resp); resp.StatusCode != 502 || body != "bad gateway" {
					t.Errorf("%s: %d %q", name, resp.StatusCode, body)
				}
				wantHits := wantAttempts
				if wantHedge != "" {
					wantHits *= 2 // a failed copy starts the next at once
				}
				if got := srv.hits.Load() - before; got != int64(wantHits) {
					t.Errorf("%s: %d requests, want %d", name, got, wantHits)
				}
				gotHedge := ""
				switch {
				case cfgRounds.Load() > 0 && reqRounds.Load() > 0:
					gotHedge = "both"
				case cfgRounds.Load() > 0:
					gotHedge = "cfg"
				case reqRounds.Load() > 0:
					gotHedge = "req"
				}
				if gotHedge != wantHedge {
					t.Errorf("%s: hedged by %q, want %q", name, gotHedge, wantHedge)
				} else if n := cfgRounds.Load() + reqRounds.Load(); wantHedge != "" && n != int32(wantAttempts) {
					t.Errorf("%s: %d hedged rounds, want %d", name, n, wantAttempts)
				}
			}
		}
		for _, b := range srv.Bodies() {
			if b != "payload" {
				t.Fatalf("%s: a body arrived as %q", protoName(h2), b)
			}
		}
		waitFor(t, func() bool { return tr.open.Load() == 0 })
		// Hedged copies run at once, and losers are drained in the
		// background: HTTP/1 may open a few connections, never one per
		// request.
		if n := srv.conns.Load(); h2 && n != 1 || n > 8 {
			t.Errorf("%s: %d connections for %d requests", protoName(h2), n, srv.hits.Load())
		}
	}
}

// The events of a call under an override carry the override's policy
// name: WithPolicy's own, NoRetry's the Config's, WithHedge's for rounds.
func TestHostileOverrideHookNames(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(protoName(h2), func(t *testing.T) {
			srv := newScript(t, h2, status(503, ""), status(200, "ok"))
			var mu sync.Mutex
			var seen []string
			hooks := &retry.Hooks{OnDone: func(ctx context.Context, e retry.CallEvent) {
				req, ok := httpx.RequestFrom(ctx)
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, fmt.Sprintf("%s:%d:%v", e.Name, e.Attempts, ok && req != nil))
			}}
			client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: &retry.Policy{Name: "cfg", MaxAttempts: 3, Backoff: retry.Constant{}, Hooks: hooks}})
			do := func(ctx context.Context) {
				t.Helper()
				srv.hits.Store(0)
				req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				readAll(t, resp)
			}
			do(httpx.WithPolicy(context.Background(), &retry.Policy{Name: "bulk", MaxAttempts: 3, Backoff: retry.Constant{}, Hooks: hooks}))
			do(httpx.NoRetry(context.Background()))
			do(httpx.WithHedge(context.Background(), &retry.HedgePolicy{Name: "hedge", MaxAttempts: 2, Delay: time.Hour, Hooks: hooks}))
			mu.Lock()
			defer mu.Unlock()
			want := []string{"bulk:2:true", "cfg:1:true", "hedge:1:true", "hedge:1:true", "cfg:2:true"}
			if fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Fatalf("events %v, want %v", seen, want)
			}
		})
	}
}

// An override policy's WaitForProbe and Clock apply, plain or hedged
// (WithHedge): the host's breaker (on the same fake clock) opens after the
// first 503, the attempt after it is rejected, and the retry loop waits on
// the override's clock for the probe instead of failing; the probe gets
// the answer, and the body arrives whole each time.
func TestHostileOverrideWaitForProbe(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		for _, hedged := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/hedged=%v", protoName(h2), hedged), func(t *testing.T) {
				srv := newScript(t, h2, status(503, "busy"), status(200, "ok"))
				tr := &tracker{base: srv.base(t)}
				clk := stepclock.New(epoch)
				breakers, err := httpx.Breakers(retry.BreakerConfig{Clock: clk, ConsecutiveFailures: 1, OpenDuration: time.Minute}, httpx.PerHostConfig{})
				if err != nil {
					t.Fatal(err)
				}
				client := mustNew(t, httpx.Config{Base: tr, Retry: fastPolicy(1), Breaker: breakers.For})
				ctx := httpx.WithPolicy(context.Background(), &retry.Policy{MaxAttempts: 4, Backoff: retry.Constant{}, WaitForProbe: true, MaxAfter: time.Hour, Clock: clk})
				if hedged {
					ctx = httpx.WithHedge(ctx, &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour, Clock: clk})
				}
				req, _ := http.NewRequestWithContext(ctx, "PUT", srv.URL, strings.NewReader("payload"))
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if got := readAll(t, resp); got != "ok" {
					t.Fatalf("body %q", got)
				}
				if fmt.Sprint(srv.Bodies()) != "[payload payload]" {
					t.Fatalf("requests with bodies %q, want 2 whole", srv.Bodies())
				}
				if waited := clk.Now().Sub(epoch); waited < time.Minute {
					t.Fatalf("waited %v on the override's clock, want the open time", waited)
				}
				waitFor(t, func() bool { return tr.open.Load() == 0 })
			})
		}
	}
}

// NoRetry on a body that can be sent only once (a stream): one attempt,
// the body whole, the response returned; a 503 comes back as the answer.
func TestHostileNoRetryStream(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(protoName(h2), func(t *testing.T) {
			srv := newScript(t, h2, status(503, "busy"))
			var events []httpx.AttemptEvent
			client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(4), OnAttempt: func(_ context.Context, e httpx.AttemptEvent) {
				events = append(events, e)
			}})
			pr, pw := io.Pipe()
			go func() {
				pw.Write([]byte(strings.Repeat("x", 100000)))
				pw.Close()
			}()
			req, _ := http.NewRequestWithContext(httpx.NoRetry(context.Background()), "PUT", srv.URL, pr)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, resp); resp.StatusCode != 503 || got != "busy" {
				t.Fatalf("%d %q", resp.StatusCode, got)
			}
			if b := srv.Bodies(); len(b) != 1 || len(b[0]) != 100000 {
				t.Fatalf("%d requests", len(b))
			}
			if len(events) != 1 || events[0].StatusCode != 503 {
				t.Fatalf("events %+v", events)
			}
		})
	}
}

// An override follows a 307: http.Client sends the redirected request with
// the same context, so WithPolicy's attempts and NoRetry's single one apply
// at the new location, with the whole body each time.
func TestHostileOverrideRedirect(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(protoName(h2), func(t *testing.T) {
			var toHits atomic.Int32
			var mu sync.Mutex
			var bodies []string
			var srv *script
			srv = newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/from" {
					http.Redirect(w, r, "/to", http.StatusTemporaryRedirect)
					return
				}
				toHits.Add(1)
				mu.Lock()
				bodies = append(bodies, srv.Bodies()[len(srv.Bodies())-1])
				mu.Unlock()
				w.WriteHeader(503)
				io.WriteString(w, "busy")
			})
			tr := &tracker{base: srv.base(t)}
			client := mustNew(t, httpx.Config{Base: tr, Retry: fastPolicy(4)})
			for _, tc := range []struct {
				name string
				ctx  context.Context
				want int32
			}{
				{"WithPolicy", httpx.WithPolicy(context.Background(), fastPolicy(2)), 2},
				{"NoRetry", httpx.NoRetry(context.Background()), 1},
				{"none", context.Background(), 4},
			} {
				toHits.Store(0)
				req, _ := http.NewRequestWithContext(tc.ctx, "PUT", srv.URL+"/from", strings.NewReader("payload"))
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if got := readAll(t, resp); resp.StatusCode != 503 || got != "busy" {
					t.Fatalf("%s: %d %q", tc.name, resp.StatusCode, got)
				}
				if toHits.Load() != tc.want {
					t.Fatalf("%s: %d requests at /to, want %d", tc.name, toHits.Load(), tc.want)
				}
			}
			for _, b := range bodies {
				if b != "payload" {
					t.Fatalf("a redirected body arrived as %q", b)
				}
			}
			waitFor(t, func() bool { return tr.open.Load() == 0 })
			if srv.conns.Load() != 1 {
				t.Fatalf("%d connections, want 1", srv.conns.Load())
			}
		})
	}
}

// A Config.Breaker or Config.Budget whose PerHost's newValue panics: the
// panic reaches the caller, the request's body is closed, and no response
// or connection goroutine leaks (goleak), plain and hedged.
func TestHostileNewValuePanicsThroughTransport(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		for _, hedged := range []bool{false, true} {
			for _, which := range []string{"Breaker", "Budget"} {
				t.Run(fmt.Sprintf("%s/hedged=%v/%s", protoName(h2), hedged, which), func(t *testing.T) {
					srv, tr := statusServer(t, h2, 200)
					cfg := httpx.Config{Base: tr, Retry: fastPolicy(2)}
					if hedged {
						cfg.Hedge = &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour}
					}
					switch which {
					case "Breaker":
						p, _ := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) *retry.Breaker { panic("boom") })
						cfg.Breaker = p.For
					case "Budget":
						p, _ := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) retry.Budget { panic("boom") })
						cfg.Budget = p.For
					}
					rt, err := httpx.New(cfg)
					if err != nil {
						t.Fatal(err)
					}
					body := &closeCounter{Reader: strings.NewReader("payload")}
					req, _ := http.NewRequest("PUT", srv.URL, body)
					mustPanic(t, rt, req)
					if body.closed.Load() == 0 {
						t.Error("the request's body was not closed")
					}
					waitFor(t, func() bool { return tr.open.Load() == 0 })
				})
			}
		}
	}
}

// Invalid override policies of every kind, on every path (plain, hedged,
// a body sent once, a redirect): ErrInvalid of httpx, nothing sent, the
// breaker and the budget not asked, the body closed.
func TestHostileOverrideInvalidEverywhere(t *testing.T) {
	bg := context.Background()
	cases := []struct {
		name string
		ctx  context.Context
	}{
		{"nil budget", httpx.WithPolicy(bg, &retry.Policy{Budget: (*retry.TokenBucket)(nil)})},
		{"nil clock", httpx.WithPolicy(bg, &retry.Policy{Clock: (*stepclock.Clock)(nil)})},
		{"nil backoff", httpx.WithPolicy(bg, &retry.Policy{Backoff: (*retry.Exponential)(nil)})},
		{"negative MaxElapsed", httpx.WithPolicy(bg, &retry.Policy{MaxElapsed: -1})},
		{"negative MaxAfter", httpx.WithPolicy(bg, &retry.Policy{MaxAfter: -1})},
		{"invalid then NoRetry", httpx.NoRetry(httpx.WithPolicy(bg, &retry.Policy{MaxAttempts: -3}))},
		{"invalid then NoHedge", httpx.NoHedge(httpx.WithPolicy(bg, nil))},
		{"hedge nil budget", httpx.WithHedge(bg, &retry.HedgePolicy{Budget: (*retry.TokenBucket)(nil)})},
		{"hedge nil clock", httpx.WithHedge(bg, &retry.HedgePolicy{Clock: (*stepclock.Clock)(nil)})},
		{"hedge negative MaxAttempts", httpx.WithHedge(bg, &retry.HedgePolicy{MaxAttempts: -1})},
		{"NoRetry then nil hedge then WithPolicy", httpx.WithPolicy(httpx.WithHedge(httpx.NoRetry(bg), nil), fastPolicy(2))},
	}
	for _, h2 := range []bool{false, true} {
		srv := newScript(t, h2, status(200, "ok"))
		var asked atomic.Int32
		breakers, _ := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) *retry.Breaker { asked.Add(1); return nil })
		budgets, _ := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) retry.Budget { asked.Add(1); return nil })
		for _, hedged := range []bool{false, true} {
			cfg := httpx.Config{Base: srv.base(t), Breaker: breakers.For, Budget: budgets.For, MaxReplayBytes: 4}
			if hedged {
				cfg.Hedge = &retry.HedgePolicy{Delay: time.Hour}
			}
			client := mustNew(t, cfg)
			for _, tc := range cases {
				for _, body := range []string{"", "abc", "longer than four"} {
					name := fmt.Sprintf("%s/hedged=%v/%s/body=%d", protoName(h2), hedged, tc.name, len(body))
					rc := &closeCounter{Reader: strings.NewReader(body)}
					req, _ := http.NewRequestWithContext(tc.ctx, "PUT", srv.URL+"/from", rc)
					req.GetBody = nil
					resp, err := client.Do(req)
					if resp != nil {
						resp.Body.Close()
					}
					if !errors.Is(err, httpx.ErrInvalid) {
						t.Errorf("%s: %v, want ErrInvalid", name, err)
					}
					if rc.closed.Load() == 0 {
						t.Errorf("%s: body not closed", name)
					}
				}
			}
		}
		if srv.hits.Load() != 0 || asked.Load() != 0 {
			t.Fatalf("%s: %d requests sent, %d breakers or budgets made", protoName(h2), srv.hits.Load(), asked.Load())
		}
	}
}

// Breakers and budgets per host, with a cap of one host, idle after a
// nanosecond, under hedged and plain calls to two hosts at once: values
// are dropped while calls hold them, every call still gets its answer
// whole, one budget serves all the copies of a call, and nothing leaks.
func TestHostileEvictionUnderLoad(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(protoName(h2), func(t *testing.T) {
			echo := func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				w.Write(b)
			}
			a, b := newScript(t, h2, echo).lazy(), newScript(t, h2, echo).lazy()
			// One base for both servers: a and b have their own certificates
			// over TLS, so each gets its own transport.
			bases := map[string]http.RoundTripper{mustURL(a.URL).Host: a.base(t), mustURL(b.URL).Host: b.base(t)}
			tr := &tracker{base: roundTripFunc(func(r *http.Request) (*http.Response, error) { return bases[r.URL.Host].RoundTrip(r) })}
			limits := httpx.PerHostConfig{MaxHosts: 1, IdleTimeout: time.Nanosecond}
			breakers, err := httpx.Breakers(retry.BreakerConfig{}, limits)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var made []*countingBudget
			budgets, err := httpx.NewPerHost(limits, func(string) retry.Budget {
				c := &countingBudget{}
				mu.Lock()
				made = append(made, c)
				mu.Unlock()
				return c
			})
			if err != nil {
				t.Fatal(err)
			}
			plain := mustNew(t, httpx.Config{Base: tr, Breaker: breakers.For, Budget: budgets.For})
			hedged := mustNew(t, httpx.Config{Base: tr, Breaker: breakers.For, Budget: budgets.For, Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: time.Nanosecond}})
			var wg sync.WaitGroup
			var calls atomic.Int32
			for g := range 8 {
				wg.Go(func() {
					for i := range 25 {
						srv, client := a, plain
						if (g+i)%2 == 0 {
							srv = b
						}
						if g%2 == 0 {
							client = hedged
						}
						want := fmt.Sprintf("g%d-i%d", g, i)
						req, _ := http.NewRequest("PUT", srv.URL, strings.NewReader(want))
						resp, err := client.Do(req)
						if err != nil {
							t.Error(err)
							return
						}
						if got := readAll(t, resp); got != want {
							t.Errorf("body %q, want %q", got, want)
						}
						calls.Add(1)
						for range breakers.All() {
						}
					}
				})
			}
			wg.Wait()
			if n := breakers.Len(); n > 1 {
				t.Fatalf("%d breakers kept", n)
			}
			mu.Lock()
			var firsts int32
			for _, c := range made {
				firsts += c.first.Load()
			}
			mu.Unlock()
			if firsts != calls.Load() {
				t.Fatalf("%d first attempts counted for %d calls", firsts, calls.Load())
			}
			waitFor(t, func() bool { return tr.open.Load() == 0 })
		})
	}
}

// newValue is told a host of its own, not a view of the caller's URL: a
// breaker named after it (Breakers) must not keep the whole URL (path,
// query and its tokens) in memory for as long as the host is kept.
func TestHostileNewValueHostNotAView(t *testing.T) {
	raw := "https://api.example.com/pay?token=" + strings.Repeat("s", 1<<10)
	req := &http.Request{URL: mustURL(raw)}
	var told string
	p, err := httpx.NewPerHost(httpx.PerHostConfig{}, func(host string) int { told = host; return 1 })
	if err != nil {
		t.Fatal(err)
	}
	p.For(req)
	if told != req.URL.Host {
		t.Fatalf("told %q", told)
	}
	if unsafe.StringData(told) == unsafe.StringData(req.URL.Host) {
		t.Fatal("newValue was told a view of the request's URL")
	}
}

// An override's Budget counts its call (plain or hedged) when the Config
// has no Budget, and Config.Budget replaces it when set; an override's
// MaxElapsed bounds a hedged call whose server hangs.
func TestHostileOverrideBudgetAndElapsed(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(protoName(h2), func(t *testing.T) {
			srv := newScript(t, h2, status(502, "bad"), status(200, "ok"))
			for _, hedge := range []*retry.HedgePolicy{nil, {MaxAttempts: 2, Delay: time.Hour}} {
				for _, cfgBudget := range []bool{false, true} {
					srv.hits.Store(0)
					mine, theirs := &countingBudget{}, &countingBudget{}
					cfg := httpx.Config{Base: srv.base(t), Hedge: hedge}
					if cfgBudget {
						cfg.Budget = func(*http.Request) retry.Budget { return theirs }
					}
					client := mustNew(t, cfg)
					p := &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, Budget: mine}
					req, _ := http.NewRequestWithContext(httpx.WithPolicy(context.Background(), p), "GET", srv.URL, nil)
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					readAll(t, resp)
					used, unused := mine, theirs
					if cfgBudget {
						used, unused = theirs, mine
					}
					name := fmt.Sprintf("hedged=%v cfgBudget=%v", hedge != nil, cfgBudget)
					if used.first.Load() != 1 || used.extra.Load() != 1 || unused.first.Load()+unused.extra.Load() != 0 {
						t.Errorf("%s: used %d first %d extra, unused %d first %d extra", name,
							used.first.Load(), used.extra.Load(), unused.first.Load(), unused.extra.Load())
					}
				}
			}

			hang := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			tr := &tracker{base: hang.base(t)}
			client := mustNew(t, httpx.Config{Base: tr, Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond}})
			p := &retry.Policy{MaxAttempts: 5, MaxElapsed: 30 * time.Millisecond}
			req, _ := http.NewRequestWithContext(httpx.WithPolicy(context.Background(), p), "GET", hang.URL, nil)
			_, err := client.Do(req)
			if !errors.Is(err, retry.ErrElapsed) {
				t.Fatalf("err = %v, want ErrElapsed", err)
			}
			waitFor(t, func() bool { return tr.open.Load() == 0 })
		})
	}
}

// Many goroutines asking for the same new hosts at once: one value per
// host, every goroutine gets it.
func TestHostileFirstUseRace(t *testing.T) {
	var made atomic.Int32
	p, err := httpx.NewPerHost(httpx.PerHostConfig{}, func(host string) *string { made.Add(1); return &host })
	if err != nil {
		t.Fatal(err)
	}
	const hosts = 100
	var wg sync.WaitGroup
	got := make([][hosts]*string, 16)
	for g := range got {
		wg.Go(func() {
			for i := range hosts {
				got[g][i] = p.For(get(fmt.Sprintf("https://H%d.example:443/", i)))
			}
		})
	}
	wg.Wait()
	if made.Load() != hosts || p.Len() != hosts {
		t.Fatalf("%d values made, %d kept, for %d hosts", made.Load(), p.Len(), hosts)
	}
	for g := range got {
		for i := range hosts {
			if got[g][i] != got[0][i] || *got[g][i] != fmt.Sprintf("h%d.example", i) {
				t.Fatalf("goroutine %d, host %d: %q", g, i, *got[g][i])
			}
		}
	}
}

// A server on a unix socket, reached as http://unix/: the host is "unix",
// its breaker works as any other, and the connection is reused.
func TestHostileUnixSocket(t *testing.T) {
	path := t.TempDir() + "/s.sock"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Skip(err)
	}
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(503)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	srv.Listener.Close()
	srv.Listener = l
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	base := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}
	t.Cleanup(base.CloseIdleConnections)
	breakers, err := httpx.Breakers(retry.BreakerConfig{Name: "docker"}, httpx.PerHostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	client := mustNew(t, httpx.Config{Base: base, Retry: fastPolicy(3), Breaker: breakers.For})
	for range 3 {
		resp, err := client.Post("http://unix/v1/containers", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "payload" {
			t.Fatalf("body %q", got)
		}
	}
	var hosts []string
	for h := range breakers.All() {
		hosts = append(hosts, h)
	}
	if fmt.Sprint(hosts) != "[unix:80]" || hits.Load() != 4 || conns.Load() != 1 {
		t.Fatalf("hosts %v, %d requests, %d connections", hosts, hits.Load(), conns.Load())
	}
}

// Real time inside a testing/synctest bubble: a PerHost with no Clock
// drops an idle host once the bubble's time has passed its IdleTimeout,
// never sooner, and keeps an open breaker until its open time is up.
func TestHostileIdleInSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		breakers, err := httpx.Breakers(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: 5 * time.Minute}, httpx.PerHostConfig{IdleTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		breakers.For(get("https://idle.example/"))
		sick := breakers.For(get("https://sick.example/"))
		done, _ := sick.Allow()
		done(errors.New("down"))
		time.Sleep(time.Minute - time.Nanosecond)
		if n := breakers.Len(); n != 2 {
			t.Fatalf("%d hosts before IdleTimeout, want 2", n)
		}
		time.Sleep(2 * time.Minute)
		if n := breakers.Len(); n != 1 {
			t.Fatalf("%d hosts after IdleTimeout, want the open breaker", n)
		}
		time.Sleep(5 * time.Minute)
		if n := breakers.Len(); n != 0 {
			t.Fatalf("%d hosts after the open time, want 0", n)
		}

		// Forced open until told, then for a time: kept while forced, dropped
		// once released and idle.
		held := breakers.For(get("https://held.example/"))
		timed := breakers.For(get("https://timed.example/"))
		held.ForceOpen(0)
		timed.ForceOpen(10 * time.Minute)
		time.Sleep(5 * time.Minute)
		if n := breakers.Len(); n != 2 {
			t.Fatalf("%d hosts while forced, want 2", n)
		}
		time.Sleep(time.Hour)
		var hosts []string
		for h := range breakers.All() {
			hosts = append(hosts, h)
		}
		if fmt.Sprint(hosts) != "[held.example]" {
			t.Fatalf("after the timed force: %v, want the one forced until told", hosts)
		}
		held.Reset()
		if n := breakers.Len(); n != 0 {
			t.Fatalf("%d hosts after Reset of an idle breaker, want 0", n)
		}
	})
}

// A URL with no host: net/http refuses it before sending, so the breaker
// of the empty host counts nothing and never opens, and the error is not
// retried.
func TestHostileEmptyHost(t *testing.T) {
	breakers, err := httpx.Breakers(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Hour}, httpx.PerHostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int32
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	client := mustNew(t, httpx.Config{Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return base.RoundTrip(r)
	}), Retry: fastPolicy(3), Breaker: breakers.For})
	for _, u := range []string{"http:///x", "https:///x", "HTTP:///x"} {
		for range 3 {
			req, _ := http.NewRequest("GET", u, nil)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("%s: no error", u)
			}
		}
	}
	if int(sent.Load()) != 9 {
		t.Errorf("%d attempts for 9 calls: an error of a URL with no host was retried", sent.Load())
	}
	for host, b := range breakers.All() {
		if s := b.Snapshot(); s.State != retry.BreakerClosed {
			t.Errorf("breaker of %q: %v", host, s.State)
		}
	}
}

// NoRetry applied after WithPolicy of an Unlimited policy, on a client
// with SplitDeadline: the latest wins, so the request has one attempt,
// which SplitDeadline has no trouble sharing time with: it is sent, not
// refused as invalid. WithPolicy(Unlimited) alone, or applied after
// NoRetry, is still refused.
func TestHostileNoRetryAfterUnlimited(t *testing.T) {
	srv := newScript(t, false, status(503, "busy"))
	client := mustNew(t, httpx.Config{Base: srv.base(t), SplitDeadline: true})
	unlimited := &retry.Policy{MaxAttempts: retry.Unlimited}
	bg := context.Background()
	req, _ := http.NewRequestWithContext(httpx.NoRetry(httpx.WithPolicy(bg, unlimited)), "GET", srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("NoRetry after WithPolicy(Unlimited): %v", err)
	}
	readAll(t, resp)
	if srv.hits.Load() != 1 {
		t.Fatalf("%d requests, want 1", srv.hits.Load())
	}
	for _, ctx := range []context.Context{httpx.WithPolicy(bg, unlimited), httpx.WithPolicy(httpx.NoRetry(bg), unlimited)} {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		if _, err := client.Do(req); !errors.Is(err, httpx.ErrInvalid) {
			t.Fatalf("WithPolicy(Unlimited) with SplitDeadline: %v, want ErrInvalid", err)
		}
	}
}
