package otel_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"go.opentelemetry.io/otel/attribute"
)

var (
	errDown   = errors.New("down")
	outcome   = attribute.Key("retry.outcome").String
	policy    = attribute.Key("retry.policy").String
	attemptN  = attribute.Key("retry.attempt").String
	result    = attribute.Key("retry.attempt.result").String
	hedge     = attribute.Key("retry.hedge").Bool
	budget    = attribute.Key("retry.budget").String
	breaker   = attribute.Key("retry.breaker").String
	state     = attribute.Key("retry.breaker.state").String
	reason    = attribute.Key("retry.breaker.reason").String
	trigger   = attribute.Key("retry.hedge.trigger").String
	noHedge   = hedge(false)
	isHedge   = hedge(true)
	succeeded = result("success")
	failed    = result("failure")
	canceled  = result("canceled")
)

// failing returns a fn that takes 10ms (in a synctest bubble) and fails
// its first n attempts.
func failing(n int) func(context.Context) (int, error) {
	return failingAfter(n, 10*time.Millisecond)
}

// failingAfter returns a fn that takes d and fails its first n attempts.
func failingAfter(n int, d time.Duration) func(context.Context) (int, error) {
	calls := 0
	return func(ctx context.Context) (int, error) {
		calls++
		time.Sleep(d)
		if calls <= n {
			return 0, errDown
		}
		return calls, nil
	}
}

// A call that succeeds on its third attempt: every instrument, and the span
// events in order.
func TestRetrySucceedsAfterFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		p := &retry.Policy{Name: "orders", MaxAttempts: 4, Backoff: retry.Constant{Interval: 100 * time.Millisecond}, Hooks: h.hooks}
		ctx, span := h.tracer.Start(context.Background(), "call")
		if v, err := retry.Retry(ctx, p, failing(2)); v != 3 || err != nil {
			t.Fatalf("Retry = %d, %v", v, err)
		}
		span.End()
		h.collect()

		h.want("retry.calls", 1, policy("orders"), outcome("success"))
		h.wantTotal("retry.calls", 1)
		h.wantHistogram("retry.call.duration", 1, 0.23, policy("orders"), outcome("success"))
		h.want("retry.attempts", 1, policy("orders"), attemptN("1"), failed, noHedge)
		h.want("retry.attempts", 1, policy("orders"), attemptN("2"), failed, noHedge)
		h.want("retry.attempts", 1, policy("orders"), attemptN("3"), succeeded, noHedge)
		h.wantTotal("retry.attempts", 3)
		h.wantHistogram("retry.attempt.duration", 1, 0.01, policy("orders"), attemptN("3"), succeeded, noHedge)
		h.want("retry.retries", 1, policy("orders"), attemptN("1"))
		h.want("retry.retries", 1, policy("orders"), attemptN("2"))
		h.wantTotal("retry.retries", 2)
		for _, name := range []string{"retry.hedges", "retry.hedge.wins", "retry.budget.refusals", "retry.breaker.rejections", "retry.breaker.transitions"} {
			h.wantTotal(name, 0)
		}
		h.wantEvents(
			"retry.attempt error.message=down,retry.attempt=1,retry.duration=0.01,retry.policy=orders",
			"retry.retry error.message=down,retry.attempt=1,retry.delay=0.1,retry.policy=orders",
			"retry.attempt error.message=down,retry.attempt=2,retry.duration=0.01,retry.policy=orders",
			"retry.retry error.message=down,retry.attempt=2,retry.delay=0.1,retry.policy=orders",
			"retry.attempt retry.attempt=3,retry.duration=0.01,retry.policy=orders",
			"retry.done retry.attempts=3,retry.duration=0.23,retry.outcome=success,retry.policy=orders,retry.winner=3",
		)
	})
}

// A call whose attempts all fail; attempt numbers past 4 share one label.
func TestRetryExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		p := &retry.Policy{MaxAttempts: 6, Backoff: retry.Constant{}, Hooks: h.hooks}
		ctx, span := h.tracer.Start(context.Background(), "call")
		_, err := retry.Retry(ctx, p, failing(100))
		if !errors.Is(err, retry.ErrExhausted) {
			t.Fatalf("Retry: %v", err)
		}
		span.End()
		h.collect()

		h.want("retry.calls", 1, outcome("exhausted"))
		h.wantHistogram("retry.call.duration", 1, 0.06, outcome("exhausted"))
		for _, n := range []string{"1", "2", "3", "4"} {
			h.want("retry.attempts", 1, attemptN(n), failed, noHedge)
			h.want("retry.retries", 1, attemptN(n))
		}
		h.want("retry.attempts", 2, attemptN("5+"), failed, noHedge)
		h.wantHistogram("retry.attempt.duration", 2, 0.02, attemptN("5+"), failed, noHedge)
		h.want("retry.retries", 1, attemptN("5+"))
		h.wantTotal("retry.retries", 5)
		ev := h.events()
		if len(ev) != 6+5+1 {
			t.Fatalf("%d events, want 12:\n%v", len(ev), ev)
		}
		if last := "retry.done error.message=" + err.Error() + ",retry.attempts=6,retry.duration=0.06,retry.outcome=exhausted"; ev[11] != last {
			t.Errorf("last event %s, want %s", ev[11], last)
		}
	})
}

// refuser is a Budget that refuses every extra attempt.
type refuser struct{}

func (refuser) First()       {}
func (refuser) Extra() bool  { return false }
func (refuser) Result(bool)  {}
func (refuser) Name() string { return "shared" }

func TestBudgetRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		p := &retry.Policy{Name: "orders", Budget: refuser{}, Hooks: h.hooks}
		ctx, span := h.tracer.Start(context.Background(), "call")
		_, err := retry.Retry(ctx, p, failing(100))
		if !errors.Is(err, retry.ErrBudgetExhausted) {
			t.Fatalf("Retry: %v", err)
		}
		span.End()
		h.collect()

		h.want("retry.budget.refusals", 1, policy("orders"), budget("shared"))
		h.wantTotal("retry.budget.refusals", 1)
		h.want("retry.calls", 1, policy("orders"), outcome("budget"))
		h.want("retry.attempts", 1, policy("orders"), attemptN("1"), failed, noHedge)
		h.wantTotal("retry.retries", 0)
		ev := h.events()
		if len(ev) != 3 || ev[1] != "retry.budget.refused retry.attempt=2,retry.budget=shared,retry.policy=orders" {
			t.Errorf("events:\n%v", ev)
		}
	})
}

// A hedged call won by its second attempt: the first is cancelled.
func TestHedgeWonBySecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		p := &retry.HedgePolicy{Name: "search", MaxAttempts: 2, Delay: 20 * time.Millisecond, Hooks: h.hooks}
		ctx, span := h.tracer.Start(context.Background(), "call")
		v, err := retry.Hedge(ctx, p, func(ctx context.Context) (int, error) {
			a, _ := retry.AttemptFrom(ctx)
			if a.Number == 1 {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			time.Sleep(5 * time.Millisecond)
			return a.Number, nil
		})
		if v != 2 || err != nil {
			t.Fatalf("Hedge = %d, %v", v, err)
		}
		synctest.Wait() // the loser reports its end
		span.End()
		h.collect()

		h.want("retry.hedges", 1, policy("search"), trigger("delay"))
		h.want("retry.hedge.wins", 1, policy("search"))
		h.want("retry.calls", 1, policy("search"), outcome("success"))
		h.wantHistogram("retry.call.duration", 1, 0.025, policy("search"), outcome("success"))
		h.want("retry.attempts", 1, policy("search"), attemptN("2"), succeeded, isHedge)
		h.wantHistogram("retry.attempt.duration", 1, 0.005, policy("search"), attemptN("2"), succeeded, isHedge)
		h.want("retry.attempts", 1, policy("search"), attemptN("1"), canceled, noHedge)
		h.wantTotal("retry.attempts", 2)
		h.wantTotal("retry.retries", 0)
		ev := h.events()
		want := map[string]bool{
			"retry.hedge retry.attempt=2,retry.delay=0.02,retry.policy=search,retry.running=1":                                         true,
			"retry.attempt retry.attempt=2,retry.duration=0.005,retry.hedge=true,retry.policy=search":                                  true,
			"retry.done retry.attempts=2,retry.duration=0.025,retry.hedges=1,retry.outcome=success,retry.policy=search,retry.winner=2": true,
		}
		for _, e := range ev {
			delete(want, e)
		}
		if len(ev) != 4 || len(want) != 0 {
			t.Errorf("events:\n%v\nmissing: %v", ev, want)
		}
	})
}

// A call of Retry that wins with its second attempt is not a hedge win.
func TestRetryWinIsNoHedgeWin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		retry.Retry(context.Background(), &retry.Policy{Backoff: retry.Constant{}, Hooks: h.hooks}, failing(1))
		h.collect()
		h.wantTotal("retry.hedge.wins", 0)
		h.want("retry.calls", 1, outcome("success"))
	})
}
