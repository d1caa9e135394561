package retry_test

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/internal/shedsim"
)

// gate adapts an Admitter to the simulation.
func gate(a retry.Admitter) shedsim.Gate {
	return func(ctx context.Context) (func(error), error) {
		p, err := a.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		return p.Done, nil
	}
}

var simLoads = []float64{0.5, 1, 1.5, 2, 3}

// runSim runs one strategy at one load in a bubble of its own, with the
// README's simulation and the service times spread by ±spread.
func runSim(t *testing.T, load, spread float64, strategy string, maxP99 time.Duration) shedsim.Row {
	t.Helper()
	var r shedsim.Result
	// One P: goroutines woken at the same instant then run in one order,
	// almost always, and the table is the same run after run.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	synctest.Test(t, func(t *testing.T) {
		var g shedsim.Gate
		switch strategy {
		case "bulkhead C":
			g = gate(mustNew(retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 10})))
		case "bulkhead 2C":
			g = gate(mustNew(retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 20})))
		case "adaptive":
			g = gate(mustNew(retry.NewLimiter(retry.LimiterConfig{})))
		}
		cfg := shedsim.Readme(load, maxP99)
		cfg.Spread = spread
		r = shedsim.Run(cfg, g)
	})
	return shedsim.Row{Strategy: strategy, Load: load, Result: r}
}

// TestShedSimulation runs the overload simulation in virtual time and
// checks the adaptive limiter's targets: at 2× and 3× the capacity,
// goodput at least 90% of capacity and p99 at most twice the unloaded
// p99, before the drop and after it, and settled within 2s of the drop.
// It does so for service times spread by ±10% (the README's table) and
// by ±50% (a dependency whose latency varies widely even unloaded). With
// -v it prints the tables.
func TestShedSimulation(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, spread := range []float64{0.1, 0.5} {
		unloaded := runSim(t, 0.1, spread, "no limit", 0).Before.P99
		var rows []shedsim.Row
		for _, load := range simLoads {
			for _, s := range []string{"no limit", "bulkhead C", "bulkhead 2C", "adaptive"} {
				row := runSim(t, load, spread, s, 2*unloaded)
				rows = append(rows, row)
				if s != "adaptive" || load < 2 {
					continue
				}
				for _, p := range []struct {
					name string
					shedsim.Phase
				}{{"before the drop", row.Before}, {"after the drop", row.After}} {
					if p.Share < 0.9 {
						t.Errorf("spread ±%v, adaptive at %v×, %s: goodput %.0f%% of capacity, want at least 90%%", spread, load, p.name, 100*p.Share)
					}
					if p.P99 > 2*unloaded {
						t.Errorf("spread ±%v, adaptive at %v×, %s: p99 %v, want at most %v", spread, load, p.name, p.P99, 2*unloaded)
					}
				}
				if row.Settle < 0 || row.Settle > 2*time.Second {
					t.Errorf("spread ±%v, adaptive at %v×: settled after %v, want within 2s", spread, load, row.Settle)
				}
			}
		}
		t.Logf("overload simulation (virtual time), service ±%.0f%%, unloaded p99 %v:\n%s", 100*spread, unloaded, shedsim.Table(rows))
	}
}

// mustNew returns v, and panics if err is not nil.
func mustNew[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
