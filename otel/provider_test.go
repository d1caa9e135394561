package otel_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/retrykit/retry"
	retryotel "github.com/retrykit/retry/otel"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// A MeterProvider shut down before New, or after: New works, and the
// calls go on without recording and without panicking.
func TestShutDownProvider(t *testing.T) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	mp.Shutdown(context.Background())
	hooks, err := retryotel.New(retryotel.Config{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := retry.Retry(context.Background(), &retry.Policy{Backoff: retry.Constant{}, Hooks: hooks}, failingAfter(1, 0)); v != 2 || err != nil {
		t.Fatalf("Retry = %d, %v", v, err)
	}

	reader := sdkmetric.NewManualReader()
	mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	hooks, err = retryotel.New(retryotel.Config{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	mp.Shutdown(context.Background())
	b, err := retry.NewBreaker(retry.BreakerConfig{Name: "db", ConsecutiveFailures: 1, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	retry.Retry(context.Background(), &retry.Policy{Backoff: retry.Constant{}, Hooks: hooks}, func(ctx context.Context) (int, error) {
		return retry.Guard(ctx, b, failingAfter(1, 0))
	})
}

// globalSet is whether TestGlobalProvider has set the global provider.
var globalSet bool

// Without a MeterProvider, New's hooks use the global one, including one
// set after New: hooks made at package level, before main sets the
// provider, record into it.
func TestGlobalProvider(t *testing.T) {
	if globalSet {
		t.Skip("the global provider hands instruments on once per process (-count > 1)")
	}
	globalSet = true
	hooks, err := retryotel.New(retryotel.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	otel.SetMeterProvider(mp)
	retry.Retry(context.Background(), &retry.Policy{Name: "global", Hooks: hooks}, succeed)
	h := &harness{t: t, reader: reader}
	h.collect()
	h.want("retry.calls", 1, policy("global"), outcome("success"))
}

// JoinHooks of LogHooks and New's hooks: both see everything, a breaker's
// changes and rejections included.
func TestJoinWithLogHooks(t *testing.T) {
	h := newHarness(t)
	var log bytes.Buffer
	hooks := retry.JoinHooks(retry.LogHooks(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))), h.hooks)
	b, err := retry.NewBreaker(retry.BreakerConfig{Name: "db", ConsecutiveFailures: 1, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	p := &retry.Policy{Name: "orders", MaxAttempts: 3, Backoff: retry.Constant{}, Hooks: hooks}
	retry.Retry(context.Background(), p, func(ctx context.Context) (int, error) {
		return retry.Guard(ctx, b, func(context.Context) (int, error) { return 0, errDown })
	})
	h.collect()
	h.want("retry.calls", 1, policy("orders"), outcome("breaker"))
	h.want("retry.breaker.state", 1, breaker("db"), state("open"))
	h.want("retry.breaker.rejections", 1, breaker("db"), reason("open"))
	for _, s := range []string{"name=orders", `msg="circuit breaker opened" name=db`, `msg="circuit breaker rejected a call" name=db`} {
		if !strings.Contains(log.String(), s) {
			t.Errorf("the log has no %s:\n%s", s, log.String())
		}
	}
}
