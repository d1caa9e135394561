package httpx_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"github.com/retrykit/retry/internal/stepclock"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// upload is a 1 MiB file in the test's temporary folder, and a GetBody
// that rewinds one shared *os.File, as uploads usually do.
type upload struct {
	data []byte
	file *os.File
}

func newUpload(t *testing.T, size int) *upload {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>10)
	}
	path := filepath.Join(t.TempDir(), "upload")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &upload{data: data, file: f}
}

// request returns a PUT of the file whose GetBody seeks the shared file;
// length is its declared ContentLength (-1 for unknown).
func (u *upload) request(t *testing.T, url string, length int64) *http.Request {
	t.Helper()
	if _, err := u.file.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, url, io.NopCloser(u.file))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	req.GetBody = func() (io.ReadCloser, error) {
		if _, err := u.file.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return io.NopCloser(u.file), nil
	}
	return req
}

// wholeBodies checks that every body the server read is the file, whole.
func (u *upload) wholeBodies(t *testing.T, bodies []string) {
	t.Helper()
	want := sha256.Sum256(u.data)
	for i, b := range bodies {
		if b == "" {
			continue // an attempt answered before its body was read
		}
		if got := sha256.Sum256([]byte(b)); got != want {
			t.Errorf("attempt %d: the server read %d bytes that are not the file (%d bytes)", i+1, len(b), len(u.data))
		}
	}
}

// earlyStatus answers code without reading the request body.
func earlyStatus(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// Item 1: a PUT whose GetBody rewinds one shared file, answered 503 twice
// before the server reads it: every attempt that arrives carries the
// whole file. HTTP/2 closes a request body from another goroutine while
// its writer may still be inside Read; a rewind must wait for that Read.
func TestSharedReaderRetriedWhole(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		for _, length := range []int64{1 << 20, -1} {
			u := newUpload(t, 1<<20)
			srv := newLazyServer(t, h2, 2)
			client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(3)})
			for range 5 {
				resp, err := client.Do(u.request(t, srv.URL, length))
				if err != nil {
					t.Fatalf("length %d: %v", length, err)
				}
				readAll(t, resp)
				if resp.StatusCode != 200 {
					t.Fatalf("length %d: status %d", length, resp.StatusCode)
				}
			}
			u.wholeBodies(t, srv.Bodies())
		}
	})
}

// newLazyServer answers 503 without reading the body to the first
// refusals requests of every run of refusals+1, and reads the body of the
// last one; Bodies holds what it read.
func newLazyServer(t *testing.T, h2 bool, refusals int) *script {
	var n atomic.Int64
	var s *script
	s = newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
		if int(n.Add(1)-1)%(refusals+1) < refusals {
			w.WriteHeader(503)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		s.record(string(b), r.Header)
	}).lazy()
	return s
}

// Item 2: a hedged PUT whose GetBody rewinds one shared file. With a
// declared length within MaxReplayBytes, httpx reads it once into memory
// and the copies, which do run at once, each carry the whole file; with
// no declared length the copies would share the reader, so attempts go
// one at a time (one request here).
func TestHedgedSharedReaderWhole(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		for _, tt := range []struct {
			length   int64
			requests int64
		}{{256 << 10, 2}, {-1, 1}} {
			u := newUpload(t, 256<<10)
			second := make(chan struct{})
			var n atomic.Int64
			var srv *script
			srv = newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
				i := n.Add(1)
				b, err := io.ReadAll(r.Body)
				if err != nil {
					w.WriteHeader(400)
					return
				}
				srv.record(string(b), r.Header)
				if i == 1 && tt.requests > 1 {
					<-second // the hedge wins
					return
				}
				if i == 2 {
					close(second)
				}
			}).lazy()
			client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(2),
				Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond}})
			resp, err := client.Do(u.request(t, srv.URL, tt.length))
			if err != nil {
				t.Fatalf("length %d: %v", tt.length, err)
			}
			if readAll(t, resp); resp.StatusCode != 200 {
				t.Fatalf("length %d: status %d", tt.length, resp.StatusCode)
			}
			// A loser may be cancelled before its body is read: what the
			// server did read must be whole.
			if got := n.Load(); got != tt.requests {
				t.Fatalf("length %d: %d requests, want %d", tt.length, got, tt.requests)
			}
			u.wholeBodies(t, srv.Bodies())
		}
	})
}

// Item 3: a body shorter or longer than its declared ContentLength is an
// error, as net/http makes it, and nothing is sent with a rewritten
// length.
func TestDeclaredLengthNeverRewritten(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		for _, tt := range []struct {
			declared int64
			body     string
			getBody  bool
			hedge    bool
		}{
			{100, "0123456789", false, false},
			{10, "01234567890123456789", false, false},
			{100, "0123456789", true, false},
			{10, "01234567890123456789", true, false},
			{100, "0123456789", true, true},
		} {
			srv := newLazyServer(t, h2, 0) // records only bodies read whole
			cfg := httpx.Config{Base: srv.base(t), Retry: fastPolicy(3)}
			if tt.hedge {
				cfg.Hedge = &retry.HedgePolicy{Delay: time.Millisecond}
			}
			client := mustNew(t, cfg)
			req, _ := http.NewRequest(http.MethodPut, srv.URL, io.NopCloser(strings.NewReader(tt.body)))
			req.ContentLength = tt.declared
			if tt.getBody {
				req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(tt.body)), nil }
			}
			resp, err := client.Do(req)
			if err == nil {
				readAll(t, resp)
				t.Fatalf("%+v: status %d, want an error", tt, resp.StatusCode)
			}
			if !strings.Contains(err.Error(), "ContentLength=") {
				t.Errorf("%+v: err = %v, want one that names the ContentLength", tt, err)
			}
			for _, b := range srv.Bodies() {
				if int64(len(b)) != tt.declared {
					t.Errorf("%+v: the server accepted a body of %d bytes", tt, len(b))
				}
			}
		}
	})
}

// Item 4: when retries run out on a hedged GET whose last answer is a 502
// with a 100 KiB body, the caller reads that body whole.
func TestHedgedGiveUpReturnsWholeResponse(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		big := strings.Repeat("b", 100<<10)
		srv := newScript(t, h2, status(502, big))
		tr := &tracker{base: srv.base(t)}
		client := mustNew(t, httpx.Config{Base: tr, Retry: fastPolicy(2),
			Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond}})
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); resp.StatusCode != 502 || got != big {
			t.Fatalf("status %d with %d bytes, want 502 with %d", resp.StatusCode, len(got), len(big))
		}
		waitFor(t, func() bool { return tr.open.Load() == 0 }) // the others drain on their own

	})
}

// nilBodyBase answers with a nil Body, as fakes often do.
type nilBodyBase struct {
	codes []int
	n     atomic.Int32
}

func (b *nilBodyBase) RoundTrip(r *http.Request) (*http.Response, error) {
	i := int(b.n.Add(1)) - 1
	return &http.Response{StatusCode: b.codes[min(i, len(b.codes)-1)], Header: http.Header{}, Request: r}, nil
}

// Item 5: a base transport's response with a nil Body is an empty body:
// no panic, retried and discarded like any other, in every mode.
func TestNilResponseBody(t *testing.T) {
	for name, cfg := range map[string]httpx.Config{
		"plain":   {Retry: fastPolicy(3)},
		"timeout": {Retry: fastPolicy(3), AttemptTimeout: time.Hour},
		"hedged":  {Retry: fastPolicy(3), Hedge: &retry.HedgePolicy{Delay: time.Hour}},
	} {
		t.Run(name, func(t *testing.T) {
			base := &nilBodyBase{codes: []int{503, 200}}
			cfg.Base = base
			client := mustNew(t, cfg)
			resp, err := client.Get("http://example.test/")
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, resp); resp.StatusCode != 200 || got != "" || base.n.Load() != 2 {
				t.Fatalf("status %d, body %q after %d requests", resp.StatusCode, got, base.n.Load())
			}
			base.codes = []int{502}
			base.n.Store(0)
			resp, err = client.Get("http://example.test/")
			if err != nil || resp.StatusCode != 502 {
				t.Fatalf("resp %v, err %v", resp, err)
			}
			readAll(t, resp)
		})
	}
}

// A base transport that returns neither a response nor an error is
// reported, not passed on.
func TestNilResponseNilError(t *testing.T) {
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, nil })
	rt, _ := httpx.New(httpx.Config{Base: base, Retry: fastPolicy(2)})
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	resp, err := rt.RoundTrip(req)
	if resp != nil || err == nil || !strings.Contains(err.Error(), "nil *http.Response") {
		t.Fatalf("resp %v, err %v", resp, err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// hairTrigger is a breaker that opens on the first failure, for an hour.
func hairTrigger(t *testing.T) *retry.Breaker {
	t.Helper()
	br, err := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return br
}

// Item 6: outcomes that say nothing about the server never count as
// breaker failures: a hedge loser, the caller's cancellation with a cause
// (net/http's HTTP/1 transport returns the cause, which does not match
// context.Canceled), a context done before RoundTrip, a request net/http
// refuses before sending it, a GetBody error.
func TestBreakerIgnoresClientSideOutcomes(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		t.Run("hedge loser", func(t *testing.T) {
			srv := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, status(200, "ok"))
			br := hairTrigger(t)
			var events atomic.Int32
			client := mustNew(t, httpx.Config{Base: srv.base(t), Breaker: func(*http.Request) *retry.Breaker { return br },
				Hedge:     &retry.HedgePolicy{Delay: time.Millisecond},
				OnAttempt: func(context.Context, httpx.AttemptEvent) { events.Add(1) }})
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			waitFor(t, func() bool { return events.Load() == 2 }) // the loser's outcome is in
			if br.State() != retry.BreakerClosed {
				t.Fatalf("breaker %v after a hedge lost its race", br.State())
			}
		})
		t.Run("cancel with a cause", func(t *testing.T) {
			started := make(chan struct{})
			srv := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) { close(started); <-r.Context().Done() })
			br := hairTrigger(t)
			client := mustNew(t, httpx.Config{Base: srv.base(t), Breaker: func(*http.Request) *retry.Breaker { return br }})
			ctx, cancel := context.WithCancelCause(context.Background())
			errGone := errors.New("user went away")
			go func() { <-started; cancel(errGone) }()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			_, err := client.Do(req)
			if !errors.Is(err, context.Canceled) && !errors.Is(err, errGone) {
				t.Fatalf("err = %v, want the cancellation", err)
			}
			if br.State() != retry.BreakerClosed {
				t.Fatalf("breaker %v after the caller cancelled", br.State())
			}
		})
		t.Run("context done before", func(t *testing.T) {
			srv := newScript(t, h2, status(200, "ok"))
			clk := stepclock.New(time.Now())
			br, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk})
			done, _ := br.Allow()
			done(errors.New("down")) // open
			clk.Add(time.Second)     // the next call is the one probe
			client := mustNew(t, httpx.Config{Base: srv.base(t), Breaker: func(*http.Request) *retry.Breaker { return br }})
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			before := br.Snapshot().Generation
			if _, err := client.Do(req); !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v", err)
			}
			// Not asked: had it been, it would have gone half-open.
			if s := br.Snapshot(); s.Generation != before || s.Probes != 0 || srv.hits.Load() != 0 {
				t.Fatalf("breaker %v (generation %d, was %d) with %d probes, %d requests sent",
					s.State, s.Generation, before, s.Probes, srv.hits.Load())
			}
			resp, err := client.Get(srv.URL) // the probe slot is still free
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			if br.State() != retry.BreakerClosed {
				t.Fatalf("breaker %v after a successful probe", br.State())
			}
		})
		t.Run("refused by net/http", func(t *testing.T) {
			srv := newScript(t, h2, status(200, "ok"))
			br := hairTrigger(t)
			client := mustNew(t, httpx.Config{Base: srv.base(t), Breaker: func(*http.Request) *retry.Breaker { return br }})
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			req.Header["X-Bad"] = []string{"line\nbreak"}
			if _, err := client.Do(req); err == nil {
				t.Fatal("a request with an invalid header value was sent")
			}
			if br.State() != retry.BreakerClosed || srv.hits.Load() != 0 {
				t.Fatalf("breaker %v, %d requests", br.State(), srv.hits.Load())
			}
		})
		t.Run("GetBody error", func(t *testing.T) {
			srv := newScript(t, h2, status(503, ""), status(200, "ok"))
			br, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 2, OpenDuration: time.Hour})
			client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(3), Breaker: func(*http.Request) *retry.Breaker { return br }})
			req, _ := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader("x"))
			req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("gone") }
			if _, err := client.Do(req); err == nil {
				t.Fatal("no error from a GetBody that fails")
			}
			if s := br.Snapshot(); s.State != retry.BreakerClosed || s.ConsecutiveFailures != 1 {
				t.Fatalf("breaker %+v after one 503 and a GetBody error", s)
			}
		})
	})
}

// waitFor polls cond for up to ten seconds: for a loser's goroutine that
// ends on its own after the call.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 10000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not reached in 10s")
}

// Item 7: a body that can be sent only once still asks the breaker, and
// its outcome counts.
func TestOnceBodyThroughBreaker(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		srv := newScript(t, h2, status(502, ""))
		br := hairTrigger(t)
		client := mustNew(t, httpx.Config{Base: srv.base(t), Breaker: func(*http.Request) *retry.Breaker { return br }})
		stream := func() *http.Request {
			req, _ := http.NewRequest(http.MethodPut, srv.URL, io.NopCloser(strings.NewReader("streamed")))
			req.ContentLength = -1
			return req
		}
		resp, err := client.Do(stream())
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if br.State() != retry.BreakerOpen {
			t.Fatalf("breaker %v after a 502", br.State())
		}
		if _, err := client.Do(stream()); !errors.Is(err, retry.ErrBreakerOpen) || srv.hits.Load() != 1 {
			t.Fatalf("err = %v after %d requests; want ErrBreakerOpen and 1 request", err, srv.hits.Load())
		}
	})
}

// Item 13: two hedged attempts ending together, the loser on its own,
// with OnAttempt set: no data race (run with -race).
func TestHedgedAttemptsEndTogether(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		var arrived atomic.Int32
		both := make(chan struct{})
		srv := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
			if arrived.Add(1) == 2 {
				close(both)
			}
			select {
			case <-both:
			case <-time.After(5 * time.Second):
			}
			w.WriteHeader(503)
		})
		var events atomic.Int32
		tr := &tracker{base: srv.base(t)}
		client := mustNew(t, httpx.Config{Base: tr, Retry: fastPolicy(2),
			Hedge:     &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond},
			OnAttempt: func(context.Context, httpx.AttemptEvent) { events.Add(1) }})
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		waitFor(t, func() bool { return tr.open.Load() == 0 })
		if int64(events.Load()) != tr.sent.Load() {
			t.Fatalf("%d events for %d attempts", events.Load(), tr.sent.Load())
		}
	})
}

// Item 18: a hedged call that gives up returns one flat *retry.Error with
// the call's real attempt count.
func TestHedgedGiveUpErrorFlat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) { return nil, errors.New("connection reset") })
		rt, _ := httpx.New(httpx.Config{Base: base, Retry: fastPolicy(2), Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Second}})
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		_, err := rt.RoundTrip(req)
		var e *retry.Error
		if !errors.As(err, &e) {
			t.Fatalf("err = %v, want a *retry.Error", err)
		}
		if _, nested := errors.AsType[*retry.Error](e.Last); nested || e.Attempts != 4 {
			t.Fatalf("err = %v: %d attempts, nested %v; want 4 attempts, flat", err, e.Attempts, nested)
		}
		if strings.Count(err.Error(), "gave up") != 1 {
			t.Fatalf("err = %q says it gave up more than once", err)
		}
	})
}

// Item 18 over loopback: a hedged GET whose every attempt is hung up on
// gives up with one flat *retry.Error that counts every request sent.
func TestHedgedGiveUpErrorFlatLoopback(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		srv := newScript(t, h2, func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
		client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(2),
			Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour}})
		_, err := client.Get(srv.URL)
		var e *retry.Error
		if !errors.As(err, &e) {
			t.Fatalf("err = %v, want a *retry.Error", err)
		}
		if _, nested := errors.AsType[*retry.Error](e.Last); nested || strings.Count(err.Error(), "gave up") != 1 {
			t.Fatalf("err = %v: nested", err)
		}
		// 2 rounds of 2 (a failure hedges at once); net/http may resend
		// one on a connection that died, so the server may see more.
		if e.Attempts != 4 || srv.hits.Load() < 4 {
			t.Fatalf("err says %d attempts, the server saw %d requests; want 4", e.Attempts, srv.hits.Load())
		}
	})
}

// Item 18: cancelling with a cause while httpx snapshots a body still
// matches context.Canceled, and the cause.
func TestCancelCauseDuringSnapshot(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	errGone := errors.New("user went away")
	rt, _ := httpx.New(httpx.Config{Base: &nilBodyBase{codes: []int{200}}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://example.test/", pr)
	go func() { pw.Write([]byte("part")); cancel(errGone) }()
	_, err := rt.RoundTrip(req)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errGone) {
		t.Fatalf("err = %v, want context.Canceled and the cause", err)
	}
}

// Item 17: NewPerHost(nil) is an error; the zero PerHost gives none.
func TestPerHostBadInput(t *testing.T) {
	if p, err := httpx.NewPerHost[*retry.Breaker](httpx.PerHostConfig{}, nil); p != nil || !errors.Is(err, httpx.ErrInvalid) {
		t.Fatalf("NewPerHost(nil) = %v, %v", p, err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	var zero httpx.PerHost[*retry.Breaker]
	var none *httpx.PerHost[retry.Budget]
	if zero.For(req) != nil || none.For(req) != nil {
		t.Fatal("a zero or nil PerHost made a value")
	}
}

// Item 17: a nil *retry.TokenBucket from Config.Budget is an error, on
// every path: retried, hedged, sent once.
func TestNilBudgetFromConfig(t *testing.T) {
	for name, cfg := range map[string]httpx.Config{
		"retried": {},
		"hedged":  {Hedge: &retry.HedgePolicy{Delay: time.Hour}},
	} {
		for _, stream := range []bool{false, true} {
			cfg.Base = &nilBodyBase{codes: []int{200}}
			cfg.Budget = func(*http.Request) retry.Budget { return (*retry.TokenBucket)(nil) }
			rt, _ := httpx.New(cfg)
			req, _ := http.NewRequest(http.MethodPut, "http://example.test/", io.NopCloser(strings.NewReader("x")))
			if stream {
				req.ContentLength = -1
			}
			if _, err := rt.RoundTrip(req); !errors.Is(err, retry.ErrInvalid) && !errors.Is(err, httpx.ErrInvalid) {
				t.Errorf("%s, stream %v: err = %v, want an invalid-argument error", name, stream, err)
			}
		}
	}
}

// A hedged call that panics (here the base transport, on the copy still
// running after the first attempt's 503 halted the round) still drains
// and closes the responses its failed attempts held.
func TestHedgedPanicDrainsHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		open := &atomic.Int32{}
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if n.Add(1) == 1 {
				time.Sleep(20 * time.Millisecond)
				open.Add(1)
				return &http.Response{StatusCode: 503, Status: "503 Service Unavailable", Header: http.Header{}, Request: r,
					Body: &countedBody{Reader: strings.NewReader("busy"), open: open}}, nil
			}
			time.Sleep(40 * time.Millisecond)
			panic("base transport blew up")
		})
		rt, _ := httpx.New(httpx.Config{Base: base, Retry: fastPolicy(1),
			Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: 5 * time.Millisecond}})
		func() {
			defer func() {
				if _, ok := recover().(*retry.PanicError); !ok {
					t.Error("the base transport's panic did not come through as a *retry.PanicError")
				}
			}()
			req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
			rt.RoundTrip(req)
		}()
		synctest.Wait()
		if open.Load() != 0 {
			t.Fatal("the first attempt's 503 was never closed")
		}
	})
}

// A body sent once, cancelled with a cause mid-request: the error matches
// context.Canceled and the cause (net/http's HTTP/1 returns the cause
// alone).
func TestOnceBodyCancelCause(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		started := make(chan struct{})
		srv := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-r.Context().Done()
		})
		client := mustNew(t, httpx.Config{Base: srv.base(t)})
		ctx, cancel := context.WithCancelCause(context.Background())
		errGone := errors.New("user went away")
		go func() { <-started; cancel(errGone) }()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, io.NopCloser(strings.NewReader("streamed")))
		req.ContentLength = -1
		_, err := client.Do(req)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errGone) {
			t.Fatalf("err = %v; want context.Canceled and the cause", err)
		}
	})
}

// A breaker whose Classify panics (on a 503): the panic reaches the
// caller, and the attempt's response is closed, not leaked.
func TestPanickingClassifyClosesResponse(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		srv := newScript(t, h2, status(503, "busy"))
		tr := &tracker{base: srv.base(t)}
		br, _ := retry.NewBreaker(retry.BreakerConfig{Classify: func(err error) retry.BreakerOutcome {
			if err != nil {
				panic("classify blew up")
			}
			return retry.BreakerSuccess
		}})
		client := mustNew(t, httpx.Config{Base: tr, Retry: fastPolicy(2), Breaker: func(*http.Request) *retry.Breaker { return br }})
		func() {
			defer func() {
				if recover() == nil {
					t.Error("Classify's panic did not reach the caller")
				}
			}()
			client.Get(srv.URL)
		}()
		waitFor(t, func() bool { return tr.open.Load() == 0 })
	})
}

// closeRecorder is a request body that records its Close.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (b *closeRecorder) Close() error { b.closed.Store(true); return nil }

// RoundTrip closes the caller's request body on every path, errors
// included, as the RoundTripper contract requires: a request refused by
// httpx, by an open breaker, by a context already done, after a GetBody
// failure, sent once, or snapshotted.
func TestRequestBodyAlwaysClosed(t *testing.T) {
	open := hairTrigger(t)
	done, _ := open.Allow()
	done(errors.New("down"))
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) { // keeps the contract
		if r.Body != nil {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		return &http.Response{StatusCode: 503, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		name   string
		cfg    httpx.Config
		ctx    context.Context
		length int64
		header string
		get    func() (io.ReadCloser, error)
	}{
		{name: "bad header", header: "bad\nvalue"},
		{name: "open breaker", cfg: httpx.Config{Breaker: func(*http.Request) *retry.Breaker { return open }}},
		{name: "open breaker, sent once", length: -1, cfg: httpx.Config{Breaker: func(*http.Request) *retry.Breaker { return open }}},
		{name: "context done", ctx: cancelled},
		{name: "GetBody fails", get: func() (io.ReadCloser, error) { return nil, errors.New("gone") }},
		{name: "sent once", length: -1},
		{name: "snapshot"},
		{name: "hedged snapshot", cfg: httpx.Config{Hedge: &retry.HedgePolicy{Delay: time.Hour}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Base, cfg.Retry = base, fastPolicy(2)
			rt, err := httpx.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			body := &closeRecorder{Reader: strings.NewReader("payload")}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://example.test/", body)
			req.ContentLength = 7
			if tt.length != 0 {
				req.ContentLength = tt.length
			}
			if tt.header != "" {
				req.Header["X-Bad"] = []string{tt.header}
			}
			req.GetBody = tt.get
			if resp, err := rt.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
			waitFor(t, body.closed.Load)
		})
	}
}

// A plain POST whose connection is reset after the server read it is not
// sent again: the server may have acted on it.
func TestPostNotResentAfterReset(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		srv := newScript(t, h2, func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
		client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(3)})
		_, err := client.Post(srv.URL, "text/plain", strings.NewReader("order #1"))
		if err == nil {
			t.Fatal("no error from a reset")
		}
		if got := srv.Bodies(); len(got) != 1 || got[0] != "order #1" {
			t.Fatalf("the server read %q; want the order once", got)
		}
	})
}

// A caller that uploads one shared file again right after a call returned
// (a 503 answered before the body was read, no retry left) and its
// response was closed: the earlier attempt's writer, which may still be
// reading the file, must not take part of the next upload (HTTP/2, no
// declared length: a short body would be accepted as whole).
func TestSharedReaderReusedAfterCall(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		u := newUpload(t, 3<<20)
		srv := newLazyServer(t, h2, 1) // 503 unread, then read, in turn
		client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(1)})
		for range 6 {
			for range 2 { // the refused one, then the read one
				resp, err := client.Do(u.request(t, srv.URL, -1))
				if err != nil {
					t.Fatal(err)
				}
				readAll(t, resp)
			}
		}
		if got := srv.Bodies(); len(got) != 6 {
			t.Fatalf("the server read %d bodies, want 6", len(got))
		}
		u.wholeBodies(t, srv.Bodies())
	})
}
