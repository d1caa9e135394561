package benchmarks

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/failsafe-go/failsafe-go/failsafehttp"
)

// The tests below check that every configuration the benchmarks measure
// does its job, so that a fast result is not the speed of a broken setup.

// protocols are the two ways the HTTP tests reach their server.
var protocols = []struct {
	name string
	h2   bool
}{{"h1", false}, {"h2", true}}

// TestRetriers checks each retry loop: a success takes one attempt, two
// failures then a success take three and return the value, and a call
// that always fails stops after three attempts with its error.
func TestRetriers(t *testing.T) {
	ctx := context.Background()
	for _, r := range retriers() {
		t.Run(r.name, func(t *testing.T) {
			calls := 0
			counted := func(ctx context.Context) (int, error) { calls++; return bare(ctx) }
			if v, err := r.call(ctx, counted); v != 42 || err != nil || calls != 1 {
				t.Errorf("success: got %d, %v after %d calls; want 42, nil after 1", v, err, calls)
			}
			fn, n := failTwice()
			if v, err := r.call(ctx, fn); v != 42 || err != nil || *n != 3 {
				t.Errorf("two failures: got %d, %v after %d calls; want 42, nil after 3", v, err, *n)
			}
			calls = 0
			failing := func(context.Context) (int, error) { calls++; return 0, errTransient }
			if _, err := r.call(ctx, failing); !errors.Is(err, errTransient) || calls != 3 {
				t.Errorf("always failing: got %v after %d calls; want %v after 3", err, calls, errTransient)
			}
		})
	}
}

// TestGuards checks each breaker with each rule: closed, it lets a
// success through; after enough failures it trips and rejects a call
// without making it.
func TestGuards(t *testing.T) {
	for _, rule := range breakerRules() {
		for _, g := range rule.guards() {
			t.Run(rule.name+"/"+g.name, func(t *testing.T) {
				if v, err := g.call(bare); v != 42 || err != nil {
					t.Fatalf("closed: got %d, %v", v, err)
				}
				calls := 0
				failing := func(context.Context) (int, error) { calls++; return 0, errTransient }
				for i := range 10 {
					_, err := g.call(failing)
					if err == nil {
						t.Fatal("a failure passed as a success")
					}
					if !errors.Is(err, errTransient) {
						if calls != i {
							t.Fatalf("rejected with %v but made the call", err)
						}
						return // tripped
					}
				}
				t.Fatalf("10 failures in a row did not trip it")
			})
		}
	}
}

// TestRetryClients checks each retrying client over HTTP/1.1 and HTTP/2:
// a 503 is retried at once, the 200 comes back whole, the server sees two
// requests, and both go over one connection (the 503 was drained and
// closed).
func TestRetryClients(t *testing.T) {
	forEachClient(t, retryClients, func(t *testing.T, h2 bool, i int) {
		var requests atomic.Int64
		flaky := flaky503()
		srv, tr := loopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			flaky(w, r)
		}), h2)
		c := retryClients(tr)[i]
		for range 3 {
			if status, body, err := get(c.client, srv.URL); err != nil || status != 200 || body != "ok" {
				t.Fatalf("got %d %q %v; want 200 \"ok\"", status, body, err)
			}
		}
		if n := requests.Load(); n != 6 {
			t.Errorf("server saw %d requests for 3 calls; want 6", n)
		}
		if n := srv.conns.Load(); n != 1 {
			t.Errorf("%d connections; want 1", n)
		}
	})
}

// forEachClient runs test as a subtest "<protocol>/<client>" for each
// protocol and each client that clients makes; i indexes the client.
func forEachClient(t *testing.T, clients func(http.RoundTripper) []namedClient, test func(t *testing.T, h2 bool, i int)) {
	for _, proto := range protocols {
		for i, c := range clients(nil) {
			t.Run(proto.name+"/"+c.name, func(t *testing.T) { test(t, proto.h2, i) })
		}
	}
}

// TestFailsafeHTTPLeaksRetriedResponse shows why the benchmarks add a
// listener to failsafehttp's documented retry policy: without it, the
// response of a retried attempt is never closed, so its connection stays
// busy (a new one is dialled for every call) along with its two
// goroutines, until the request's context ends. The test ends the context
// so as to leak nothing itself.
func TestFailsafeHTTPLeaksRetriedResponse(t *testing.T) {
	srv, tr := loopback(t, flaky503(), false)
	c := &http.Client{Transport: failsafehttp.NewRoundTripper(tr, failsafehttp.NewRetryPolicyBuilder().Build())}
	ctx, cancel := context.WithCancel(context.Background())
	defer tr.CloseIdleConnections()
	defer cancel()
	for range 3 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
	}
	if n := srv.conns.Load(); n != 4 {
		t.Errorf("%d connections for 3 calls; want 4 (one per retried 503, plus one): has failsafehttp fixed the leak?", n)
	}
}

// TestHedgers checks each in-process hedger: when the first attempt
// hangs, a second one starts, its result comes back, and the first is
// cancelled.
func TestHedgers(t *testing.T) {
	for _, h := range hedgers()[1:] {
		t.Run(h.name, func(t *testing.T) {
			var n atomic.Int32
			cancelled := make(chan struct{})
			v, err := h.call(context.Background(), func(ctx context.Context) (int, error) {
				if n.Add(1) == 1 {
					<-ctx.Done()
					close(cancelled)
					return 0, ctx.Err()
				}
				return 42, nil
			})
			if v != 42 || err != nil {
				t.Fatalf("got %d, %v", v, err)
			}
			<-cancelled // the test times out if the loser is never cancelled
			if n := n.Load(); n != 2 {
				t.Errorf("%d attempts; want 2", n)
			}
		})
	}
}

// TestHedgeClients checks each hedging client over HTTP/1.1 and HTTP/2:
// when the first request hangs, a second one is sent, its 200 comes back
// whole, and the server sees the first one cancelled.
func TestHedgeClients(t *testing.T) {
	forEachClient(t, hedgeClients, func(t *testing.T, h2 bool, i int) {
		var n atomic.Int32
		cancelled := make(chan struct{})
		srv, tr := loopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				<-r.Context().Done()
				close(cancelled)
				return
			}
			io.WriteString(w, "ok")
		}), h2)
		c := hedgeClients(tr)[i]
		if status, body, err := get(c.client, srv.URL); err != nil || status != 200 || body != "ok" {
			t.Fatalf("got %d %q %v; want 200 \"ok\"", status, body, err)
		}
		<-cancelled // the test times out if the loser is never cancelled
		if n := n.Load(); n != 2 {
			t.Errorf("server saw %d requests; want 2", n)
		}
	})
}

// TestTailDraws checks that the tail workload's draws are the same every
// time and follow 95% 2 ms / 4% 20 ms / 1% 100 ms.
func TestTailDraws(t *testing.T) {
	a, b := newTail(), newTail()
	counts := map[int64]int{}
	for i := range a.draws {
		if a.draws[i] != b.draws[i] {
			t.Fatalf("call %d: draws %v, then %v", i, a.draws[i], b.draws[i])
		}
		for _, d := range a.draws[i] {
			counts[d.Milliseconds()]++
		}
	}
	total := float64(tailCalls * maxDraws)
	for ms, want := range map[int64]float64{2: 0.95, 20: 0.04, 100: 0.01} {
		if got := float64(counts[ms]) / total; got < want*0.8 || got > want*1.2 {
			t.Errorf("%d ms: %.3f of the draws; want about %.2f", ms, got, want)
		}
	}
}
