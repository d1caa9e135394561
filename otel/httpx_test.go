package otel_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"go.opentelemetry.io/otel/attribute"
)

// An httpx client over a real server, HTTP/1.1 and HTTP/2: its calls and
// attempts carry the request's method and server.
func TestHTTPAttributes(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		name := "HTTP/1.1"
		if h2 {
			name = "HTTP/2"
		}
		t.Run(name, func(t *testing.T) {
			var hits, conns atomic.Int32
			var bodies []string // written by the handler, read after the server is closed
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				bodies = append(bodies, r.Method+" "+string(b))
				if hits.Add(1) == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				io.WriteString(w, "ok")
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			if h2 {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			base := srv.Client().Transport.(*http.Transport)
			defer base.CloseIdleConnections()
			defer srv.Close()

			h := newHarness(t)
			client, err := httpx.NewClient(httpx.Config{Base: base,
				Retry: &retry.Policy{Name: "api", Backoff: retry.Constant{}, Hooks: h.hooks}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, span := h.tracer.Start(context.Background(), "request")
			send := func(method, body string) {
				t.Helper()
				req, err := http.NewRequestWithContext(ctx, method, srv.URL+"/x", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(got) != "ok" || resp.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] {
					t.Fatalf("%s: %s %q, %v", method, resp.Proto, got, err)
				}
			}
			send(http.MethodGet, "")
			send(http.MethodPut, "hello")
			send("PURGE", "")
			span.End()
			base.CloseIdleConnections()
			srv.Close()

			if got, want := strings.Join(bodies, "|"), "GET |GET |PUT hello|PURGE "; got != want {
				t.Errorf("server saw %q, want %q", got, want)
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("%d connections, want 1 (reused)", n)
			}
			u, _ := url.Parse(srv.URL)
			host := []attribute.KeyValue{attribute.String("server.address", u.Hostname()), attribute.Int("server.port", port(u))}
			with := func(kv ...attribute.KeyValue) []attribute.KeyValue { return append(kv, host...) }
			get, put, other := attribute.String("http.request.method", "GET"), attribute.String("http.request.method", "PUT"),
				attribute.String("http.request.method", "_OTHER")
			h.collect()
			h.want("retry.calls", 1, with(policy("api"), outcome("success"), get)...)
			h.want("retry.calls", 1, with(policy("api"), outcome("success"), put)...)
			h.want("retry.calls", 1, with(policy("api"), outcome("success"), other)...)
			h.wantTotal("retry.calls", 3)
			h.want("retry.attempts", 1, with(policy("api"), attemptN("1"), failed, noHedge, get)...)
			h.want("retry.attempts", 1, with(policy("api"), attemptN("2"), succeeded, noHedge, get)...)
			h.want("retry.retries", 1, with(policy("api"), attemptN("1"), get)...)
			h.wantTotal("retry.attempts", 4)
			if n := len(h.events()); n != 4+4 { // 4 attempts, 1 retry, 3 done
				t.Errorf("%d span events, want 8:\n%v", n, h.events())
			}
		})
	}
}

// A breaker's rejection of an httpx request carries its method and
// server; the breaker's state does not (ForceOpen has no request), but
// httpx.Breakers names each breaker after its host.
func TestHTTPBreakerRejection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	base := srv.Client().Transport.(*http.Transport)
	defer base.CloseIdleConnections()

	h := newHarness(t)
	breakers, err := httpx.Breakers(retry.BreakerConfig{Name: "backend", ConsecutiveFailures: 1, Hooks: h.hooks}, httpx.PerHostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	client, err := httpx.NewClient(httpx.Config{Base: base, Breaker: breakers.For,
		Retry: &retry.Policy{Name: "api", MaxAttempts: 1, Hooks: h.hooks}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		resp, err := client.Get(srv.URL)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	u, _ := url.Parse(srv.URL)
	name := "backend/" + u.Host // httpx.Breakers names each breaker after its host
	h.collect()
	h.want("retry.breaker.rejections", 1, breaker(name), reason("open"), attribute.String("http.request.method", "GET"),
		attribute.String("server.address", u.Hostname()), attribute.Int("server.port", port(u)))
	h.want("retry.breaker.state", 1, breaker(name), state("open"))
	h.want("retry.calls", 1, policy("api"), outcome("breaker"), attribute.String("http.request.method", "GET"),
		attribute.String("server.address", u.Hostname()), attribute.Int("server.port", port(u)))
}

// port is u's port, as a number.
func port(u *url.URL) int {
	p, _ := strconv.Atoi(u.Port())
	return p
}
