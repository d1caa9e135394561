package retry_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// failTwice returns a call that fails twice, then succeeds, over and over.
func failTwice() func(context.Context) (int, error) {
	n := 0
	return func(context.Context) (int, error) {
		n++
		if n%3 != 0 {
			return 0, errBench
		}
		return n, nil
	}
}

// bareLoop3 is the least a retry loop can do: call fn up to three times,
// until it succeeds.
//
//go:noinline
func bareLoop3(ctx context.Context, fn func(context.Context) (int, error)) (v int, err error) {
	for range 3 {
		if v, err = fn(ctx); err == nil {
			return v, nil
		}
	}
	return v, err
}

// BenchmarkBareLoop3 is the baseline of BenchmarkRetryFail3: bareLoop3 over
// a call that fails twice, then succeeds.
func BenchmarkBareLoop3(b *testing.B) {
	b.ReportAllocs()
	fn := failTwice()
	for b.Loop() {
		sinkInt, sinkErr = bareLoop3(benchCtx, fn)
	}
}

// Loops of n operations, for reportRatio.

func bareCalls(n int) {
	for range n {
		sinkInt, sinkErr = bare(benchCtx)
	}
}

func bareLoops3(n int) {
	fn := failTwice()
	for range n {
		sinkInt, sinkErr = bareLoop3(benchCtx, fn)
	}
}

// reportRatio times op and base in turn, in 21 rounds of b.N/21
// operations each, and reports the median of the rounds' ratios of op's
// time to base's as the metric "x-"+name. Taking turns keeps both under
// the same load on a shared machine, and the median leaves out the rounds
// that another process disturbed. (testing.Benchmark cannot run inside a
// benchmark.)
func reportRatio(b *testing.B, name string, op, base func(n int)) {
	const rounds = 21
	n := max(b.N/rounds, 1)
	ratios := make([]float64, rounds)
	for i := range ratios {
		t0 := time.Now()
		op(n)
		t1 := time.Now()
		base(n)
		ratios[i] = float64(t1.Sub(t0)) / float64(time.Since(t1))
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[rounds/2], "x-"+name)
}

// BenchmarkRetrySuccess is a call that succeeds on its first attempt. The
// target is at most 3 times a bare call (x-bare).
func BenchmarkRetrySuccess(b *testing.B) {
	b.Run("policy", func(b *testing.B) { benchRetrySuccess(b, benchPol) })
	b.Run("adhoc", func(b *testing.B) { benchRetrySuccess(b, nil) })
	b.Run("do", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkErr = retry.Do(benchCtx, benchPol, okCall)
		}
		reportRatio(b, "bare", func(n int) {
			for range n {
				sinkErr = retry.Do(benchCtx, benchPol, okCall)
			}
		}, bareCalls)
	})
	// Hooks with OnDone only, as a metrics export sets them: two clock
	// reads and the hook. No target; the cost is documented. x-timed is
	// its ratio to a bare call timed with two clock reads, the least a
	// duration costs.
	b.Run("on-done", func(b *testing.B) {
		p := &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, Hooks: &retry.Hooks{
			OnDone: func(_ context.Context, e retry.CallEvent) { sinkDur += e.Duration },
		}}
		benchRetrySuccess(b, p)
		reportRatio(b, "timed", func(n int) {
			for range n {
				sinkInt, sinkErr = retry.Retry(benchCtx, p, okValCall)
			}
		}, func(n int) {
			for range n {
				t := time.Now()
				sinkInt, sinkErr = bare(benchCtx)
				sinkDur += time.Since(t)
			}
		})
	})
	// Hooks that watch only failures (OnRetry) keep the fast path.
	b.Run("on-retry", func(b *testing.B) {
		benchRetrySuccess(b, &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, Hooks: &retry.Hooks{
			OnRetry: func(_ context.Context, e retry.RetryEvent) { sinkInt += e.Attempt },
		}})
	})
	// MaxElapsed bounds every attempt, the first included: a clock read
	// and a context with a timer. No target; the cost is documented.
	b.Run("max-elapsed", func(b *testing.B) {
		benchRetrySuccess(b, &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, MaxElapsed: time.Minute})
	})
}

// benchRetrySuccess measures Retry with p over a call that succeeds, and
// its ratio to a bare call.
func benchRetrySuccess(b *testing.B, p *retry.Policy) {
	b.ReportAllocs()
	for b.Loop() {
		sinkInt, sinkErr = retry.Retry(benchCtx, p, okValCall)
	}
	reportRatio(b, "bare", func(n int) {
		for range n {
			sinkInt, sinkErr = retry.Retry(benchCtx, p, okValCall)
		}
	}, bareCalls)
}

// BenchmarkRetryFail3 fails twice, then succeeds, with no wait between.
// The target is at most 3.5 times the bare three-call loop (x-loop3).
func BenchmarkRetryFail3(b *testing.B) {
	b.ReportAllocs()
	fn := failTwice()
	for b.Loop() {
		sinkInt, sinkErr = retry.Retry(benchCtx, benchPol, fn)
	}
	if sinkErr != nil {
		b.Fatal(sinkErr)
	}
	reportRatio(b, "loop3", func(n int) {
		fn := failTwice()
		for range n {
			sinkInt, sinkErr = retry.Retry(benchCtx, benchPol, fn)
		}
	}, bareLoops3)
}

// ---------------------------------------------------------------------
// Hedging (issue 3): Hedge and LatencyTracker.
// ---------------------------------------------------------------------

var (
	hedgeNever = &retry.HedgePolicy{Delay: time.Hour} // fn always answers first
	sinkDur    time.Duration
)

// BenchmarkHedgeNoHedge is a hedged call whose first attempt answers
// before the delay: the cost of hedging a call that never needs it. Its
// baselines, in the same run: BenchmarkBareCall, and "goroutine", the
// least any hedging design pays (fn on its own goroutine, its result back
// over a channel, a timer armed and stopped).
func BenchmarkHedgeNoHedge(b *testing.B) {
	goroutines := func(n int) {
		for range n {
			ch := make(chan int, 1)
			t := time.NewTimer(time.Hour)
			go func() {
				v, _ := okValCall(benchCtx)
				ch <- v
			}()
			select {
			case sinkInt = <-ch:
			case <-t.C:
			}
			t.Stop()
		}
	}
	b.Run("goroutine", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			goroutines(1)
		}
	})
	// x-goroutine is the median ratio of Hedge's time to the goroutine
	// baseline's, taking turns (target at most 1.3).
	b.Run("hedge", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkInt, sinkErr = retry.Hedge(benchCtx, hedgeNever, okValCall)
		}
		reportRatio(b, "goroutine", func(n int) {
			for range n {
				sinkInt, sinkErr = retry.Hedge(benchCtx, hedgeNever, okValCall)
			}
		}, goroutines)
	})
	b.Run("release", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var release func()
			sinkInt, release, sinkErr = retry.HedgeWithRelease(benchCtx, hedgeNever, okValCall)
			release()
		}
	})
	b.Run("adaptive", func(b *testing.B) {
		tr, _ := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Fallback: time.Hour})
		p := &retry.HedgePolicy{Latency: tr}
		b.ReportAllocs()
		for b.Loop() {
			sinkInt, sinkErr = retry.Hedge(benchCtx, p, okValCall)
		}
	})
}

// BenchmarkLatencyTracker records and reads one tracker from all Ps at
// once. Its baseline, "atomic-add", is one shared atomic counter: the
// contention floor of any shared recorder.
func BenchmarkLatencyTracker(b *testing.B) {
	b.Run("atomic-add", func(b *testing.B) {
		var n atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n.Add(1)
			}
		})
	})
	b.Run("record", func(b *testing.B) {
		tr, _ := retry.NewLatencyTracker(retry.LatencyTrackerConfig{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			d := time.Duration(0)
			for pb.Next() {
				d = (d + 7919*time.Microsecond) % (50 * time.Millisecond)
				tr.Record(d)
			}
		})
	})
	b.Run("record+delay", func(b *testing.B) {
		tr, _ := retry.NewLatencyTracker(retry.LatencyTrackerConfig{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			d := time.Duration(0)
			for pb.Next() {
				d = (d + 7919*time.Microsecond) % (50 * time.Millisecond)
				tr.Record(d)
				sinkDur = tr.Delay()
			}
		})
	})
	b.Run("quantile", func(b *testing.B) {
		tr, _ := retry.NewLatencyTracker(retry.LatencyTrackerConfig{})
		for i := range 1500 {
			tr.Record(time.Duration(i%97+1) * time.Millisecond)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sinkDur, _ = tr.Quantile(0.99)
			}
		})
	})
}

// ---- Circuit breaker ----

// mutexBreaker is the baseline for BenchmarkBreakerParallel: the same
// consecutive-failures rule behind one mutex taken before and after every
// call, as most breakers do. With clock set it also reads the clock under
// the lock before and after each call to roll its counting interval, as
// sony/gobreaker does.
type mutexBreaker struct {
	clock       bool
	mu          sync.Mutex
	open        bool
	gen         uint64
	consecutive int
	expiry      time.Time
}

func (m *mutexBreaker) call(ctx context.Context, fn func(context.Context) (int, error)) (int, error) {
	m.mu.Lock()
	if m.clock {
		if now := time.Now(); now.After(m.expiry) {
			m.consecutive, m.expiry = 0, now.Add(time.Minute)
		}
	}
	if m.open {
		m.mu.Unlock()
		return 0, retry.ErrBreakerOpen
	}
	gen := m.gen
	m.mu.Unlock()
	v, err := fn(ctx)
	m.mu.Lock()
	if gen == m.gen && (!m.clock || !time.Now().After(m.expiry)) {
		if err != nil {
			m.consecutive++
			if m.consecutive >= 5 {
				m.open, m.gen = true, m.gen+1
			}
		} else {
			m.consecutive = 0
		}
	}
	m.mu.Unlock()
	return v, err
}

func mustBreaker(b *testing.B, cfg retry.BreakerConfig) *retry.Breaker {
	br, err := retry.NewBreaker(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return br
}

// BenchmarkBreakerParallel runs successful calls from every processor
// through a closed breaker: a bare call, the mutex-per-call baseline, and
// Guard with each kind of rule.
func BenchmarkBreakerParallel(b *testing.B) {
	run := func(b *testing.B, call func() (int, error)) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			v, err := 42, error(nil)
			for pb.Next() {
				v, err = call()
			}
			if err != nil || v != 42 {
				b.Error(v, err)
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		run(b, func() (int, error) { return bare(benchCtx) })
	})
	// time-now is one clock read per call: the unit of the clock reads a
	// rule needs (one for a time window or adaptive throttling, two for a
	// duration rule).
	b.Run("time-now", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var t time.Time
			for pb.Next() {
				t = time.Now()
			}
			sinkDur = time.Duration(t.Nanosecond())
		})
	})
	b.Run("mutex", func(b *testing.B) {
		m := new(mutexBreaker)
		run(b, func() (int, error) { return m.call(benchCtx, bare) })
	})
	b.Run("mutex-clock", func(b *testing.B) {
		m := &mutexBreaker{clock: true}
		run(b, func() (int, error) { return m.call(benchCtx, bare) })
	})
	for _, c := range []struct {
		name string
		cfg  retry.BreakerConfig
	}{
		{"consecutive", retry.BreakerConfig{}},
		{"ratio-time", retry.BreakerConfig{FailureRatio: 0.5}},
		{"ratio-calls", retry.BreakerConfig{FailureRatio: 0.5, WindowCalls: 100}},
		{"slow", retry.BreakerConfig{SlowCallThreshold: time.Second}},
		{"average", retry.BreakerConfig{MaxAverageDuration: time.Second}},
		{"slow-calls", retry.BreakerConfig{SlowCallThreshold: time.Second, WindowCalls: 100}},
		{"adaptive", retry.BreakerConfig{Adaptive: true}},
		{"adaptive-calls", retry.BreakerConfig{Adaptive: true, WindowCalls: 100}},
	} {
		b.Run(c.name, func(b *testing.B) {
			br := mustBreaker(b, c.cfg)
			run(b, func() (int, error) { return retry.Guard(benchCtx, br, bare) })
		})
	}
	b.Run("allow", func(b *testing.B) {
		br := mustBreaker(b, retry.BreakerConfig{})
		run(b, func() (int, error) {
			done, err := br.Allow()
			if err != nil {
				return 0, err
			}
			v, err := bare(benchCtx)
			done(err)
			return v, err
		})
	})
}

// BenchmarkBudgetParallel runs successful calls of Do from every processor
// with each kind of budget, against Do with none.
func BenchmarkBudgetParallel(b *testing.B) {
	ratio, err := retry.NewRatioBudget(retry.RatioBudgetConfig{})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		budget retry.Budget
	}{
		{"none", nil},
		{"token-bucket", new(retry.TokenBucket)},
		{"ratio", ratio},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, Budget: c.budget}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var err error
				for pb.Next() {
					err = retry.Do(benchCtx, p, okCall)
				}
				if err != nil {
					b.Error(err)
				}
			})
		})
	}
}
