package benchmarks

import (
	"context"
	"testing"
)

var (
	sinkInt int
	sinkErr error
)

// BenchmarkRetrySuccess is a call that succeeds at its first attempt,
// through each library's retry loop. The "retry" case reports x-<peer>:
// its time per call divided by the peer's, measured in turns.
func BenchmarkRetrySuccess(b *testing.B) {
	benchRetry(b, func() func(context.Context) (int, error) { return bare })
}

// BenchmarkRetryFail3 is a call that fails twice, then succeeds, with no
// wait between attempts: the cost of the retry loop itself.
func BenchmarkRetryFail3(b *testing.B) {
	benchRetry(b, func() func(context.Context) (int, error) {
		fn, _ := failTwice()
		return fn
	})
}

// benchRetry runs one sub-benchmark per library, each calling a fresh
// newFn() in a loop, and the ratios of this library's time to each peer's.
func benchRetry(b *testing.B, newFn func() func(context.Context) (int, error)) {
	ctx := context.Background()
	rs := retriers()
	runs := make([]func(n int), len(rs))
	for i, r := range rs {
		runs[i] = func(n int) {
			fn := newFn()
			for range n {
				sinkInt, sinkErr = r.call(ctx, fn)
			}
			if sinkErr != nil || sinkInt != 42 {
				b.Fatalf("%s: got %d, %v", r.name, sinkInt, sinkErr)
			}
		}
	}
	for i, r := range rs {
		b.Run(r.name, func(b *testing.B) {
			fn := newFn()
			b.ReportAllocs()
			for b.Loop() {
				sinkInt, sinkErr = r.call(ctx, fn)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
			if i == 0 {
				peers := make([]contender, 0, len(rs)-1)
				for j, p := range rs[1:] {
					peers = append(peers, contender{p.name, runs[j+1]})
				}
				reportRatios(b, runs[0], peers...)
			}
		})
	}
}
