package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"github.com/retrykit/retry/internal/stepclock"
)

// shedServer serves h behind Shed with a, over HTTP/2 (TLS) if h2, and
// counts connections (see script).
type shedServer struct{ *script }

func newShedServer(t *testing.T, h2 bool, a retry.Admitter, h http.HandlerFunc) shedServer {
	t.Helper()
	shed, err := httpx.Shed(httpx.ShedConfig{Admitter: a}, h)
	if err != nil {
		t.Fatal(err)
	}
	return shedServer{newScript(t, h2, shed.ServeHTTP).lazy()}
}

// client returns a plain client of s, whose idle connections close when
// the test ends.
func (s shedServer) client(t *testing.T) *http.Client {
	return &http.Client{Transport: s.base(t)}
}

func TestShedAnswers503WithRetryAfter(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		b, _ := retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1, RetryAfter: 1500 * time.Millisecond})
		entered, release := make(chan struct{}), make(chan struct{})
		srv := newShedServer(t, h2, b, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				close(entered)
				<-release
			}
			body, _ := io.ReadAll(r.Body)
			io.WriteString(w, "got "+string(body))
		})
		c := srv.client(t)
		var wg sync.WaitGroup
		wg.Go(func() {
			resp, err := c.Get(srv.URL + "/hold")
			if err != nil {
				t.Error(err)
				return
			}
			if got := readAll(t, resp); got != "got " {
				t.Errorf("held request: %q", got)
			}
		})
		<-entered
		resp, err := c.Post(srv.URL, "text/plain", strings.NewReader("refused"))
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || body != "load shed: try again later\n" {
			t.Errorf("refusal: %d, Retry-After %q, body %q; want 503, 2 (1.5s rounded up) and the message", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		close(release)
		wg.Wait()
		resp, err = c.Post(srv.URL, "text/plain", strings.NewReader("whole body"))
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); resp.StatusCode != 200 || got != "got whole body" {
			t.Errorf("after the slot came free: %d %q", resp.StatusCode, got)
		}
		// HTTP/1.1: one connection for the held request, one reused by the
		// others; HTTP/2: one for all.
		want := int64(2)
		if h2 {
			want = 1
		}
		if got := srv.conns.Load(); got != want {
			t.Errorf("%d connections, want %d", got, want)
		}
	})
}

// TestShedPushbackReachesRetryingClient closes the loop: an httpx client
// that retries takes the 503 and its Retry-After as pushback, waits that
// long (on a fake clock), and the next attempt, body and all, goes
// through.
func TestShedPushbackReachesRetryingClient(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		b, _ := retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1, RetryAfter: 3 * time.Second})
		var served atomic.Int64
		srv := newShedServer(t, h2, b, func(w http.ResponseWriter, r *http.Request) {
			served.Add(1)
			body, _ := io.ReadAll(r.Body)
			io.WriteString(w, "got "+string(body))
		})
		held, err := b.Acquire(context.Background()) // the server is busy
		if err != nil {
			t.Fatal(err)
		}
		clk := stepclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		tr := srv.client(t).Transport
		client := mustNew(t, httpx.Config{Base: tr, Retry: &retry.Policy{
			MaxAttempts: 3,
			Clock:       &waitHook{clk, func() { held.Done(nil) }}, // free by the retry
		}})
		resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); resp.StatusCode != 200 || got != "got payload" || served.Load() != 1 {
			t.Errorf("got %d %q with %d requests served, want 200 \"got payload\" with 1", resp.StatusCode, got, served.Load())
		}
		if w := clk.Waits(); len(w) != 1 || w[0] != 3*time.Second {
			t.Errorf("client waits %v, want [3s] (the Retry-After)", w)
		}
	})
}

// waitHook is a clock that calls f as each wait starts.
type waitHook struct {
	*stepclock.Clock
	f func()
}

func (w *waitHook) After(d time.Duration) <-chan time.Time {
	w.f()
	return w.Clock.After(d)
}

// TestShedLimiterLearnsFromHandler: answers of 503 are drops for a
// Limiter behind Shed; answers of 404 are not.
func TestShedLimiterLearnsFromHandler(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		// A huge Tolerance and MaxLimit at the start: only drops move it.
		l, _ := retry.NewLimiter(retry.LimiterConfig{InitialLimit: 20, MaxLimit: 20, Tolerance: 1e6, Window: time.Nanosecond})
		var code atomic.Int64
		srv := newShedServer(t, h2, l, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(int(code.Load()))
		})
		c := srv.client(t)
		get := func(n int) {
			for range n {
				resp, err := c.Get(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				readAll(t, resp)
			}
		}
		code.Store(404)
		get(20)
		if got := l.Limit(); got != 20 {
			t.Errorf("after 404s: limit %d, want 20", got)
		}
		code.Store(503)
		get(11)
		if got := l.Limit(); got != 18 {
			t.Errorf("after 503s: limit %d, want 18", got)
		}
	})
}

// TestShedClientGoneWhileQueued: a request whose client gives up while it
// waits for a slot gives its place back, and leaves no goroutine behind.
func TestShedClientGoneWhileQueued(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		bh, _ := retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1, MaxWaiters: 1})
		l, _ := retry.NewLimiter(retry.LimiterConfig{InitialLimit: 1, MaxLimit: 1, MaxWaiters: 1})
		for _, b := range []retry.Admitter{bh, l} {
			clientGoneWhileQueued(t, h2, b)
		}
	})
}

// clientGoneWhileQueued is TestShedClientGoneWhileQueued with b.
func clientGoneWhileQueued(t *testing.T, h2 bool, b retry.Admitter) {
	var served atomic.Int64
	srv := newShedServer(t, h2, b, func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, "ok")
	})
	held, err := b.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := srv.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	if resp, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			resp.Body.Close()
		}
		t.Fatalf("queued request: %v, want the client's deadline", err)
	}
	held.Done(nil)
	// The slot and the place in the queue come back once the server
	// sees the client gone; then requests are served again.
	ok := false
	for range 200 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode == 200 && body == "ok" {
			ok = true
			break
		}
		time.Sleep(time.Millisecond)
	}
	// The request that gave up may still have been served, if the
	// slot came before the server saw the client go: no check of
	// served here (see TestShedGoneClientNotServed).
	if !ok {
		t.Errorf("no request served after the slot came free")
	}
}

func TestShedHandlerPanicFreesSlot(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		l, _ := retry.NewLimiter(retry.LimiterConfig{InitialLimit: 1, MaxLimit: 1})
		srv := newShedServer(t, h2, l, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				panic(http.ErrAbortHandler)
			}
			io.WriteString(w, "ok")
		})
		c := srv.client(t)
		if resp, err := c.Get(srv.URL + "/panic"); err == nil {
			resp.Body.Close()
			t.Fatalf("a handler that aborted gave %d", resp.StatusCode)
		}
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); resp.StatusCode != 200 || got != "ok" || l.InFlight() != 0 {
			t.Errorf("after a panic: %d %q, %d in flight", resp.StatusCode, got, l.InFlight())
		}
	})
}

func TestShedBadConfig(t *testing.T) {
	var nilLimiter *retry.Limiter
	var nilBulkhead *retry.Bulkhead
	h := http.NotFoundHandler()
	for name, cfg := range map[string]httpx.ShedConfig{
		"no admitter":   {},
		"nil *Limiter":  {Admitter: nilLimiter},
		"nil *Bulkhead": {Admitter: nilBulkhead},
	} {
		if _, err := httpx.Shed(cfg, h); !errors.Is(err, httpx.ErrInvalid) || !errors.Is(err, retry.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := httpx.Shed(httpx.ShedConfig{Admitter: &retry.Bulkhead{}}, nil); !errors.Is(err, httpx.ErrInvalid) {
		t.Errorf("nil next: %v, want ErrInvalid", err)
	}
}

// TestShedGoneClientNotServed: a request whose context is done when it
// comes to Shed is answered 503, without Retry-After (the server is not
// the one refusing), and never reaches the handler.
func TestShedGoneClientNotServed(t *testing.T) {
	for name, a := range map[string]retry.Admitter{"bulkhead": &retry.Bulkhead{}, "limiter": &retry.Limiter{}} {
		h, err := httpx.Shed(httpx.ShedConfig{Admitter: a}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			t.Errorf("%s: the handler ran", name)
		}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/", nil))
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "" {
			t.Errorf("%s: %d, Retry-After %q; want 503 without it", name, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
}
