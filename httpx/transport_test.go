package httpx_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"github.com/retrykit/retry/internal/stepclock"
)

func protocols(t *testing.T, f func(t *testing.T, h2 bool)) {
	t.Run("HTTP/1.1", func(t *testing.T) { f(t, false) })
	t.Run("HTTP/2", func(t *testing.T) { f(t, true) })
}

// A retried POST sends its whole body every time: the seed article's
// "ContentLength=N with Body length 0" must not happen, with GetBody or
// without it.
func TestPostBodyReplayed(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		payload := strings.Repeat("payload-", 512) // 4 KiB
		bodies := map[string]func() io.Reader{
			"GetBody":  func() io.Reader { return bytes.NewReader([]byte(payload)) }, // NewRequest sets GetBody
			"snapshot": func() io.Reader { return io.MultiReader(strings.NewReader(payload)) },
		}
		for name, body := range bodies {
			t.Run(name, func(t *testing.T) {
				srv := newScript(t, h2, status(503, "busy"), status(503, "busy"), status(200, "done"))
				client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(4)})
				req, _ := http.NewRequest(http.MethodPost, srv.URL, body())
				if name == "snapshot" && req.GetBody != nil {
					t.Fatal("the snapshot case must have no GetBody")
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if got := readAll(t, resp); got != "done" || resp.StatusCode != 200 {
					t.Fatalf("got %d %q", resp.StatusCode, got)
				}
				got := srv.Bodies()
				if len(got) != 3 {
					t.Fatalf("server saw %d requests, want 3", len(got))
				}
				for i, b := range got {
					if b != payload {
						t.Errorf("attempt %d sent %d bytes, want the full %d", i+1, len(b), len(payload))
					}
				}
			})
		}
	})
}

// A body over MaxReplayBytes is sent once, whole, and not retried.
func TestOverLimitBodySentOnce(t *testing.T) {
	srv := newScript(t, false, status(503, "busy"), status(200, "done"))
	var events []httpx.AttemptEvent
	client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(4), MaxReplayBytes: 100,
		OnAttempt: func(_ context.Context, e httpx.AttemptEvent) { events = append(events, e) }})
	payload := strings.Repeat("x", 1000)
	req, _ := http.NewRequest(http.MethodPut, srv.URL, io.MultiReader(strings.NewReader(payload)))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != 503 {
		t.Fatalf("status %d, want the one 503", resp.StatusCode)
	}
	if got := srv.Bodies(); len(got) != 1 || got[0] != payload {
		t.Fatalf("server saw %d requests (first %d bytes), want 1 with the full body", len(got), len(got[0]))
	}
	if len(events) != 1 || events[0].Replayable {
		t.Fatalf("events = %+v, want one, not replayable", events)
	}
}

// The over-limit body's failure says why it was not retried.
func TestOverLimitBodyErrorSaysWhy(t *testing.T) {
	srv := newScript(t, false, hangup)
	client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(4), MaxReplayBytes: 10})
	req, _ := http.NewRequest(http.MethodPut, srv.URL, io.MultiReader(strings.NewReader(strings.Repeat("x", 100))))
	_, err := client.Do(req)
	var nr *httpx.NotReplayableError
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "MaxReplayBytes") {
		t.Fatalf("err = %v, want a *NotReplayableError", err)
	}
	if srv.hits.Load() != 1 {
		t.Fatalf("server saw %d requests, want 1", srv.hits.Load())
	}
}

// 3 × 503 then 200 over keep-alive: one connection, every discarded body
// closed, and no deadlock with one connection per host.
func TestDiscardedResponsesReuseConnection(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		srv := newScript(t, h2, status(503, strings.Repeat("e", 10<<10)), status(503, "busy"), status(503, "busy"), status(200, "ok"))
		base := srv.base(t)
		base.MaxConnsPerHost = 1
		tr := &tracker{base: base}
		client := mustNew(t, httpx.Config{Base: tr, Retry: fastPolicy(5)})
		// An undrained body would hold the one connection: a deadlock,
		// which this deadline turns into a failure.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "ok" {
			t.Fatalf("body %q", got)
		}
		if n := srv.conns.Load(); n != 1 {
			t.Errorf("%d connections used, want 1", n)
		}
		if n := tr.open.Load(); n != 0 {
			t.Errorf("%d response bodies left open", n)
		}
		if n := tr.sent.Load(); n != 4 {
			t.Errorf("%d attempts, want 4", n)
		}
	})
}

// When retries run out, the last response comes back with its body intact
// and a nil error, never a response and an error together.
func TestExhaustedReturnsLastResponse(t *testing.T) {
	srv := newScript(t, false, status(503, "first"), status(502, "second"), status(504, "last"))
	tr := &tracker{base: srv.base(t)}
	rt, err := httpx.New(httpx.Config{Base: tr, Retry: fastPolicy(3)})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil || resp == nil {
		t.Fatalf("resp %v, err %v; want the last response and no error", resp, err)
	}
	if got := readAll(t, resp); resp.StatusCode != 504 || got != "last" {
		t.Fatalf("got %d %q, want 504 \"last\"", resp.StatusCode, got)
	}
	if tr.open.Load() != 0 {
		t.Errorf("%d bodies left open", tr.open.Load())
	}
}

func TestStatusClassification(t *testing.T) {
	tests := []struct {
		code  int
		hits  int64
		extra []string
	}{
		{429, 3, nil}, {502, 3, nil}, {503, 3, nil}, {504, 3, nil},
		{500, 1, nil}, {501, 1, nil}, {400, 1, nil}, {404, 1, nil}, {409, 1, nil},
		{409, 3, []string{"Idempotency-Key", "k1"}}, // still in progress: ask again later
		{422, 1, []string{"Idempotency-Key", "k1"}}, // key reused with another payload
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code, tt.extra), func(t *testing.T) {
			srv := newScript(t, false, status(tt.code, "no"))
			client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(3)})
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			for i := 0; i+1 < len(tt.extra); i += 2 {
				req.Header.Set(tt.extra[i], tt.extra[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			if resp.StatusCode != tt.code || srv.hits.Load() != tt.hits {
				t.Fatalf("status %d after %d requests, want %d after %d", resp.StatusCode, srv.hits.Load(), tt.code, tt.hits)
			}
		})
	}
}

// POST and PATCH without an Idempotency-Key are sent again only when the
// server cannot have acted on them.
func TestIdempotencyRules(t *testing.T) {
	tests := []struct {
		name   string
		method string
		key    bool
		optIn  bool
		step   http.HandlerFunc
		hits   int64
	}{
		{"POST 502 not retried", http.MethodPost, false, false, status(502, ""), 1},
		{"POST 503 retried: not processed", http.MethodPost, false, false, status(503, ""), 3},
		{"POST 429 retried: not processed", http.MethodPost, false, false, status(429, ""), 3},
		{"POST hang-up not retried", http.MethodPost, false, false, hangup, 1},
		{"POST with key retried", http.MethodPost, true, false, status(502, ""), 3},
		{"PATCH 504 not retried", http.MethodPatch, false, false, status(504, ""), 1},
		{"POST opt-in retried", http.MethodPost, false, true, status(502, ""), 3},
		{"GET hang-up retried", http.MethodGet, false, false, hangup, 3},
		{"PUT 502 retried", http.MethodPut, false, false, status(502, ""), 3},
		{"DELETE 502 retried", http.MethodDelete, false, false, status(502, ""), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newScript(t, false, tt.step)
			client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(3), RetryNonIdempotent: tt.optIn})
			req, _ := http.NewRequest(tt.method, srv.URL, strings.NewReader("body"))
			if tt.key {
				req.Header.Set("Idempotency-Key", "8e03978e-40d5-43e8-bc93-6894a57f9324")
			}
			resp, err := client.Do(req)
			if err == nil {
				readAll(t, resp)
			}
			if got := srv.hits.Load(); got != tt.hits {
				t.Fatalf("server saw %d requests, want %d (err %v)", got, tt.hits, err)
			}
		})
	}
}

// A POST whose connection was refused never reached a server: retried.
func TestDialErrorRetriedForPost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	attempts := 0
	client := mustNew(t, httpx.Config{Retry: fastPolicy(3), Base: &http.Transport{},
		OnAttempt: func(context.Context, httpx.AttemptEvent) { attempts++ }})
	_, err = client.Post("http://"+addr, "text/plain", strings.NewReader("x"))
	if err == nil || attempts != 3 || !errors.Is(err, retry.ErrExhausted) {
		t.Fatalf("err = %v after %d attempts, want exhaustion after 3", err, attempts)
	}
}

func TestUntrustedCertificateNotRetried(t *testing.T) {
	srv := newScript(t, true, status(200, "ok"))
	attempts := 0
	base := &http.Transport{} // does not trust the test certificate
	defer base.CloseIdleConnections()
	client := mustNew(t, httpx.Config{Base: base, Retry: fastPolicy(3),
		OnAttempt: func(context.Context, httpx.AttemptEvent) { attempts++ }})
	_, err := client.Get(srv.URL)
	var certErr *tls.CertificateVerificationError
	if !errors.As(err, &certErr) || !errors.Is(err, retry.ErrNotRetryable) {
		t.Fatalf("err = %v, want a certificate error, not retried", err)
	}
	if attempts != 1 || srv.hits.Load() != 0 {
		t.Fatalf("%d attempts, %d requests served; want 1 and 0", attempts, srv.hits.Load())
	}
}

// A redirect loop ends with the client's "stopped after 10 redirects" and
// no amplification: each hop is one request.
func TestRedirectLoopNotRetried(t *testing.T) {
	var srv *script
	srv = newScript(t, false, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+"/again", http.StatusFound)
	})
	client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(3)})
	_, err := client.Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("err = %v", err)
	}
	if got := srv.hits.Load(); got != 10 {
		t.Fatalf("server saw %d requests, want 10", got)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		values []string
		code   int
		waits  []time.Duration // nil: no wait, the 429/503 is returned at once
	}{
		{"seconds", []string{"7"}, 503, []time.Duration{7 * time.Second}},
		{"IMF-fixdate", []string{base.Add(30 * time.Second).Format(http.TimeFormat)}, 429, []time.Duration{30 * time.Second}},
		{"RFC 850", []string{base.Add(20 * time.Second).Format(time.RFC850)}, 503, []time.Duration{20 * time.Second}},
		{"asctime", []string{base.Add(10 * time.Second).Format(time.ANSIC)}, 503, []time.Duration{10 * time.Second}},
		{"past date: at once", []string{base.Add(-time.Hour).Format(http.TimeFormat)}, 503, []time.Duration{}},
		{"garbage: backoff", []string{"soon"}, 503, []time.Duration{time.Second}},
		{"negative: backoff", []string{"-5"}, 503, []time.Duration{time.Second}},
		{"fraction: backoff", []string{"1.5"}, 503, []time.Duration{time.Second}},
		{"two headers: backoff", []string{"3", "4"}, 503, []time.Duration{time.Second}},
		{"huge: give up at once", []string{"9999999999"}, 429, nil},
		{"overflowing: give up at once", []string{"99999999999999999999999"}, 429, nil},
		{"over MaxAfter: give up at once", []string{"61"}, 503, nil},
		{"ignored on 502", []string{"7"}, 502, []time.Duration{time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := status(tt.code, "wait")
			for _, v := range tt.values {
				first = withHeader(first, "Retry-After", v)
			}
			srv := newScript(t, false, first, status(200, "ok"))
			clk := stepclock.New(base)
			client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: &retry.Policy{
				Backoff: retry.Constant{Interval: time.Second}, Clock: clk}})
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if got := clk.Waits(); !slices.Equal(got, tt.waits) {
				t.Fatalf("waits = %v, want %v", got, tt.waits)
			}
			if tt.waits == nil && (resp.StatusCode != tt.code || body != "wait") {
				t.Fatalf("got %d %q, want the %d response itself", resp.StatusCode, body, tt.code)
			}
			if tt.waits != nil && (resp.StatusCode != 200 || srv.hits.Load() != 2) {
				t.Fatalf("got %d after %d requests, want 200 after a retry", resp.StatusCode, srv.hits.Load())
			}
		})
	}
}

// The caller's deadline bounds a server-requested wait too: a Retry-After
// past it returns the response at once instead of sleeping.
func TestRetryAfterPastDeadline(t *testing.T) {
	srv := newScript(t, false, withHeader(status(503, "later"), "Retry-After", "30"), status(200, "ok"))
	var waits atomic.Int32 // OnRetry runs before every wait
	client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: &retry.Policy{
		Hooks: &retry.Hooks{OnRetry: func(context.Context, retry.RetryEvent) { waits.Add(1) }},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != 503 || srv.hits.Load() != 1 || waits.Load() != 0 || ctx.Err() != nil {
		t.Fatalf("got %d after %d requests and %d waits; context %v", resp.StatusCode, srv.hits.Load(), waits.Load(), ctx.Err())
	}
}

// Cancelling during a wait returns the context error, and the response
// that was waiting is drained and closed.
func TestCancelDuringWait(t *testing.T) {
	srv := newScript(t, false, status(503, "busy"))
	tr := &tracker{base: srv.base(t)}
	ctx, cancel := context.WithCancel(context.Background())
	client := mustNew(t, httpx.Config{Base: tr, Retry: &retry.Policy{
		Backoff: retry.Constant{Interval: time.Hour},
		Hooks:   &retry.Hooks{OnRetry: func(context.Context, retry.RetryEvent) { cancel() }},
	}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if resp != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("resp %v, err %v; want only a Canceled error", resp, err)
	}
	if tr.open.Load() != 0 {
		t.Fatalf("%d bodies left open", tr.open.Load())
	}
}

// The caller's request is never changed: not its body, headers or context.
func TestRequestNotModified(t *testing.T) {
	srv := newScript(t, false, status(503, ""), status(200, "ok"))
	client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(3), AttemptHeader: "X-Attempt", AttemptTimeout: time.Minute})
	body := io.NopCloser(strings.NewReader("abc"))
	req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
	req.Header.Set("Idempotency-Key", "k")
	ctx := req.Context()
	resp, err := client.Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if req.Body != body || req.GetBody != nil || req.ContentLength != 0 || req.Context() != ctx ||
		len(req.Header) != 1 || req.Header.Get("X-Attempt") != "" {
		t.Fatalf("request changed: %+v", req)
	}
	var got []string
	for _, h := range srv.Headers() {
		got = append(got, h.Get("X-Attempt"))
	}
	if strings.Join(got, ",") != "1,2" {
		t.Fatalf("attempt headers %v, want 1,2", got)
	}
}

// Bad requests get ErrInvalid (bad Configs: see TestConfigValidate), from
// the zero Transport as from New's.
func TestBadInput(t *testing.T) {
	fromNew, _ := httpx.New(httpx.Config{})
	for _, rt := range []*httpx.Transport{fromNew, new(httpx.Transport)} {
		closed := false
		for _, req := range []*http.Request{
			nil,
			{Method: "GET", Header: http.Header{}},
			{Method: "GET", URL: mustURL("http://127.0.0.1:1"), Body: closeSpy{&closed}},
		} {
			if resp, err := rt.RoundTrip(req); resp != nil || !errors.Is(err, httpx.ErrInvalid) {
				t.Errorf("RoundTrip(%v) = %v, %v; want ErrInvalid", req, resp, err)
			}
		}
		if !closed {
			t.Error("the body of a rejected request was not closed")
		}
	}
}

type closeSpy struct{ closed *bool }

func (closeSpy) Read([]byte) (int, error) { return 0, io.EOF }
func (c closeSpy) Close() error           { *c.closed = true; return nil }

// idleSpy counts calls of CloseIdleConnections on the base transport.
type idleSpy struct {
	http.RoundTripper
	calls atomic.Int64
}

func (s *idleSpy) CloseIdleConnections() { s.calls.Add(1) }

// The Transport never tears down the pool of a transport it was given; it
// only passes on the caller's own request to do so.
func TestNeverClosesCallersIdleConnections(t *testing.T) {
	srv := newScript(t, false, status(503, ""), hangup, status(200, "ok"))
	spy := &idleSpy{RoundTripper: srv.base(t)}
	client := mustNew(t, httpx.Config{Base: spy, Retry: fastPolicy(3)})
	for range 3 {
		if resp, err := client.Get(srv.URL); err == nil {
			readAll(t, resp)
		}
	}
	if n := spy.calls.Load(); n != 0 {
		t.Fatalf("CloseIdleConnections called %d times by the Transport", n)
	}
	client.CloseIdleConnections()
	if n := spy.calls.Load(); n != 1 {
		t.Fatalf("the caller's CloseIdleConnections reached the base %d times, want 1", n)
	}
}

// One Transport shared by 50 goroutines, each retrying its own POST: run
// with -race. Every body arrives whole and every response is closed.
func TestConcurrentCallers(t *testing.T) {
	var srv *script
	srv = newScript(t, false, func(w http.ResponseWriter, r *http.Request) {
		if srv.hits.Load()%3 != 0 {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, r.Header.Get("X-Body"))
	})
	tr := &tracker{base: srv.base(t)}
	client := mustNew(t, httpx.Config{Base: tr, Retry: fastPolicy(10)})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			body := fmt.Sprint("body-", i)
			req, _ := http.NewRequest(http.MethodPut, srv.URL, io.MultiReader(strings.NewReader(body)))
			req.Header.Set("X-Body", body)
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			if got, _ := io.ReadAll(resp.Body); resp.StatusCode == 200 && string(got) != body {
				t.Errorf("got %q, want %q", got, body)
			}
		})
	}
	wg.Wait()
	for i, h := range srv.Headers() {
		if b := srv.Bodies()[i]; b != h.Get("X-Body") {
			t.Fatalf("request %d had body %q, sent as %q", i, b, h.Get("X-Body"))
		}
	}
	if tr.open.Load() != 0 {
		t.Fatalf("%d bodies left open", tr.open.Load())
	}
}

// OnAttempt reports each attempt once, in order, with the wait the retry
// loop chose after it.
func TestOnAttemptEvents(t *testing.T) {
	srv := newScript(t, false, status(503, ""), status(502, ""), status(200, "ok"))
	var events []httpx.AttemptEvent
	clk := stepclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	client := mustNew(t, httpx.Config{Base: srv.base(t),
		Retry:     &retry.Policy{Backoff: retry.Linear{Step: time.Second}, Clock: clk},
		OnAttempt: func(_ context.Context, e httpx.AttemptEvent) { events = append(events, e) }})
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	type got struct {
		n, code int
		failed  bool
		delay   time.Duration
	}
	var g []got
	for _, e := range events {
		g = append(g, got{e.Attempt, e.StatusCode, e.Err != nil, e.Delay})
		if e.Request == nil || e.Request.Method != http.MethodGet || e.Request.URL.String() != srv.URL {
			t.Errorf("event %d: request %v", e.Attempt, e.Request)
		}
	}
	want := []got{{1, 503, false, time.Second}, {2, 502, false, 2 * time.Second}, {3, 200, false, 0}}
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", g, want)
	}

	events = nil
	srv2 := newScript(t, false, status(502, ""))
	client = mustNew(t, httpx.Config{Base: srv2.base(t), Retry: fastPolicy(2),
		OnAttempt: func(_ context.Context, e httpx.AttemptEvent) { events = append(events, e) }})
	resp, err = client.Get(srv2.URL)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if len(events) != 2 || events[1].Attempt != 2 || events[1].StatusCode != 502 || events[1].Delay != 0 {
		t.Fatalf("exhausted: events %+v, want 2, the last with no delay", events)
	}
}

// A transport error is reported with its error, and the wait after it.
func TestOnAttemptTransportError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var events []httpx.AttemptEvent
	clk := stepclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	client := mustNew(t, httpx.Config{Base: &http.Transport{},
		Retry:     &retry.Policy{MaxAttempts: 2, Backoff: retry.Constant{Interval: time.Second}, Clock: clk},
		OnAttempt: func(_ context.Context, e httpx.AttemptEvent) { events = append(events, e) }})
	_, err = client.Get("http://" + addr)
	if err == nil || len(events) != 2 {
		t.Fatalf("err %v, %d events", err, len(events))
	}
	if events[0].Err == nil || events[0].Delay != time.Second || events[1].Err == nil || events[1].Delay != 0 {
		t.Fatalf("events %+v", events)
	}
}
