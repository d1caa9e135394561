package otel_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// A breaker that trips, rejects, recovers through a probe, and is forced
// open and closed by an operator: transitions, rejections, the state
// gauge and the span events.
func TestBreakerLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		b, err := retry.NewBreaker(retry.BreakerConfig{Name: "db", ConsecutiveFailures: 2, OpenDuration: time.Second, Hooks: h.hooks})
		if err != nil {
			t.Fatal(err)
		}
		ctx, span := h.tracer.Start(context.Background(), "call")
		fail := func(context.Context) (int, error) { return 0, errDown }
		ok := func(context.Context) (int, error) { return 1, nil }
		retry.Guard(ctx, b, fail)
		retry.Guard(ctx, b, fail) // opens
		if _, err := retry.Guard(ctx, b, ok); !errors.Is(err, retry.ErrBreakerOpen) {
			t.Fatalf("Guard on an open breaker: %v", err)
		}
		h.collect()
		h.want("retry.breaker.state", 1, breaker("db"), state("open"))
		h.want("retry.breaker.state", 0, breaker("db"), state("closed"))

		time.Sleep(time.Second)
		if _, err := retry.Guard(ctx, b, ok); err != nil { // half-open, then closed
			t.Fatalf("probe: %v", err)
		}
		h.collect()
		h.want("retry.breaker.state", 1, breaker("db"), state("closed"))
		h.want("retry.breaker.state", 0, breaker("db"), state("open"))
		h.want("retry.breaker.state", 0, breaker("db"), state("half-open"))

		if err := b.ForceOpen(0); err != nil {
			t.Fatal(err)
		}
		retry.Guard(ctx, b, ok) // rejected
		b.ForceClosed()
		span.End()
		h.collect()

		h.want("retry.breaker.transitions", 1, breaker("db"), state("open"), reason("consecutive-failures"))
		h.want("retry.breaker.transitions", 1, breaker("db"), state("half-open"), reason("open-elapsed"))
		h.want("retry.breaker.transitions", 1, breaker("db"), state("closed"), reason("probes-succeeded"))
		h.want("retry.breaker.transitions", 1, breaker("db"), state("open"), reason("force-open"))
		h.want("retry.breaker.transitions", 1, breaker("db"), state("closed"), reason("force-closed"))
		h.wantTotal("retry.breaker.transitions", 5)
		h.want("retry.breaker.rejections", 2, breaker("db"), reason("open"))
		h.wantTotal("retry.breaker.rejections", 2)
		h.want("retry.breaker.state", 1, breaker("db"), state("closed"))
		h.want("retry.breaker.state", 0, breaker("db"), state("open"))
		h.want("retry.breaker.state", 0, breaker("db"), state("half-open"))
		h.wantEvents(
			"retry.breaker.change retry.breaker=db,retry.breaker.from=closed,retry.breaker.reason=consecutive-failures,retry.breaker.state=open",
			"retry.breaker.reject retry.breaker=db,retry.breaker.reason=open,retry.breaker.wait=1",
			"retry.breaker.change retry.breaker=db,retry.breaker.from=open,retry.breaker.reason=open-elapsed,retry.breaker.state=half-open",
			"retry.breaker.change retry.breaker=db,retry.breaker.from=half-open,retry.breaker.reason=probes-succeeded,retry.breaker.state=closed",
			"retry.breaker.reject retry.breaker=db,retry.breaker.reason=open",
		)
	})
}

// A retry loop over a breaker: the call ends with outcome breaker, and
// the rejection is counted once.
func TestRetryOverOpenBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		b, err := retry.NewBreaker(retry.BreakerConfig{Name: "db", ConsecutiveFailures: 1, Hooks: h.hooks})
		if err != nil {
			t.Fatal(err)
		}
		p := &retry.Policy{Name: "orders", MaxAttempts: 3, Backoff: retry.Constant{}, Hooks: h.hooks}
		_, err = retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) {
			return retry.Guard(ctx, b, func(context.Context) (int, error) { return 0, errDown })
		})
		if !errors.Is(err, retry.ErrBreakerOpen) {
			t.Fatalf("Retry: %v", err)
		}
		h.collect()
		h.want("retry.calls", 1, policy("orders"), outcome("breaker"))
		h.want("retry.breaker.rejections", 1, breaker("db"), reason("open"))
		h.want("retry.attempts", 1, policy("orders"), attemptN("1"), failed, noHedge)
		h.want("retry.attempts", 1, policy("orders"), attemptN("2"), result("rejected"), noHedge)
		h.wantTotal("retry.attempts", 2)
	})
}
