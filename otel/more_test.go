package otel_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	retryotel "github.com/retrykit/retry/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A hedge launched because the first attempt failed, not because the
// delay passed, is counted as such; a call won by the second attempt after
// the first failed is no hedge win.
func TestHedgeAfterFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		p := &retry.HedgePolicy{Name: "search", MaxAttempts: 2, Delay: time.Second, Hooks: h.hooks}
		v, err := retry.Hedge(context.Background(), p, failingAfter(1, time.Millisecond))
		if v != 2 || err != nil {
			t.Fatalf("Hedge = %d, %v", v, err)
		}
		h.collect()
		h.want("retry.hedges", 1, policy("search"), trigger("failure"))
		h.wantTotal("retry.hedges", 1)
		h.wantTotal("retry.hedge.wins", 0)
		h.want("retry.attempts", 1, policy("search"), attemptN("1"), failed, noHedge)
		h.want("retry.attempts", 1, policy("search"), attemptN("2"), succeeded, noHedge)
	})
}

// A call the caller cancels ends with outcome canceled, and its attempt
// with result canceled.
func TestRetryCanceled(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := retry.Retry(ctx, &retry.Policy{Hooks: h.hooks}, func(ctx context.Context) (int, error) {
		cancel()
		return 0, ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Retry: %v", err)
	}
	h.collect()
	h.want("retry.calls", 1, outcome("canceled"))
	h.want("retry.attempts", 1, attemptN("1"), canceled, noHedge)
}

// NoSpanEvents leaves the span alone and still records the metrics.
func TestNoSpanEvents(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	hooks, err := retryotel.New(retryotel.Config{MeterProvider: mp, NoSpanEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tp.Tracer("test").Start(context.Background(), "call")
	retry.Retry(ctx, &retry.Policy{Backoff: retry.Constant{}, Hooks: hooks}, failingAfter(1, 0))
	span.End()
	if ev := rec.Ended()[0].Events(); len(ev) != 0 {
		t.Errorf("%d span events, want none: %v", len(ev), ev)
	}
	h := &harness{t: t, reader: reader}
	h.collect()
	h.wantTotal("retry.attempts", 2)
}
