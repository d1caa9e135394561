package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

func surfaceServer(t *testing.T, h2 bool, h http.HandlerFunc) (*httptest.Server, *tracker) {
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = discardLogger()
	if h2 {
		s.EnableHTTP2 = true
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	base := s.Client().Transport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	return s, &tracker{base: base}
}

// A 307/308 redirect followed by http.Client resends the body through
// GetBody; every hit reads the whole payload.
func TestRedirectWithBody(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		for _, code := range []int{307, 308} {
			var hits atomic.Int32
			var bad atomic.Value
			s, tr := surfaceServer(t, h2, func(w http.ResponseWriter, r *http.Request) {
				n := hits.Add(1)
				b, _ := io.ReadAll(r.Body)
				if string(b) != "payload" || r.ContentLength != 7 {
					bad.Store(string(b))
				}
				switch {
				case r.URL.Path == "/a":
					w.Header().Set("Location", "/b")
					w.WriteHeader(code)
				case n < 3:
					w.WriteHeader(502)
				default:
					io.WriteString(w, "done")
				}
			})
			rt, err := httpx.New(httpx.Config{Base: tr, Retry: fastPolicy(3)})
			if err != nil {
				t.Fatal(err)
			}
			c := &http.Client{Transport: rt}
			req, _ := http.NewRequest(http.MethodPut, s.URL+"/a", strings.NewReader("payload")) // idempotent: 502 is retried
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%d: %v", code, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "done" || bad.Load() != nil {
				t.Errorf("%d: status %d body %q, a hit read %q (hits %d)", code, resp.StatusCode, b, bad.Load(), hits.Load())
			}
			if !pollFor(10*time.Second, func() bool { return tr.open.Load() == 0 }) {
				t.Errorf("%d: %d bodies left open", code, tr.open.Load())
			}
		}
	})
}

// http.Client.Timeout over a hanging server: the error is a timeout, and
// nothing is left open.
func TestClientTimeout(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		s, tr := surfaceServer(t, h2, func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
		})
		for _, split := range []bool{false, true} {
			rt, _ := httpx.New(httpx.Config{Base: tr, Retry: fastPolicy(3), AttemptTimeout: 40 * time.Millisecond, SplitDeadline: split})
			c := &http.Client{Transport: rt, Timeout: 150 * time.Millisecond}
			req, _ := http.NewRequest("PUT", s.URL, strings.NewReader("x"))
			resp, err := c.Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			var ne interface{ Timeout() bool }
			if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("split=%v: err %v is not a timeout", split, err)
			}
		}
		if !pollFor(10*time.Second, func() bool { return tr.open.Load() == 0 }) {
			t.Errorf("open bodies")
		}
	})
}

// A caller's deadline shorter than the server's answer, with SplitDeadline
// and AttemptTimeout: the error is the deadline, never a cancellation.
func TestDeadlineShorterThanAnswer(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		s, tr := surfaceServer(t, h2, func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(400 * time.Millisecond):
				w.WriteHeader(200)
			}
		})
		for _, at := range []time.Duration{0, 30 * time.Millisecond, time.Second} {
			for _, split := range []bool{false, true} {
				for _, hedge := range []bool{false, true} {
					cfg := httpx.Config{Base: tr, Retry: fastPolicy(3), AttemptTimeout: at, SplitDeadline: split}
					if hedge {
						cfg.Hedge = &retry.HedgePolicy{MaxAttempts: 2, Delay: 10 * time.Millisecond}
					}
					rt, _ := httpx.New(cfg)
					ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
					req, _ := http.NewRequestWithContext(ctx, "GET", s.URL, nil)
					resp, err := rt.RoundTrip(req)
					cancel()
					if resp != nil {
						resp.Body.Close()
						t.Errorf("at=%v split=%v hedge=%v: a response", at, split, hedge)
						continue
					}
					if errors.Is(err, context.Canceled) {
						t.Errorf("at=%v split=%v hedge=%v: err %v matches context.Canceled", at, split, hedge, err)
					}
					if at != 30*time.Millisecond && !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("at=%v split=%v hedge=%v: err %v is not DeadlineExceeded", at, split, hedge, err)
					}
				}
			}
		}
		if !pollFor(10*time.Second, func() bool { return tr.open.Load() == 0 }) {
			t.Errorf("open bodies")
		}
	})
}

// Expect: 100-continue with a server that answers 503 before the body,
// then 200: the body is sent whole on the retry.
func TestExpectContinue(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		var hits atomic.Int32
		var got atomic.Value
		s, tr := surfaceServer(t, h2, func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(503)
				return
			}
			b, _ := io.ReadAll(r.Body)
			got.Store(string(b))
		})
		tr.base.(*http.Transport).ExpectContinueTimeout = time.Second
		rt, _ := httpx.New(httpx.Config{Base: tr, Retry: fastPolicy(3)})
		req, _ := http.NewRequest("POST", s.URL, strings.NewReader(strings.Repeat("z", 5000)))
		req.Header.Set("Expect", "100-continue")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		g, _ := got.Load().(string)
		if resp.StatusCode != 200 || g != strings.Repeat("z", 5000) {
			t.Errorf("status %d, body read %d", resp.StatusCode, len(g))
		}
		if !pollFor(10*time.Second, func() bool { return tr.open.Load() == 0 }) {
			t.Errorf("open bodies")
		}
	})
}

// HEAD, 204 and 304 answers after a retry: empty bodies, closed.
func TestEmptyAnswers(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		for _, code := range []int{204, 304} {
			for _, method := range []string{"GET", "HEAD"} {
				var hits atomic.Int32
				s, tr := surfaceServer(t, h2, func(w http.ResponseWriter, r *http.Request) {
					if hits.Add(1) == 1 {
						w.Header().Set("Content-Length", "10")
						w.WriteHeader(502)
						if r.Method != "HEAD" {
							io.WriteString(w, "0123456789")
						}
						return
					}
					w.WriteHeader(code)
				})
				cfg := httpx.Config{Base: tr, Retry: fastPolicy(3), Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: 5 * time.Millisecond}}
				rt, _ := httpx.New(cfg)
				req, _ := http.NewRequest(method, s.URL, nil)
				resp, err := rt.RoundTrip(req)
				if err != nil {
					t.Fatalf("%s %d: %v", method, code, err)
				}
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != code || len(b) != 0 || rerr != nil {
					t.Errorf("%s %d: status %d body %q err %v", method, code, resp.StatusCode, b, rerr)
				}
				if !pollFor(10*time.Second, func() bool { return tr.open.Load() == 0 }) {
					t.Errorf("%s %d: open bodies", method, code)
				}
			}
		}
	})
}
