package retry_test

import (
	"context"
	"testing"

	"github.com/retrykit/retry"
)

// BenchmarkAdmitParallel runs successful calls from every processor at
// once through one admitter, with a limit far above the calls in flight:
// the cost of admission (the limiter's MinLimit keeps it there, as calls
// this short would teach it nothing). Its baseline, "breaker", is Guard with a default
// breaker (its closed path), in the same run; compare the others to it
// (go test -bench AdmitParallel -benchmem -count 6).
func BenchmarkAdmitParallel(b *testing.B) {
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	b.Run("breaker", func(b *testing.B) {
		var br retry.Breaker
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sinkInt, _ = retry.Guard(ctx, &br, ok)
			}
		})
	})
	b.Run("limiter", func(b *testing.B) {
		l := mustNew(retry.NewLimiter(retry.LimiterConfig{MinLimit: 64}))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sinkInt, _ = retry.Admit(ctx, l, ok)
			}
		})
	})
	b.Run("limiter-acquire", func(b *testing.B) {
		l := mustNew(retry.NewLimiter(retry.LimiterConfig{MinLimit: 64}))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, err := l.Acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				p.Done(nil)
			}
		})
	})
	b.Run("bulkhead", func(b *testing.B) {
		bh := mustNew(retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1000}))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sinkInt, _ = retry.Admit(ctx, bh, ok)
			}
		})
	})
}
