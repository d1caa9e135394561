package otel_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

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

// A hedge that lost is counted as canceled, whatever error it returns
// once its context is cancelled (here context.Cause, ErrHedgeLost, or an
// error of its own), and even when it ends after the call has returned.
func TestHedgeLoserCanceled(t *testing.T) {
	for name, loss := range map[string]func(ctx context.Context) error{
		"Err":   func(ctx context.Context) error { return ctx.Err() },
		"Cause": func(ctx context.Context) error { return context.Cause(ctx) },
		"own":   func(ctx context.Context) error { return errDown },
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				p := &retry.HedgePolicy{Name: "search", MaxAttempts: 2, Delay: time.Millisecond, Hooks: h.hooks}
				v, err := retry.Hedge(context.Background(), p, func(ctx context.Context) (int, error) {
					if a, _ := retry.AttemptFrom(ctx); a.Number == 1 {
						<-ctx.Done()
						time.Sleep(time.Second) // ends long after Hedge returned
						return 0, loss(ctx)
					}
					return 2, nil
				})
				if v != 2 || err != nil {
					t.Fatalf("Hedge = %d, %v", v, err)
				}
				h.collect()
				h.wantTotal("retry.attempts", 1) // the loser has not ended yet
				time.Sleep(2 * time.Second)
				h.collect()
				h.want("retry.attempts", 1, policy("search"), attemptN("1"), canceled, noHedge)
				h.want("retry.attempts", 1, policy("search"), attemptN("2"), succeeded, isHedge)
				h.wantTotal("retry.attempts", 2)
				h.want("retry.calls", 1, policy("search"), outcome("success"))
			})
		})
	}
}

// A caller that cancels with a cause, which the attempt returns: the call
// ends canceled, and so does its attempt, rather than failed.
func TestRetryCanceledWithCause(t *testing.T) {
	h := newHarness(t)
	errShutdown := errors.New("shutting down")
	ctx, cancel := context.WithCancelCause(context.Background())
	_, err := retry.Retry(ctx, &retry.Policy{Name: "orders", Hooks: h.hooks}, func(ctx context.Context) (int, error) {
		cancel(errShutdown)
		return 0, context.Cause(ctx)
	})
	if !errors.Is(err, errShutdown) {
		t.Fatalf("Retry: %v", err)
	}
	h.collect()
	h.want("retry.calls", 1, policy("orders"), outcome("canceled"))
	h.want("retry.attempts", 1, policy("orders"), attemptN("1"), canceled, noHedge)
	h.wantTotal("retry.attempts", 1)
}

// Span events carry only valid UTF-8, whatever bytes a name or an error
// holds: OTLP refuses a batch with one invalid string in it.
func TestSpanEventsValidUTF8(t *testing.T) {
	h := newHarness(t)
	ctx, span := h.tracer.Start(context.Background(), "call")
	b, err := retry.NewBreaker(retry.BreakerConfig{Name: "db\xff", ConsecutiveFailures: 1, Hooks: h.hooks})
	if err != nil {
		t.Fatal(err)
	}
	p := &retry.Policy{Name: "caf\xe9", MaxAttempts: 3, Backoff: retry.Constant{}, Hooks: h.hooks}
	retry.Retry(ctx, p, func(ctx context.Context) (int, error) {
		return retry.Guard(ctx, b, func(context.Context) (int, error) { return 0, errors.New("reply: \xc3\x28") })
	})
	span.End()
	lines := h.events()
	if len(lines) < 5 {
		t.Fatalf("%d events, want at least 5: %q", len(lines), lines)
	}
	for _, e := range h.spans.Ended()[0].Events() {
		for _, kv := range e.Attributes {
			if v := kv.Value.Emit(); !utf8.ValidString(v) {
				t.Errorf("%s: %s = %q is not UTF-8", e.Name, kv.Key, v)
			}
		}
	}
}
