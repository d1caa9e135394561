package retry_test

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// parallelTime runs f n times on each of GOMAXPROCS goroutines and returns
// the wall time per call, as b.RunParallel counts it.
func parallelTime(n int, f func()) float64 {
	p := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	start := time.Now()
	for range p {
		wg.Go(func() {
			for range n {
				f()
			}
		})
	}
	wg.Wait()
	return float64(time.Since(start)) / float64(n*p)
}

// reportTarget times op, the default breaker's closed path and a clock
// read in turn, all in parallel, in 21 rounds, and reports the median of
// the rounds' ratios of op's time to the target, 3 default breakers plus
// clocks clock reads, as "x-target" (at most 1 meets it), and of op's
// time to the default breaker's as "x-consecutive". Taking turns keeps
// the three under the same load on a shared machine.
func reportTarget(b *testing.B, clocks int, op func()) {
	b.StopTimer() // ns/op is the RunParallel before
	const rounds = 21
	n := max(b.N/rounds/runtime.GOMAXPROCS(0), 1)
	def := mustBreaker(b, retry.BreakerConfig{})
	guard := func() { sinkInt, sinkErr = retry.Guard(benchCtx, def, bare) }
	clock := func() { sinkDur = time.Duration(time.Now().Nanosecond()) }
	target := make([]float64, rounds)
	toDefault := make([]float64, rounds)
	for i := range rounds {
		t := parallelTime(n, op)
		g := parallelTime(n, guard)
		c := parallelTime(n, clock)
		target[i] = t / (3*g + float64(clocks)*c)
		toDefault[i] = t / g
	}
	slices.Sort(target)
	slices.Sort(toDefault)
	b.ReportMetric(target[rounds/2], "x-target")
	b.ReportMetric(toDefault[rounds/2], "x-consecutive")
}

// BenchmarkBreakerTarget is the target of issue 16 for each breaker rule
// and budget: successful calls from every processor at most 3 times the
// default breaker's plus the clock reads the rule needs, measured in the
// same run (x-target at most 1). Run it with -cpu 1,2,8 to see scaling.
func BenchmarkBreakerTarget(b *testing.B) {
	for _, c := range []struct {
		name   string
		clocks int
		cfg    retry.BreakerConfig
	}{
		{"consecutive", 0, retry.BreakerConfig{}},
		{"ratio-calls", 0, retry.BreakerConfig{FailureRatio: 0.5, WindowCalls: 100}},
		{"adaptive-calls", 0, retry.BreakerConfig{Adaptive: true, WindowCalls: 100}},
		{"ratio-time", 1, retry.BreakerConfig{FailureRatio: 0.5}},
		{"adaptive", 1, retry.BreakerConfig{Adaptive: true}},
		{"slow", 2, retry.BreakerConfig{SlowCallThreshold: time.Second}},
		{"average", 2, retry.BreakerConfig{MaxAverageDuration: time.Second}},
		{"slow-calls", 2, retry.BreakerConfig{SlowCallThreshold: time.Second, WindowCalls: 100}},
	} {
		b.Run(c.name, func(b *testing.B) {
			br := mustBreaker(b, c.cfg)
			op := func() { sinkInt, sinkErr = retry.Guard(benchCtx, br, bare) }
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					op()
				}
			})
			reportTarget(b, c.clocks, op)
		})
	}
	ratio, err := retry.NewRatioBudget(retry.RatioBudgetConfig{})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		clocks int
		budget retry.Budget
	}{
		{"do-no-budget", 0, nil},
		{"do-token-bucket", 0, new(retry.TokenBucket)},
		{"do-ratio-budget", 1, ratio},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, Budget: c.budget}
			op := func() { sinkErr = retry.Do(benchCtx, p, okCall) }
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					op()
				}
			})
			reportTarget(b, c.clocks, op)
		})
	}
}
