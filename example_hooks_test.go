package retry_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/retrykit/retry"
)

// counters stands for a metrics library: counters by name and labels.
type counters struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counters) add(name string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[name] += n
}

// hooks exports calls by outcome, attempts, retries, hedges and budget
// refusals, labelled with the name of the policy or budget.
func (c *counters) hooks() *retry.Hooks {
	return &retry.Hooks{
		OnDone: func(_ context.Context, e retry.CallEvent) {
			c.add(fmt.Sprintf("calls{policy=%q,outcome=%q}", e.Name, e.Outcome()), 1)
			c.add(fmt.Sprintf("attempts{policy=%q}", e.Name), e.Attempts)
			if e.Hedges > 0 && e.Winner > 1 {
				c.add(fmt.Sprintf("hedges_won{policy=%q}", e.Name), 1)
			}
		},
		OnRetry: func(_ context.Context, e retry.RetryEvent) {
			c.add(fmt.Sprintf("retries{policy=%q}", e.Name), 1)
		},
		OnHedge: func(_ context.Context, e retry.HedgeEvent) {
			c.add(fmt.Sprintf("hedges{policy=%q}", e.Name), 1)
		},
		OnBudgetRefused: func(_ context.Context, e retry.BudgetEvent) {
			c.add(fmt.Sprintf("budget_refusals{policy=%q,budget=%q}", e.Name, e.Budget), 1)
		},
	}
}

// One *Hooks, built once from the metrics, and one line of wiring per
// policy: the calls themselves need no wrapper.
func ExampleHooks() {
	var metrics counters
	hooks := metrics.hooks()

	db := &retry.Policy{Name: "db", Backoff: retry.Constant{}, Hooks: hooks}
	search := &retry.HedgePolicy{Name: "search", Delay: time.Millisecond, Hooks: hooks}

	ctx := context.Background()
	tries := 0
	_ = retry.Do(ctx, db, func(context.Context) error {
		if tries++; tries < 2 {
			return errors.New("connection reset")
		}
		return nil
	})
	_ = retry.Do(ctx, db, func(context.Context) error { return retry.Permanent(errors.New("no such table")) })
	_, _ = retry.Hedge(ctx, search, func(ctx context.Context) (string, error) {
		if a, _ := retry.AttemptFrom(ctx); a.Number == 1 {
			<-ctx.Done() // the slow replica, cancelled when the hedge wins
			return "", ctx.Err()
		}
		return "found", nil
	})

	names := make([]string, 0, len(metrics.m))
	for name := range metrics.m {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Println(name, metrics.m[name])
	}
	// Output:
	// attempts{policy="db"} 3
	// attempts{policy="search"} 2
	// calls{policy="db",outcome="not_retryable"} 1
	// calls{policy="db",outcome="success"} 1
	// calls{policy="search",outcome="success"} 1
	// hedges_won{policy="search"} 1
	// hedges{policy="search"} 1
	// retries{policy="db"} 1
}

// Logs and metrics on one policy: JoinHooks calls both, in order.
func ExampleJoinHooks() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level:       slog.LevelWarn,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr { return dropVarying(a) },
	}))
	failed := 0
	metrics := &retry.Hooks{OnDone: func(_ context.Context, e retry.CallEvent) {
		if e.Err != nil {
			failed++
		}
	}}
	p := &retry.Policy{Name: "inventory", MaxAttempts: 2, Backoff: retry.Constant{},
		Hooks: retry.JoinHooks(retry.LogHooks(logger), metrics)}
	retry.Do(context.Background(), p, func(context.Context) error { return errors.New("unavailable") })
	fmt.Println("failed calls:", failed)
	// Output:
	// level=WARN msg="call failed" name=inventory attempts=2 err="retry: gave up after 2 attempts (attempts exhausted): unavailable"
	// failed calls: 1
}

// dropVarying leaves out the attributes that change from run to run.
func dropVarying(a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey || a.Key == "duration" {
		return slog.Attr{}
	}
	return a
}
