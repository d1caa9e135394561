package httpx_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// SplitDeadline with hedging shares the time left among the rounds, not
// the copies: a hanging round must not use up the time of the later ones.
//
// Round 1: two copies, both 502 at once. Round 2: two copies that hang.
// Round 3 would answer 200 at once. With 3 rounds and 3s left, round 2
// should get at most ~1.5s, and round 3 the rest.
func TestSplitDeadlineHedgedRoundsStarved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &hedgeBase{
			delays: []time.Duration{0, 0, time.Hour, time.Hour, 0},
			codes:  []int{502, 502, 200, 200, 200},
		}
		rt, err := httpx.New(httpx.Config{
			Base:          base,
			SplitDeadline: true,
			Retry:         fastPolicy(3),
			Hedge:         &retry.HedgePolicy{MaxAttempts: 2, Delay: 10 * time.Millisecond},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://h.example/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("round 3 never ran: %v (%d requests sent; round 2's copies were given the whole time left)", err, base.n.Load())
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		synctest.Wait()
	})
}

// Same without hedging, for contrast: the plain path shares the deadline
// as documented (round 2 of 3 gets half, round 3 the rest).
func TestSplitDeadlinePlainControl(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &hedgeBase{
			delays: []time.Duration{0, time.Hour, 0},
			codes:  []int{502, 200, 200},
		}
		rt, err := httpx.New(httpx.Config{Base: base, SplitDeadline: true, Retry: fastPolicy(3)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://h.example/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
}

// SplitDeadline on a request that can have no later attempt, a body sent
// once (not replayable) or a POST without a key (a timeout is never
// retried for it): there is no later attempt to keep time for, so its only
// attempt gets the whole deadline (a server answering in 1.5s of 3s
// succeeds).
func TestSplitDeadlineStarvesOnlyAttempt(t *testing.T) {
	for _, kind := range []string{"sent-once", "post"} {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base := &hedgeBase{delays: []time.Duration{1500 * time.Millisecond}, codes: []int{200}}
				cfg := httpx.Config{Base: base, SplitDeadline: true, Retry: fastPolicy(3)}
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				var req *http.Request
				if kind == "sent-once" {
					cfg.MaxReplayBytes = 4
					req, _ = http.NewRequestWithContext(ctx, "PUT", "http://h.example/", io.NopCloser(strings.NewReader("0123456789")))
					req.ContentLength = 10 // no GetBody, over MaxReplayBytes: sent once
				} else {
					req, _ = http.NewRequestWithContext(ctx, "POST", "http://h.example/", strings.NewReader("x"))
				}
				rt, err := httpx.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				resp, err := rt.RoundTrip(req)
				if err != nil {
					t.Fatalf("the only attempt was cut at %v of a 3s deadline: %v (%d requests)", time.Since(start), err, base.n.Load())
				}
				resp.Body.Close()
			})
		})
	}
}
