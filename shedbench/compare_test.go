package shedbench

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/retrykit/retry"
	"github.com/retrykit/retry/internal/shedsim"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// strategies are the limiters compared, each made fresh for a run.
var strategies = []struct {
	name string
	gate func() shedsim.Gate
}{
	{"none", func() shedsim.Gate { return nil }},
	{"retry.Limiter", func() shedsim.Gate {
		l, err := retry.NewLimiter(retry.LimiterConfig{})
		if err != nil {
			panic(err)
		}
		return func(ctx context.Context) (func(error), error) {
			p, err := l.Acquire(ctx)
			if err != nil {
				return nil, err
			}
			return p.Done, nil
		}
	}},
	{"failsafe adaptivelimiter", func() shedsim.Gate {
		return failsafeGate(adaptivelimiter.NewWithDefaults[any]())
	}},
	{"failsafe, 100ms window", func() shedsim.Gate {
		return failsafeGate(adaptivelimiter.NewBuilder[any]().WithRecentWindow(100*time.Millisecond, time.Second, 20).Build())
	}},
}

// failsafeGate admits through l without waiting, and records every
// admitted call's time, whatever its outcome.
func failsafeGate(l adaptivelimiter.AdaptiveLimiter[any]) shedsim.Gate {
	return func(ctx context.Context) (func(error), error) {
		p, ok := l.TryAcquirePermit()
		if !ok {
			return nil, adaptivelimiter.ErrExceeded
		}
		return func(error) { p.Record() }, nil
	}
}

func run(t *testing.T, load float64, gate func() shedsim.Gate, maxP99 time.Duration) shedsim.Result {
	var r shedsim.Result
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // the same table run after run, almost always
	synctest.Test(t, func(t *testing.T) {
		r = shedsim.Run(shedsim.Readme(load, maxP99), gate())
	})
	return r
}

// TestCompareFailsafe runs every strategy at every load and prints the
// table with -v. It checks only that retry's limiter meets its targets
// here too; the others are measured, not judged.
func TestCompareFailsafe(t *testing.T) {
	unloaded := run(t, 0.1, strategies[0].gate, 0).Before.P99
	var rows []shedsim.Row
	for _, load := range []float64{0.5, 1, 1.5, 2, 3} {
		for _, s := range strategies {
			r := run(t, load, s.gate, 2*unloaded)
			rows = append(rows, shedsim.Row{Strategy: s.name, Load: load, Result: r})
			if s.name == "retry.Limiter" && load >= 2 && (r.Before.Share < 0.9 || r.Before.P99 > 2*unloaded || r.Settle < 0 || r.Settle > 2*time.Second) {
				t.Errorf("retry.Limiter at %v×: goodput %.0f%%, p99 %v, settle %v", load, 100*r.Before.Share, r.Before.P99, r.Settle)
			}
		}
	}
	t.Logf("unloaded p99 %v\n%s", unloaded, shedsim.Table(rows))
}

// BenchmarkAdmitParallel compares the cost of admitting a call that
// succeeds at once, from every processor, far below the limit. The
// baseline is retry.Guard with a default breaker (its closed path).
func BenchmarkAdmitParallel(b *testing.B) {
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	var sink int
	b.Run("retry.Guard", func(b *testing.B) {
		var br retry.Breaker
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sink, _ = retry.Guard(ctx, &br, ok)
			}
		})
	})
	b.Run("retry.Limiter", func(b *testing.B) {
		l, _ := retry.NewLimiter(retry.LimiterConfig{MinLimit: 64})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sink, _ = retry.Admit(ctx, l, ok)
			}
		})
	})
	b.Run("failsafe", func(b *testing.B) {
		l := adaptivelimiter.NewBuilder[any]().WithLimits(64, 200, 64).Build()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, okp := l.TryAcquirePermit()
				if !okp {
					b.Fatal("refused")
				}
				sink, _ = ok(ctx)
				p.Record()
			}
		})
	})
	_ = sink
}
