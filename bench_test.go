package retry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/retrykit/retry"
)

var (
	errBench  = errors.New("bench: transient")
	sinkErr   error
	sinkInt   int
	benchPol  = &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}}
	benchCtx  = context.Background()
	okCall    = func(context.Context) error { return nil }
	okValCall = func(context.Context) (int, error) { return 42, nil }
)

//go:noinline
func bare(ctx context.Context) (int, error) { return okValCall(ctx) }

// BenchmarkBareCall is the baseline: the call itself, with no policy.
func BenchmarkBareCall(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkInt, sinkErr = bare(benchCtx)
	}
}

// BenchmarkRetrySuccess is a call that succeeds on its first attempt.
func BenchmarkRetrySuccess(b *testing.B) {
	b.Run("policy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkInt, sinkErr = retry.Retry(benchCtx, okValCall, benchPol)
		}
	})
	b.Run("adhoc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkInt, sinkErr = retry.Retry(benchCtx, okValCall, nil)
		}
	})
	b.Run("do", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkErr = retry.Do(benchCtx, okCall, benchPol)
		}
	})
}

// BenchmarkRetryFail3 fails twice, then succeeds, with no wait between.
func BenchmarkRetryFail3(b *testing.B) {
	b.ReportAllocs()
	n := 0
	fn := func(context.Context) (int, error) {
		n++
		if n%3 != 0 {
			return 0, errBench
		}
		return n, nil
	}
	for b.Loop() {
		sinkInt, sinkErr = retry.Retry(benchCtx, fn, benchPol)
	}
	if sinkErr != nil {
		b.Fatal(sinkErr)
	}
}
