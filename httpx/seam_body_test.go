package httpx_test

import (
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

// chunky returns its data in pieces: data and io.EOF together at the end,
// with 0, nil in between.
type chunky struct {
	data  []byte
	i     int
	zeros int
}

func (c *chunky) Read(p []byte) (int, error) {
	if c.i == len(c.data) {
		return 0, io.EOF // sticky
	}
	if c.zeros < 3 {
		c.zeros++
		return 0, nil
	}
	c.zeros = 0
	n := copy(p[:min(len(p), 7)], c.data[c.i:])
	c.i += n
	if c.i == len(c.data) {
		return n, io.EOF
	}
	return n, nil
}

func (c *chunky) Close() error { return nil }

// Odd but valid bodies are sent whole on every attempt, hedged or not,
// with and without GetBody.
func TestOddBodiesWhole(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		payload := strings.Repeat("0123456789", 100)
		for _, hedged := range []bool{false, true} {
			for _, tc := range []struct {
				name    string
				declare int64
				getBody bool
			}{{"known", int64(len(payload)), false}, {"known+GetBody", int64(len(payload)), true},
				{"zero-declared", 0, false}, {"zero-declared+GetBody", 0, true}, {"stream+GetBody", -1, true}} {
				srv := newScript(t, h2, status(503, ""), status(503, ""), status(200, "ok"))
				cfg := httpx.Config{Base: srv.base(t), Retry: fastPolicy(3)}
				if hedged {
					cfg.Hedge = &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour}
				}
				client := mustNew(t, cfg)
				req, _ := http.NewRequest(http.MethodPut, srv.URL, nil)
				req.Body = &chunky{data: []byte(payload)}
				req.ContentLength = tc.declare
				if tc.getBody {
					req.GetBody = func() (io.ReadCloser, error) { return &chunky{data: []byte(payload)}, nil }
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("hedged=%v %s: %v", hedged, tc.name, err)
				}
				readAll(t, resp)
				if resp.StatusCode != 200 {
					t.Fatalf("hedged=%v %s: status %d", hedged, tc.name, resp.StatusCode)
				}
				for i, b := range srv.Bodies() {
					if b != payload {
						t.Errorf("hedged=%v %s: attempt %d sent %d bytes, want %d", hedged, tc.name, i+1, len(b), len(payload))
					}
				}
			}
		}
	})
}

// A body sent once (no GetBody, over MaxReplayBytes) that is shorter than
// its declared length: an error wrapping ErrInvalid, the server never
// sees a complete request, the breaker does not count it, nothing hangs.
func TestOnceBodyShort(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		for _, declared := range []int64{100, 1 << 40} {
			var complete atomic.Int32
			srv := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
				if _, err := io.ReadAll(r.Body); err == nil {
					complete.Add(1)
				}
			}).lazy()
			br := hairTrigger(t)
			client := mustNew(t, httpx.Config{Base: srv.base(t), MaxReplayBytes: 16, Retry: fastPolicy(3),
				Breaker: func(*http.Request) *retry.Breaker { return br }})
			req, _ := http.NewRequest(http.MethodPut, srv.URL, io.NopCloser(strings.NewReader(strings.Repeat("x", 50))))
			req.ContentLength = declared
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			req = req.WithContext(ctx)
			resp, err := client.Do(req)
			cancel()
			if err == nil {
				readAll(t, resp)
				t.Fatalf("declared %d: a 50-byte body was sent as complete (status %d)", declared, resp.StatusCode)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("declared %d: hung: %v", declared, err)
			}
			if !errors.Is(err, httpx.ErrInvalid) {
				t.Errorf("declared %d: err = %v, want ErrInvalid", declared, err)
			}
			if complete.Load() != 0 {
				t.Errorf("declared %d: the server read a complete body", declared)
			}
			if br.State() != retry.BreakerClosed {
				t.Errorf("declared %d: breaker %v after a body shorter than declared (the client's fault)", declared, br.State())
			}
		}
	})
}

// GetBody that errors on its second call, hedged or not: the error says
// so, the breaker ignores it, the caller's body is closed.
func TestGetBodySecondCallFails(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		for _, hedged := range []bool{false, true} {
			srv := newScript(t, h2, status(503, ""), status(503, ""), status(200, "ok"))
			br, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 3, OpenDuration: time.Hour})
			cfg := httpx.Config{Base: srv.base(t), Retry: fastPolicy(3), MaxReplayBytes: 4,
				Breaker: func(*http.Request) *retry.Breaker { return br }}
			if hedged {
				cfg.Hedge = &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour}
			}
			client := mustNew(t, cfg)
			var calls atomic.Int32
			errGone := errors.New("gone")
			req, _ := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader("0123456789"))
			req.GetBody = func() (io.ReadCloser, error) {
				if calls.Add(1) >= 2 {
					return nil, errGone
				}
				return io.NopCloser(strings.NewReader("0123456789")), nil
			}
			_, err := client.Do(req)
			if !errors.Is(err, errGone) {
				t.Fatalf("hedged=%v: err = %v, want the GetBody error", hedged, err)
			}
			if s := br.Snapshot(); s.ConsecutiveFailures != 2 {
				t.Fatalf("hedged=%v: breaker %+v, want 2 failures (the 503s)", hedged, s)
			}
		}
	})
}

// Caller cancellation with a cause during the backoff wait, hedged or
// not: the error matches both context.Canceled and the cause.
func TestCancelCauseDuringBackoff(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		for _, hedged := range []bool{false, true} {
			srv := newScript(t, h2, status(503, ""))
			cfg := httpx.Config{Base: srv.base(t), Retry: &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{Interval: time.Hour}}}
			if hedged {
				cfg.Hedge = &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour}
			}
			client := mustNew(t, cfg)
			ctx, cancel := context.WithCancelCause(context.Background())
			errGone := errors.New("user went away")
			go func() {
				for srv.hits.Load() == 0 {
					time.Sleep(time.Millisecond)
				}
				time.Sleep(5 * time.Millisecond)
				cancel(errGone)
			}()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			resp, err := client.Do(req)
			if err == nil {
				readAll(t, resp)
				t.Fatalf("hedged=%v: status %d, want the cancellation", hedged, resp.StatusCode)
			}
			if !errors.Is(err, context.Canceled) || !errors.Is(err, errGone) {
				t.Fatalf("hedged=%v: err = %v, want context.Canceled and its cause", hedged, err)
			}
		}
	})
}

// onceEOF returns its data, then io.EOF once, then 0, nil ("nothing
// happened") until stopped: its EOF is not sticky. net/http reads a body
// to its first EOF and stops; the gate must hand that EOF on, not swallow
// it while looking for bytes past the declared length.
type onceEOF struct {
	data    []byte
	i       int
	eofSent bool
	reads   atomic.Int64
	stop    atomic.Bool
}

func (r *onceEOF) Read(p []byte) (int, error) {
	r.reads.Add(1)
	if r.i < len(r.data) {
		n := copy(p, r.data[r.i:])
		r.i += n
		return n, nil
	}
	if !r.eofSent || r.stop.Load() {
		r.eofSent = true
		return 0, io.EOF
	}
	return 0, nil
}

func (r *onceEOF) Close() error { return nil }

func TestGateKeepsEOF(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		payload := []byte(strings.Repeat("z", 1000))
		srv := newScript(t, h2, status(503, ""), status(200, "ok"))
		client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(2)})
		var mu sync.Mutex
		var bodies []*onceEOF
		newBody := func() *onceEOF {
			b := &onceEOF{data: payload}
			mu.Lock()
			bodies = append(bodies, b)
			mu.Unlock()
			return b
		}
		reads := func() (n int64) {
			mu.Lock()
			defer mu.Unlock()
			for _, b := range bodies {
				n += b.reads.Load()
			}
			return n
		}
		defer func() {
			mu.Lock()
			for _, b := range bodies {
				b.stop.Store(true) // let a spinning writer go
			}
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, nil)
		req.Body = newBody()
		req.ContentLength = int64(len(payload))
		req.GetBody = func() (io.ReadCloser, error) { return newBody(), nil }
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%v (plain net/http sends this body at once)", err)
		}
		readAll(t, resp)
		// A few Reads a body: its data, the EOF, a look past it. A writer
		// spinning on 0, nil makes hundreds of thousands.
		if n := reads(); n > int64(10*len(bodies)) {
			t.Fatalf("%d Reads of %d bodies: a writer spins on 0, nil", n, len(bodies))
		}
	})
}
