package retry_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/retrykit/retry"
)

// During an incident an operator holds a breaker open, say from an admin
// endpoint, and the hooks tell the dashboards. Forced open until told, it
// rejects every call, then Reset hands the breaker back to the traffic.
func ExampleBreaker_ForceOpen() {
	hooks := &retry.Hooks{OnBreakerChange: func(_ context.Context, e retry.BreakerChange) {
		fmt.Printf("%s: %v -> %v (%v, manual %v, forced %v)\n", e.Name, e.From, e.To, e.Reason, e.Manual, e.Forced)
	}}
	payments, err := retry.NewBreaker(retry.BreakerConfig{Name: "payments", Hooks: hooks})
	if err != nil {
		panic(err)
	}
	if err := payments.ForceOpen(0); err != nil { // 0: until told; 10*time.Minute would release itself
		panic(err)
	}
	_, err = retry.Guard(context.Background(), payments, func(context.Context) (string, error) {
		return "charged", nil
	})
	fmt.Println(err, errors.Is(err, retry.ErrBreakerOpen), payments.Snapshot().Forced)
	payments.Reset()
	fmt.Println(payments.State(), payments.Snapshot().Forced)
	// Output:
	// payments: closed -> open (force-open, manual true, forced true)
	// circuit breaker is open true true
	// payments: open -> closed (reset, manual true, forced false)
	// closed false
}

// When the breaker's verdict is known to be wrong (the failures come from
// a bad deploy of a client-side check, say), ForceClosed keeps the calls
// flowing whatever they return, until Reset.
func ExampleBreaker_ForceClosed() {
	search, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 2})
	search.ForceClosed()
	failing := func(context.Context) (int, error) { return 0, errors.New("search: 500") }
	for range 5 {
		retry.Guard(context.Background(), search, failing)
	}
	s := search.Snapshot()
	fmt.Println(s.State, s.Forced, s.ConsecutiveFailures)
	search.Reset()
	for range 2 {
		retry.Guard(context.Background(), search, failing)
	}
	fmt.Println(search.State())
	// Output:
	// closed true 5
	// open
}

// AllowContext is the two-step form of Guard for middleware: the breaker's
// hooks receive the request's context (and its trace id).
func ExampleBreaker_AllowContext() {
	type traceID struct{}
	hooks := &retry.Hooks{OnBreakerChange: func(ctx context.Context, e retry.BreakerChange) {
		fmt.Println(e.From, "->", e.To, "by", e.Reason, "in trace", ctx.Value(traceID{}))
	}}
	b, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, Hooks: hooks})
	ctx := context.WithValue(context.Background(), traceID{}, "4bf92f35")
	done, err := b.AllowContext(ctx)
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	done(errors.New("backend: 503")) // after the call, with its error
	// Output:
	// closed -> open by consecutive-failures in trace 4bf92f35
}

// LogHooks turns a *slog.Logger into Hooks. Here a breaker's changes and
// rejections are logged as JSON (without the time, to keep the output
// stable).
func ExampleLogHooks() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	hooks := retry.LogHooks(logger) // also for Policy.Hooks and HedgePolicy.Hooks
	db, _ := retry.NewBreaker(retry.BreakerConfig{Name: "db", ConsecutiveFailures: 2, OpenDuration: time.Minute, Hooks: hooks})
	db.ForceOpen(0)
	retry.Guard(context.Background(), db, func(context.Context) (int, error) { return 1, nil })
	db.Reset()
	// Output:
	// {"level":"WARN","msg":"circuit breaker opened","name":"db","from":"closed","to":"open","reason":"force-open","manual":true,"forced":true}
	// {"level":"DEBUG","msg":"circuit breaker rejected a call","name":"db","err":"circuit breaker is open"}
	// {"level":"INFO","msg":"circuit breaker closed","name":"db","from":"open","to":"closed","reason":"reset","manual":true,"ended":{"rejected":1}}
}
