package benchmarks

import (
	"errors"
	"flag"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

var errTransient = errors.New("benchmarks: transient")

// ratios turns the x-<peer> metrics off (-args -ratios=false), so that a
// profile of this library's case holds this library alone.
var ratios = flag.Bool("ratios", true, "measure this library's time against each peer's, in turns")

// contender is one library's way to run n operations, for reportRatios.
type contender struct {
	name string
	run  func(n int)
}

// rounds is how many times reportRatios times each contender.
const rounds = 15

// reportRatios times ours and each peer in turns, rounds times, and
// reports for each peer the median over the rounds of ours' time per
// operation divided by the peer's, as the metric "x-"+peer.name: below 1,
// this library is faster. Taking turns keeps every contender under the same
// load on a shared machine, and the median leaves out the rounds that
// another process disturbed. Each round runs about b.N/rounds of ours and
// as many of each peer as take the same time, so that a slow peer does not
// make the benchmark run for minutes. Call it after the timed loop.
func reportRatios(b *testing.B, ours func(n int), peers ...contender) {
	if !*ratios {
		return
	}
	n := max(b.N/rounds, 1)
	per := perOp(ours, n)
	counts := make([]int, len(peers))
	for i, p := range peers {
		counts[i] = max(int(float64(n)*per/perOp(p.run, min(n, 64))), 1)
	}
	ratios := make([][]float64, len(peers))
	for range rounds {
		mine := perOp(ours, n)
		for i, p := range peers {
			ratios[i] = append(ratios[i], mine/perOp(p.run, counts[i]))
		}
	}
	for i, p := range peers {
		slices.Sort(ratios[i])
		b.ReportMetric(ratios[i][rounds/2], "x-"+p.name)
	}
}

// perOp runs n operations and returns the time each took, in ns.
func perOp(run func(n int), n int) float64 {
	start := time.Now()
	run(n)
	return float64(time.Since(start)) / float64(n)
}

// serial makes a contender's run from one operation.
func serial(op func()) func(n int) {
	return func(n int) {
		for range n {
			op()
		}
	}
}

// parallel makes a contender's run that shares n operations between
// GOMAXPROCS goroutines, as RunParallel does, so that -cpu applies.
func parallel(op func()) func(n int) {
	return func(n int) {
		p := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		for g := range p {
			k := n / p
			if g < n%p {
				k++
			}
			wg.Go(func() {
				for range k {
					op()
				}
			})
		}
		wg.Wait()
	}
}
