package httpx_test

// Hostile tests of the v1 API of httpx (issue 11): the zero Transport over
// real servers, the new limits (Unlimited, MaxElapsed, ErrAttemptTimeout)
// and Clocks. A failing test is a defect to fix in the code.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"github.com/retrykit/retry/internal/stepclock"
)

// The zero Transport, as documented ("&http.Client{Transport:
// new(httpx.Transport)}"), over a real HTTP/1.1 server: every kind of
// request body arrives whole on every attempt, the 503s are drained so
// that one connection serves every attempt, and the answer comes back
// whole. Under -race, from many goroutines at once.
func TestHostileZeroTransportBodies(t *testing.T) {
	payload := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	srv := newScript(t, false, status(http.StatusServiceUnavailable, "busy"), status(http.StatusServiceUnavailable, "busy"), status(http.StatusOK, "ok"))
	zero := new(httpx.Transport)
	defer zero.CloseIdleConnections()
	client := &http.Client{Transport: zero}
	bodies := map[string]func() (*http.Request, error){
		"bytes.Reader": func() (*http.Request, error) {
			return http.NewRequest(http.MethodPut, srv.URL, bytes.NewReader([]byte(payload)))
		},
		"own GetBody": func() (*http.Request, error) {
			req, err := http.NewRequest(http.MethodPut, srv.URL, io.NopCloser(strings.NewReader(payload)))
			if err != nil {
				return nil, err
			}
			req.ContentLength = int64(len(payload))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(payload)), nil }
			return req, nil
		},
		"streamed, length unknown": func() (*http.Request, error) {
			pr, pw := io.Pipe()
			go func() {
				for i := 0; i < len(payload); i += 1000 {
					pw.Write([]byte(payload[i:min(i+1000, len(payload))]))
				}
				pw.Close()
			}()
			return http.NewRequest(http.MethodPut, srv.URL, pr)
		},
	}
	for name, newReq := range bodies {
		t.Run(name, func(t *testing.T) {
			srv.hits.Store(0)
			srv.mu.Lock()
			srv.bodies = nil
			srv.mu.Unlock()
			conns := srv.conns.Load()
			req, err := newReq()
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, resp); resp.StatusCode != http.StatusOK || got != "ok" {
				t.Fatalf("answer %d %q", resp.StatusCode, got)
			}
			got := srv.Bodies()
			if len(got) != 3 {
				t.Fatalf("%d attempts, want 3", len(got))
			}
			for i, b := range got {
				if b != payload {
					t.Errorf("attempt %d sent %d bytes, want %d", i+1, len(b), len(payload))
				}
			}
			if n := srv.conns.Load() - conns; n > 1 {
				t.Errorf("%d new connections for 3 attempts: the 503s were not drained", n)
			}
		})
	}

	t.Run("concurrent", func(t *testing.T) {
		// A fresh zero Transport: its first use is concurrent too.
		zero := new(httpx.Transport)
		defer zero.CloseIdleConnections()
		client := &http.Client{Transport: zero}
		var hits atomic.Int64
		srv := newScript(t, false, func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1)%2 == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ok")
		})
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				body := fmt.Sprintf("%d:%s", g, payload[:1000])
				req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
				req.Header.Set("Idempotency-Key", fmt.Sprint(g))
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		wg.Wait()
		got := srv.Bodies()
		if len(got) < 16 {
			t.Errorf("%d requests for 16 calls", len(got))
		}
		for _, b := range got {
			if !strings.HasSuffix(b, payload[:1000]) {
				t.Errorf("a body arrived cut: %d bytes", len(b))
			}
		}
	})
}

// The zero Config over HTTP/2 (TLS): the same, bodies whole on every
// attempt and one connection.
func TestHostileZeroConfigHTTP2Bodies(t *testing.T) {
	payload := strings.Repeat("0123456789abcdef", 4096)
	srv := newScript(t, true, status(http.StatusServiceUnavailable, "busy"), status(http.StatusOK, "ok"))
	rt, err := httpx.New(httpx.Config{Base: srv.base(t)})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: rt}
	for _, body := range []io.Reader{bytes.NewReader([]byte(payload)), io.MultiReader(strings.NewReader(payload))} {
		srv.hits.Store(0)
		req, _ := http.NewRequest(http.MethodPut, srv.URL, body)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "ok" || resp.ProtoMajor != 2 {
			t.Fatalf("answer %q over %s", got, resp.Proto)
		}
	}
	for i, b := range srv.Bodies() {
		if b != payload {
			t.Errorf("attempt %d sent %d bytes, want %d", i+1, len(b), len(payload))
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// Unlimited attempts against a server that always answers 503, until the
// caller cancels: the call ends with its cancellation,
// its body whole, and one connection served every attempt. The waits are
// on a step clock, so that no real time passes.
func TestHostileUnlimitedAlways503(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		srv := newScript(t, h2, status(http.StatusServiceUnavailable, strings.Repeat("busy ", 1000)))
		clk := stepclock.New(time.Now())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rt, err := httpx.New(httpx.Config{Base: srv.base(t), Retry: &retry.Policy{
			MaxAttempts: retry.Unlimited, Backoff: retry.Constant{Interval: 10 * time.Millisecond}, Clock: clk,
			Hooks: &retry.Hooks{OnRetry: func(_ context.Context, e retry.RetryEvent) {
				if e.Attempt == 49 {
					cancel() // the caller gives up during the 49th wait
				}
			}}}})
		if err != nil {
			t.Fatal(err)
		}
		// (A context's deadline is real time, which the step clock's
		// waits do not move, and an attempt limit on this clock, whose
		// After fires at once, would cut every attempt: the caller's
		// cancellation ends the call.)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := rt.RoundTrip(req)
		if resp != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("resp %v, err = %v; want the caller's cancellation", resp, err)
		}
		if hits := srv.hits.Load(); hits != 49 {
			t.Errorf("%d attempts, want 49", hits)
		}
		if n := srv.conns.Load(); n != 1 {
			t.Errorf("%d connections for %d attempts", n, srv.hits.Load())
		}
	})
}

// hangingBase answers nothing until the request's context ends.
type hangingBase struct{ sent atomic.Int64 }

func (b *hangingBase) RoundTrip(r *http.Request) (*http.Response, error) {
	b.sent.Add(1)
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// Retry.MaxElapsed "bounds the whole call, attempts included". A request
// whose body can be sent only once (a stream, or one over MaxReplayBytes)
// makes one attempt, and that attempt must be bounded by MaxElapsed too:
// a server that never answers must not hold it past the limit.
func TestHostileMaxElapsedBoundsBodySentOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &hangingBase{}
		rt, err := httpx.New(httpx.Config{Base: base, Retry: &retry.Policy{MaxElapsed: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://example.test/", strings.NewReader("streamed"))
		req.ContentLength = -1 // a stream: sent once
		req.GetBody = nil
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		if took := time.Since(start); took > time.Second || !errors.Is(err, retry.ErrElapsed) {
			t.Errorf("a body sent once: RoundTrip took %v with MaxElapsed 1s: err = %v", took, err)
		}
	})
}

// With AttemptTimeout equal to the time left before the caller's
// deadline, both fire at one instant: the caller's deadline ends the
// call, and the error must not match ErrAttemptTimeout ("the caller's
// own deadline never does"), as the core decides that tie. Run many
// times, as the order of two timers due at once is not fixed.
func TestHostileAttemptTimeoutSameInstantAsDeadline(t *testing.T) {
	bad := 0
	var last error
	const runs = 40
	for range runs {
		synctest.Test(t, func(t *testing.T) {
			rt, err := httpx.New(httpx.Config{Base: &hangingBase{}, AttemptTimeout: time.Second, Retry: fastPolicy(3)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://example.test/", nil)
			_, err = rt.RoundTrip(req)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want the caller's deadline", err)
			}
			if errors.Is(err, retry.ErrAttemptTimeout) {
				bad++
				last = err
			}
		})
	}
	if bad > 0 {
		t.Errorf("in %d of %d runs the caller's deadline read as an attempt timeout: %v", bad, runs, last)
	}
}

// SplitDeadline shares the time left before the end of the call among
// the attempts; with Retry.MaxElapsed set, that end is read on
// Retry.Clock. A fake Clock (clock.NewMock reads 1970) must not shrink
// every share to a nanosecond.
func TestHostileSplitDeadlineOnClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &fakeBase{delays: []time.Duration{10 * time.Millisecond}, body: "ok"}
		rt, err := httpx.New(httpx.Config{Base: base, SplitDeadline: true,
			Retry: &retry.Policy{MaxAttempts: 3, MaxElapsed: time.Minute, Backoff: retry.Constant{}, Clock: clock.NewMock()}})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("a server that answers in 10ms, with a minute on the Clock for 3 attempts: %v", err)
		}
		if got := readAll(t, resp); got != "ok" || base.n != 1 {
			t.Errorf("body %q after %d attempts, want ok after 1", got, base.n)
		}
	})
}

// gatedBody writes the headers, then waits for release before the body.
func gatedBody(release <-chan struct{}, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, body)
	}
}

// A slow response body over a real server outlives Retry.MaxElapsed: the
// limit bounds the wait for the headers, not the reading of the answer,
// hedged or not, over HTTP/1.1 and HTTP/2.
func TestHostileSlowBodyOutlivesMaxElapsed(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		for _, hedged := range []bool{false, true} {
			t.Run(fmt.Sprintf("hedged=%v", hedged), func(t *testing.T) {
				release := make(chan struct{})
				body := strings.Repeat("slow ", 20000)
				srv := newScript(t, h2, gatedBody(release, body))
				clk := clock.NewMock()
				clk.Set(time.Now()) // not 1970: see TestHostileClockDeadlineIsWallTime
				cfg := httpx.Config{Base: srv.base(t), Retry: &retry.Policy{MaxElapsed: time.Second, Clock: clk}}
				if hedged {
					cfg.Hedge = &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour, Clock: clk}
				}
				rt, err := httpx.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
				resp, err := rt.RoundTrip(req)
				if err != nil {
					close(release)
					t.Fatal(err)
				}
				clk.Add(time.Minute) // long past MaxElapsed
				close(release)
				if got := readAll(t, resp); got != body {
					t.Errorf("read %d bytes, want %d", len(got), len(body))
				}
			})
		}
	})
}

// busyBase answers every request with 503 and a body, and counts the
// bodies not closed.
type busyBase struct {
	sent atomic.Int64
	open atomic.Int32
}

func (b *busyBase) RoundTrip(r *http.Request) (*http.Response, error) {
	b.sent.Add(1)
	b.open.Add(1)
	return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Header: http.Header{}, Request: r,
		Body: &countedBody{Reader: strings.NewReader("busy"), open: &b.open}}, nil
}

// When Retry.MaxElapsed stops a call whose attempts all answered 503, the
// last 503 is the answer, body intact, as when the attempts run out; the
// others are closed.
func TestHostileMaxElapsedReturnsLast503(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &busyBase{}
		rt, err := httpx.New(httpx.Config{Base: base, Retry: &retry.Policy{MaxAttempts: retry.Unlimited, MaxElapsed: time.Second,
			Backoff: retry.Constant{Interval: 400 * time.Millisecond}}})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("resp %v, err %v; want the last 503", resp, err)
		}
		if got := readAll(t, resp); got != "busy" || base.sent.Load() != 3 || base.open.Load() != 0 {
			t.Errorf("body %q after %d attempts, %d bodies open", got, base.sent.Load(), base.open.Load())
		}
	})
}

// Config.Validate reports "a nil pointer as Base"; a nil function as Base
// (roundTripFunc, the usual adapter) is as nil, and must be reported
// too, not panic at the first request.
func TestHostileNilFuncBase(t *testing.T) {
	var base roundTripFunc
	if err := (httpx.Config{Base: base}).Validate(); !errors.Is(err, httpx.ErrInvalid) {
		t.Errorf("Validate: err = %v, want one wrapping ErrInvalid", err)
	}
	rt, err := httpx.New(httpx.Config{Base: base})
	if err != nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("RoundTrip panicked: %v", v)
		}
	}()
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	rt.RoundTrip(req)
}

// A hedged call that Retry.MaxElapsed cuts while its copies wait for
// headers: the error says what the attempts ran into, not a dangling
// ": ", and, as retry.Policy.MaxElapsed documents for a cut attempt,
// matches context.DeadlineExceeded.
func TestHostileHedgedMaxElapsedError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := httpx.New(httpx.Config{Base: &hangingBase{}, Retry: &retry.Policy{MaxElapsed: time.Second},
			Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: 300 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		_, err = rt.RoundTrip(req)
		if !errors.Is(err, retry.ErrElapsed) {
			t.Fatalf("err = %v, want ErrElapsed", err)
		}
		if msg := err.Error(); strings.HasSuffix(msg, ": ") {
			t.Errorf("message ends in a dangling colon: %q", msg)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v does not match context.DeadlineExceeded", err)
		}
	})
}
