package httpx_test

import (
	"bytes"
	"context"
	"errors"
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

// The RoundTripper contract, path by path: exactly one of the response and
// the error, and the request body always closed.

// closeCounted is a request body that counts its Close calls.
type closeCounted struct {
	io.Reader
	closes atomic.Int32
}

func (b *closeCounted) Close() error { b.closes.Add(1); return nil }

func TestRequestBodyClosedOnEveryPath(t *testing.T) {
	const payload = "the request body"
	open := retry.Must(&retry.Policy{MaxAttempts: 2, Backoff: retry.Constant{}})
	openBreaker := func() *retry.Breaker {
		b, err := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1})
		if err != nil {
			t.Fatal(err)
		}
		done, _ := b.Allow()
		done(errors.New("down"))
		return b
	}()
	for _, h2 := range []bool{false, true} {
		srv := newScript(t, h2, status(503, "busy"), status(200, "ok"))
		for _, tc := range []struct {
			name    string
			cfg     httpx.Config
			length  int64 // the declared ContentLength
			getBody bool
			ctxDone bool
			wantErr bool
		}{
			{name: "snapshot retried", cfg: httpx.Config{Retry: open}, length: int64(len(payload))},
			{name: "GetBody retried", cfg: httpx.Config{Retry: open}, length: int64(len(payload)), getBody: true},
			{name: "sent once", cfg: httpx.Config{Retry: open, MaxReplayBytes: 4}, length: int64(len(payload))},
			{name: "streamed", cfg: httpx.Config{Retry: open}, length: -1},
			{name: "length short", cfg: httpx.Config{Retry: open}, length: int64(len(payload)) + 1, wantErr: true},
			{name: "context done", cfg: httpx.Config{Retry: open}, length: int64(len(payload)), ctxDone: true, wantErr: true},
			{name: "breaker open", cfg: httpx.Config{Retry: open, Breaker: func(*http.Request) *retry.Breaker { return openBreaker }},
				length: int64(len(payload)), wantErr: true},
		} {
			t.Run(proto(h2)+"/"+tc.name, func(t *testing.T) {
				srv.hits.Store(0)
				tc.cfg.Base = srv.base(t)
				tr, err := httpx.New(tc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if tc.ctxDone {
					cancel()
				}
				body := &closeCounted{Reader: strings.NewReader(payload)}
				req, _ := http.NewRequestWithContext(ctx, "PUT", srv.URL, body)
				req.ContentLength = tc.length
				var bodies []*closeCounted
				if tc.getBody {
					req.GetBody = func() (io.ReadCloser, error) {
						b := &closeCounted{Reader: strings.NewReader(payload)}
						bodies = append(bodies, b)
						return b, nil
					}
				}
				resp, err := tr.RoundTrip(req)
				if (resp == nil) == (err == nil) {
					t.Fatalf("RoundTrip = %v, %v: want exactly one of them", resp, err)
				}
				if tc.wantErr != (err != nil) {
					t.Fatalf("RoundTrip error %v, want one: %v", err, tc.wantErr)
				}
				if resp != nil {
					readAll(t, resp)
				}
				waitFor(t, func() bool { return body.closes.Load() >= 1 })
				for _, b := range bodies {
					waitFor(t, func() bool { return b.closes.Load() >= 1 })
				}
			})
		}
	}
}

func proto(h2 bool) string {
	if h2 {
		return "h2"
	}
	return "h1"
}

// A plain POST that the server may have acted on is never sent again: a
// connection reset after the server read the request is such an outcome.
// The same request with an Idempotency-Key is retried.
func TestPlainPOSTNotResentAfterReset(t *testing.T) {
	reset := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.ProtoMajor == 1 {
			hangup(w, r)
			return
		}
		panic(http.ErrAbortHandler)
	}
	for _, h2 := range []bool{false, true} {
		for _, key := range []string{"", "k-1"} {
			t.Run(proto(h2)+"/key="+key, func(t *testing.T) {
				srv := newScript(t, h2, reset, reset, status(200, "ok"))
				tr, err := httpx.New(httpx.Config{Base: srv.base(t), Retry: fastPolicy(3)})
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest("POST", srv.URL, bytes.NewReader([]byte("order #1")))
				if key != "" {
					req.Header.Set("Idempotency-Key", key)
				}
				resp, err := tr.RoundTrip(req)
				if key == "" {
					if err == nil || srv.hits.Load() != 1 {
						t.Fatalf("plain POST: %v, %d requests reached the server; want an error after 1", err, srv.hits.Load())
					}
					return
				}
				if err != nil || srv.hits.Load() != 3 {
					t.Fatalf("POST with a key: %v after %d requests; want success on the third", err, srv.hits.Load())
				}
				readAll(t, resp)
				for i, b := range srv.Bodies() {
					if b != "order #1" {
						t.Errorf("request %d carried %q", i+1, b)
					}
				}
			})
		}
	}
}

// A response held by a failed hedged copy is closed when the caller gives
// up while another copy still runs.
func TestHeldResponseClosedWhenCallerCancels(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(proto(h2), func(t *testing.T) {
			release := make(chan struct{})
			var once sync.Once
			hang := func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			}
			srv := newScript(t, h2, hang, status(502, strings.Repeat("x", 100)))
			defer once.Do(func() { close(release) })
			base := &tracker{base: srv.base(t)}
			tr, err := httpx.New(httpx.Config{Base: base, Retry: fastPolicy(1),
				Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				defer cancel()
				for range 10000 { // until the 502 is held
					if base.sent.Load() == 2 && base.open.Load() == 1 {
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
			resp, err := tr.RoundTrip(req)
			if resp != nil || !errors.Is(err, context.Canceled) {
				t.Fatalf("RoundTrip = %v, %v; want context.Canceled", resp, err)
			}
			once.Do(func() { close(release) })
			waitFor(t, func() bool { return base.open.Load() == 0 })
		})
	}
}

// Every attempt is reported, a timed-out one included, with how long it
// ran; the error of a call whose attempts all timed out still reaches
// retry.ErrAttemptTimeout, through OnAttempt's wrapping too. The attempt
// header goes out on the first attempt of a plain GET.
func TestEveryAttemptReportedAndMarked(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(proto(h2), func(t *testing.T) {
			hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
			srv := newScript(t, h2, hang)
			var mu sync.Mutex
			var events []httpx.AttemptEvent
			const limit = 20 * time.Millisecond
			tr, err := httpx.New(httpx.Config{Base: srv.base(t), Retry: fastPolicy(2), AttemptTimeout: limit,
				AttemptHeader: "X-Attempt",
				OnAttempt: func(_ context.Context, e httpx.AttemptEvent) {
					mu.Lock()
					events = append(events, e)
					mu.Unlock()
				}})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", srv.URL, nil)
			resp, err := tr.RoundTrip(req)
			if resp != nil || !errors.Is(err, retry.ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("RoundTrip = %v, %v; want an error matching ErrAttemptTimeout", resp, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(events) != 2 {
				t.Fatalf("%d events, want 2: %+v", len(events), events)
			}
			for i, e := range events {
				if e.Attempt != i+1 || !errors.Is(e.Err, retry.ErrAttemptTimeout) || e.Duration < limit {
					t.Errorf("event %d: %+v; want attempt %d, ErrAttemptTimeout, Duration at least %v", i, e, i+1, limit)
				}
			}
			// The handlers may run in either order (the first attempt's can
			// start after its client gave up), and a request cut before the
			// server read it is not recorded: each recorded header is one
			// of the attempts', once.
			seen := map[string]bool{}
			for _, h := range srv.Headers() {
				got := h.Get("X-Attempt")
				if (got != "1" && got != "2") || seen[got] {
					t.Errorf("X-Attempt %q among %v, want 1 and 2 once each", got, srv.Headers())
				}
				seen[got] = true
			}
		})
	}
}
