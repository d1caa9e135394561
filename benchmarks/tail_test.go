package benchmarks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tail workload: tailCalls calls, tailWorkers at a time, to a
// dependency whose every attempt takes a latency drawn from tailLatency.
// The draws are fixed by tailSeed and indexed by call and attempt, so
// every library meets exactly the same latencies: the k-th attempt of call
// i takes draws[i][k] however the library schedules it.
const (
	tailCalls   = 2000
	tailWorkers = 8
	tailSeed    = 2026
	maxDraws    = 4 // attempts per call with a draw of their own; later ones take 2 ms
)

// tailLatency draws one attempt's latency: 95% 2 ms, 4% 20 ms, 1% 100 ms.
func tailLatency(r *rand.Rand) time.Duration {
	switch u := r.IntN(100); {
	case u < 95:
		return 2 * time.Millisecond
	case u < 99:
		return 20 * time.Millisecond
	default:
		return 100 * time.Millisecond
	}
}

// tail is the state of the tail workload: the draws, and the attempts
// each call of the current run has made.
type tail struct {
	draws    [][maxDraws]time.Duration
	run      atomic.Int64 // the current run; attempts of an earlier one are not counted
	attempts []atomic.Int32
	conns    *atomic.Int64 // connections the server accepted, over HTTP; nil in process
}

func newTail() *tail {
	r := rand.New(rand.NewPCG(tailSeed, 0))
	w := &tail{draws: make([][maxDraws]time.Duration, tailCalls), attempts: make([]atomic.Int32, tailCalls)}
	for i := range w.draws {
		for k := range maxDraws {
			w.draws[i][k] = tailLatency(r)
		}
	}
	return w
}

// attempt is one attempt of call i of run: it takes the next draw of that
// call, or less if ctx ends first.
func (w *tail) attempt(ctx context.Context, run int64, i int) (int, error) {
	d := 2 * time.Millisecond
	if run == w.run.Load() {
		if k := int(w.attempts[i].Add(1)) - 1; k < maxDraws {
			d = w.draws[i][k]
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return i, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// tailResult is what one run of the workload measured.
type tailResult struct {
	p50, p99 time.Duration
	load     float64 // attempts per call
	conns    int64   // connections opened during the run, over HTTP
}

// drive runs the workload once: it calls call(run, i) for every call i,
// tailWorkers at a time, and returns the latencies' quantiles and the load.
func (w *tail) drive(call func(run int64, i int) error) (tailResult, error) {
	run := w.run.Add(1)
	for i := range w.attempts {
		w.attempts[i].Store(0)
	}
	var conns0 int64
	if w.conns != nil {
		conns0 = w.conns.Load()
	}
	lat := make([]time.Duration, tailCalls)
	errs := make(chan error, tailWorkers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range tailWorkers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < tailCalls; i = int(next.Add(1)) - 1 {
				start := time.Now()
				if err := call(run, i); err != nil {
					errs <- fmt.Errorf("call %d: %w", i, err)
					return
				}
				lat[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return tailResult{}, err
	}
	w.run.Add(1) // attempts still running (losers) are no longer counted
	attempts := 0
	for i := range w.attempts {
		attempts += int(w.attempts[i].Load())
	}
	slices.Sort(lat)
	r := tailResult{p50: quantile(lat, 0.50), p99: quantile(lat, 0.99), load: float64(attempts) / tailCalls}
	if w.conns != nil {
		r.conns = w.conns.Load() - conns0
	}
	return r, nil
}

// quantile returns the q-quantile (nearest rank) of sorted.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// tailContender is one library's way to make call i of a run.
type tailContender struct {
	name string
	call func(run int64, i int) error
}

// tailRounds is how many times compareTail runs the workload through each
// contender in one iteration.
const tailRounds = 5

// compareTail runs the workload through each contender in turn, tailRounds
// times per iteration, each round in another order, and reports for each contender the medians over the
// runs of its p50, its p99 (in ms) and its load (attempts per call), as
// "p50-ms-<name>", "p99-ms-<name>" and "load-<name>", and over HTTP the
// connections opened per run, as "conns-<name>". For each contender
// after the second it also reports the second's (this library's) p99 and
// load divided by its own, median over the rounds, as "x-p99-<name>" and
// "x-load-<name>"; the first contender is the baseline without hedging.
// Taking turns puts every library under the same load of the shared
// machine; the median copes with the rounds in which a burst of that load
// made one library dial new connections, whose latency sets off more
// hedges, which close more connections. ns/op is the time of one
// iteration.
func compareTail(b *testing.B, w *tail, cs []tailContender) {
	results := make([][]tailResult, len(cs))
	for b.Loop() {
		for round := range tailRounds {
			// Each round starts with another contender: over HTTP, one
			// inherits the connections the one before left open, or closed.
			for j := range cs {
				i := (j + round) % len(cs)
				r, err := w.drive(cs[i].call)
				if err != nil {
					b.Fatalf("%s: %v", cs[i].name, err)
				}
				results[i] = append(results[i], r)
			}
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	for i, c := range cs {
		rs := results[i]
		b.ReportMetric(median(rs, func(r tailResult) float64 { return ms(r.p50) }), "p50-ms-"+c.name)
		b.ReportMetric(median(rs, func(r tailResult) float64 { return ms(r.p99) }), "p99-ms-"+c.name)
		b.ReportMetric(median(rs, func(r tailResult) float64 { return r.load }), "load-"+c.name)
		if w.conns != nil {
			b.ReportMetric(median(rs, func(r tailResult) float64 { return float64(r.conns) }), "conns-"+c.name)
		}
		if i < 2 {
			continue
		}
		ours := results[1]
		b.ReportMetric(medianOf(len(rs), func(k int) float64 { return float64(ours[k].p99) / float64(rs[k].p99) }), "x-p99-"+c.name)
		b.ReportMetric(medianOf(len(rs), func(k int) float64 { return ours[k].load / rs[k].load }), "x-load-"+c.name)
	}
}

// median returns the median of f over rs.
func median(rs []tailResult, f func(tailResult) float64) float64 {
	return medianOf(len(rs), func(k int) float64 { return f(rs[k]) })
}

// medianOf returns the median of f(0), …, f(n-1).
func medianOf(n int, f func(k int) float64) float64 {
	v := make([]float64, n)
	for k := range v {
		v[k] = f(k)
	}
	slices.Sort(v)
	return v[n/2]
}

// tailHandler serves the workload over HTTP: the request's X-Run and
// X-Call headers name the run and the call.
func (w *tail) handler() http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		run, err1 := strconv.ParseInt(r.Header.Get("X-Run"), 10, 64)
		i, err2 := strconv.Atoi(r.Header.Get("X-Call"))
		if err1 != nil || err2 != nil || i < 0 || i >= tailCalls {
			http.Error(rw, "bad call", http.StatusBadRequest)
			return
		}
		if _, err := w.attempt(r.Context(), run, i); err != nil {
			return // the client went away
		}
		rw.Write([]byte("ok"))
	}
}
