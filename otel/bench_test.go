package otel_test

import (
	"context"
	"testing"
	"time"

	"github.com/retrykit/retry"
	retryotel "github.com/retrykit/retry/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// instrumented returns hooks that record into a real SDK MeterProvider
// with a ManualReader, as a program's would between two collections.
func instrumented(tb testing.TB) *retry.Hooks {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tb.Cleanup(func() { mp.Shutdown(context.Background()) })
	h, err := retryotel.New(retryotel.Config{MeterProvider: mp})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func succeed(context.Context) (int, error) { return 1, nil }

// nopHooks watch every event and do nothing.
var nopHooks = &retry.Hooks{
	OnAttempt: func(context.Context, retry.AttemptEvent) {},
	OnRetry:   func(context.Context, retry.RetryEvent) {},
	OnDone:    func(context.Context, retry.CallEvent) {},
}

// Recording a call whose attribute sets have been seen allocates nothing,
// whether it succeeds at once or is retried.
func TestRecordingAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	p := &retry.Policy{Name: "orders", Backoff: retry.Constant{}, Hooks: instrumented(t)}
	for _, fails := range []int{0, 1} {
		call := func() { retry.Retry(context.Background(), p, failingAfter(fails, 0)) }
		call() // the first sight of each attribute set builds it
		if n := testing.AllocsPerRun(100, call); n != 0 {
			t.Errorf("a call that fails %d times: %v allocations, want 0", fails, n)
		}
	}
}

// BenchmarkRetry compares a call of Retry without hooks (plain), with hooks
// that do nothing (nop: what the core pays to report), with New's hooks
// (otel), and with them inside a recording span (otel+span),
// for a call that succeeds at once and one that is retried once. Compare
// the ratios, measured in the same run.
func BenchmarkRetry(b *testing.B) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	spanCtx, span := tp.Tracer("bench").Start(context.Background(), "call")
	defer span.End()
	hooks := instrumented(b)
	for _, c := range []struct {
		name  string
		fails int
	}{{"success", 0}, {"retried", 1}} {
		for _, v := range []struct {
			name  string
			ctx   context.Context
			hooks *retry.Hooks
		}{
			{"plain", context.Background(), nil},
			{"nop", context.Background(), nopHooks},
			{"otel", context.Background(), hooks},
			{"otel+span", spanCtx, hooks},
		} {
			b.Run(c.name+"/"+v.name, func(b *testing.B) {
				p := &retry.Policy{Name: "bench", Backoff: retry.Constant{}, Hooks: v.hooks}
				b.ReportAllocs()
				for b.Loop() {
					fn := succeed
					if c.fails > 0 {
						fn = failingAfter(c.fails, 0)
					}
					retry.Retry(v.ctx, p, fn)
				}
			})
		}
	}
}

// BenchmarkRatio times, in turns, batch by batch within one loop (so that
// the noise of a shared machine falls on all alike), calls of Retry that
// succeed at once without hooks, with no-op hooks and with New's hooks, and
// sdkFloor's recording alone. It reports x-plain (otel over no hooks),
// x-nop (otel over no-op hooks) and x-floor (what otel adds to no-op hooks,
// over the SDK's own recording).
func BenchmarkRatio(b *testing.B) {
	hooks := instrumented(b)
	floor := sdkFloor(b)
	policies := [3]*retry.Policy{
		{Name: "bench", Backoff: retry.Constant{}},
		{Name: "bench", Backoff: retry.Constant{}, Hooks: nopHooks},
		{Name: "bench", Backoff: retry.Constant{}, Hooks: hooks},
	}
	ctx := context.Background()
	var spent [4]time.Duration
	const batch = 100
	for b.Loop() {
		for i, p := range policies {
			start := time.Now()
			for range batch {
				retry.Retry(ctx, p, succeed)
			}
			spent[i] += time.Since(start)
		}
		start := time.Now()
		for range batch {
			floor()
		}
		spent[3] += time.Since(start)
	}
	b.ReportMetric(float64(spent[2])/float64(spent[0]), "x-plain")
	b.ReportMetric(float64(spent[2])/float64(spent[1]), "x-nop")
	b.ReportMetric(float64(spent[2]-spent[1])/float64(spent[3]), "x-floor")
}
