package otel_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// BenchmarkSDKFloor records what New's hooks record for a call that
// succeeds at once (two counters, two histograms) straight into the SDK,
// with attribute sets built beforehand: the floor under
// BenchmarkRetry/success/otel, to compare with it in the same run.
func BenchmarkSDKFloor(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	m := mp.Meter("x")
	c1, _ := m.Int64Counter("a")
	h1, _ := m.Float64Histogram("b", metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	c2, _ := m.Int64Counter("c")
	h2, _ := m.Float64Histogram("d")
	s1 := metric.WithAttributeSet(attribute.NewSet(attribute.String("retry.policy", "bench"), attribute.String("retry.attempt", "1"), attribute.String("retry.attempt.result", "success"), attribute.Bool("retry.hedge", false)))
	s2 := metric.WithAttributeSet(attribute.NewSet(attribute.String("retry.policy", "bench"), attribute.String("retry.outcome", "success")))
	a1, r1 := []metric.AddOption{s1}, []metric.RecordOption{s1}
	a2, r2 := []metric.AddOption{s2}, []metric.RecordOption{s2}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c1.Add(ctx, 1, a1...)
		h1.Record(ctx, 0.001, r1...)
		c2.Add(ctx, 1, a2...)
		h2.Record(ctx, 0.001, r2...)
	}
}
