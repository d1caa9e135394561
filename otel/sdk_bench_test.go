package otel_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// sdkFloor returns a func that records what New's hooks record for a call
// that succeeds at once (two counters, two histograms) straight into a
// real SDK, with attribute sets built beforehand: the floor under the
// hooks' cost.
func sdkFloor(tb testing.TB) func() {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tb.Cleanup(func() { mp.Shutdown(context.Background()) })
	m := mp.Meter("floor")
	buckets := metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
	c1, _ := m.Int64Counter("a")
	h1, _ := m.Float64Histogram("b", buckets)
	c2, _ := m.Int64Counter("c")
	h2, _ := m.Float64Histogram("d", buckets)
	s1 := metric.WithAttributeSet(attribute.NewSet(policy("bench"), attemptN("1"), succeeded, noHedge))
	s2 := metric.WithAttributeSet(attribute.NewSet(policy("bench"), outcome("success")))
	a1, r1 := []metric.AddOption{s1}, []metric.RecordOption{s1}
	a2, r2 := []metric.AddOption{s2}, []metric.RecordOption{s2}
	ctx := context.Background()
	return func() {
		c1.Add(ctx, 1, a1...)
		h1.Record(ctx, 0.001, r1...)
		c2.Add(ctx, 1, a2...)
		h2.Record(ctx, 0.001, r2...)
	}
}

// BenchmarkSDKFloor times sdkFloor's recording alone.
func BenchmarkSDKFloor(b *testing.B) {
	record := sdkFloor(b)
	b.ReportAllocs()
	for b.Loop() {
		record()
	}
}
