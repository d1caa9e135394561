package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"github.com/retrykit/retry/internal/stepclock"
)

// A hedged GET whose first attempt is slow: the hedge wins, the loser is
// cancelled and cleaned up, and the winner's 1 MiB body is read in full
// after RoundTrip returns.
func TestHedgedGet(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		payload := strings.Repeat("w", 1<<20)
		loserDone := make(chan error, 1)
		srv := newScript(t, h2,
			func(w http.ResponseWriter, r *http.Request) { // slow: waits to be cancelled
				<-r.Context().Done()
				loserDone <- r.Context().Err()
			},
			func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(200)
				http.NewResponseController(w).Flush()
				io.WriteString(w, payload)
			})
		tr := &tracker{base: srv.base(t)}
		var events []httpx.AttemptEvent
		client := mustNew(t, httpx.Config{Base: tr,
			Hedge:     &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond},
			OnAttempt: func(_ context.Context, e httpx.AttemptEvent) { events = append(events, e) }})
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); len(got) != len(payload) {
			t.Fatalf("read %d bytes of the winner, want %d", len(got), len(payload))
		}
		select {
		case err := <-loserDone:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("loser's server context: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the losing request was never cancelled")
		}
		if n := tr.open.Load(); n != 0 {
			t.Fatalf("%d bodies left open", n)
		}
		if srv.hits.Load() != 2 {
			t.Fatalf("%d requests, want 2", srv.hits.Load())
		}
	})
}

// hedgeBase is a RoundTripper for synctest bubbles: request i answers
// status codes[i] after delays[i] of virtual time, ignoring cancellation
// if stubborn, and counts the bodies it hands out that are still open.
type hedgeBase struct {
	delays   []time.Duration
	codes    []int
	stubborn bool
	n        atomic.Int32
	open     atomic.Int32
}

func (b *hedgeBase) RoundTrip(r *http.Request) (*http.Response, error) {
	i := int(b.n.Add(1)) - 1
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	d := b.delays[min(i, len(b.delays)-1)]
	if b.stubborn {
		time.Sleep(d)
	} else {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	code := 200
	if len(b.codes) > 0 {
		code = b.codes[min(i, len(b.codes)-1)]
	}
	b.open.Add(1)
	return &http.Response{StatusCode: code, Status: http.StatusText(code), Header: http.Header{}, Request: r,
		Body: &countedBody{Reader: strings.NewReader("answer"), open: &b.open}}, nil
}

type countedBody struct {
	io.Reader
	open   *atomic.Int32
	closed atomic.Bool
}

func (b *countedBody) Close() error {
	if !b.closed.Swap(true) {
		b.open.Add(-1)
	}
	return nil
}

// A plain POST is never hedged, even with RetryNonIdempotent; with an
// Idempotency-Key it is.
func TestPostNeverHedged(t *testing.T) {
	for _, tt := range []struct {
		name  string
		key   bool
		sends int32
	}{{"plain POST", false, 1}, {"POST with key", true, 2}} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base := &hedgeBase{delays: []time.Duration{time.Second}}
				rt, _ := httpx.New(httpx.Config{Base: base, RetryNonIdempotent: true,
					Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: 10 * time.Millisecond}})
				req, _ := http.NewRequest(http.MethodPost, "http://example.test/", strings.NewReader("order"))
				if tt.key {
					req.Header.Set("Idempotency-Key", "k")
					base.delays = []time.Duration{time.Second, 0}
				}
				resp, err := rt.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				readAll(t, resp)
				synctest.Wait()
				if got := base.n.Load(); got != tt.sends {
					t.Fatalf("%d requests sent, want %d", got, tt.sends)
				}
			})
		})
	}
}

// Two successes a moment apart: the winner is returned, and the late one
// is closed, never leaked.
func TestLostSuccessClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &hedgeBase{delays: []time.Duration{20 * time.Millisecond, 5 * time.Millisecond}, stubborn: true}
		rt, _ := httpx.New(httpx.Config{Base: base, Hedge: &retry.HedgePolicy{Delay: 10 * time.Millisecond}})
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != 15*time.Millisecond {
			t.Fatalf("answered after %v, want 15ms (hedge at 10ms + 5ms)", took)
		}
		readAll(t, resp)
		time.Sleep(time.Second) // the stubborn first attempt finishes late
		synctest.Wait()
		if n := base.open.Load(); n != 0 {
			t.Fatalf("%d bodies left open", n)
		}
	})
}

// A 503 ends the hedged round at once: the retry loop waits before asking
// again instead of sending another copy into an overloaded server.
func TestHedgeStopsOnPushback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &hedgeBase{delays: []time.Duration{0}, codes: []int{503, 200}}
		clk := stepclock.New(time.Now())
		rt, _ := httpx.New(httpx.Config{Base: base,
			Retry: &retry.Policy{Backoff: retry.Constant{Interval: time.Second}, Clock: clk},
			Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: 10 * time.Millisecond}})
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.StatusCode != 200 || base.n.Load() != 2 || len(clk.Waits()) != 1 {
			t.Fatalf("status %d after %d requests and waits %v; want 200 after 2, one wait",
				resp.StatusCode, base.n.Load(), clk.Waits())
		}
		synctest.Wait() // drains of held losers run on their own goroutine
		if base.open.Load() != 0 {
			t.Fatalf("%d bodies open", base.open.Load())
		}
	})
}

// When every hedged attempt and every retry fails with a retryable
// status, the last response is returned, its body readable.
func TestHedgedExhaustedReturnsLastResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &hedgeBase{delays: []time.Duration{0}, codes: []int{502}}
		rt, _ := httpx.New(httpx.Config{Base: base, Retry: fastPolicy(2),
			Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: 10 * time.Millisecond}})
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); resp.StatusCode != 502 || body != "answer" {
			t.Fatalf("got %d %q", resp.StatusCode, body)
		}
		if got := base.n.Load(); got != 4 { // 2 rounds × 2 attempts: a 502 hedges at once
			t.Fatalf("%d requests, want 4", got)
		}
		synctest.Wait() // drains of held losers run on their own goroutine
		if base.open.Load() != 0 {
			t.Fatalf("%d bodies open", base.open.Load())
		}
	})
}

func TestHedgeBadConfig(t *testing.T) {
	for _, h := range []*retry.HedgePolicy{
		{MaxAttempts: -1}, {MaxAttempts: 10000}, {Delay: -1},
		{Retryable: func(error) bool { return true }}, {OnDiscard: func(any) {}},
	} {
		if _, err := httpx.New(httpx.Config{Hedge: h}); !errors.Is(err, httpx.ErrInvalid) {
			t.Errorf("Hedge %+v: %v, want ErrInvalid", h, err)
		}
	}
}

// countingBudget counts what a call asks of it, and allows everything.
type countingBudget struct{ first, extra, ok, failed atomic.Int32 }

func (b *countingBudget) First() { b.first.Add(1) }
func (b *countingBudget) Extra() bool {
	b.extra.Add(1)
	return true
}
func (b *countingBudget) Result(ok bool) {
	if ok {
		b.ok.Add(1)
	} else {
		b.failed.Add(1)
	}
}

// A hedged call counts each attempt once in its budget: one first
// attempt, every other attempt an extra (hedge or retry), every outcome.
func TestHedgedBudgetCountedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &hedgeBase{delays: []time.Duration{0}, codes: []int{502, 502, 200}}
		b := &countingBudget{}
		rt, _ := httpx.New(httpx.Config{Base: base, Retry: fastPolicy(2),
			Budget: func(*http.Request) retry.Budget { return b },
			Hedge:  &retry.HedgePolicy{MaxAttempts: 2, Delay: 10 * time.Millisecond}})
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		got := [4]int32{b.first.Load(), b.extra.Load(), b.ok.Load(), b.failed.Load()}
		if want := [4]int32{1, 2, 1, 2}; got != want {
			t.Fatalf("First, Extra, Result(true), Result(false) = %v, want %v (3 attempts)", got, want)
		}
	})
}
