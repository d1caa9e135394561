// Package shedsim simulates an overloaded server behind a concurrency
// limit, in whatever time the caller runs it in: inside a testing/synctest
// bubble the runs take virtual time. Arrivals and service times are kept
// off each other's grid, so that few events share an instant; with
// GOMAXPROCS 1 a run is the same almost every time (the runtime may still
// order goroutines woken at the same instant differently, now and then,
// which moves a measure by a point or two).
//
// The server has a fixed pool of workers and an unbounded FIFO queue; its
// clients give up after a timeout, but a request they abandoned still
// takes a worker when its turn comes (the server never learns), which is
// how an unprotected server collapses. Midway the pool shrinks to half.
package shedsim

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Gate admits a call or refuses it. done must be called once with the
// call's error if err is nil.
type Gate func(ctx context.Context) (done func(err error), err error)

// Config describes one run.
type Config struct {
	Workers  int           // C: requests served at once before the drop
	Service  time.Duration // time a worker spends on a request, ±Spread
	Spread   float64       // spread of the service time; zero means 0.1 (±10%)
	Load     float64       // offered load, as a multiple of the capacity before the drop
	Duration time.Duration // length of the run
	DropAt   time.Duration // when the pool shrinks to Workers/2; 0 = never
	Timeout  time.Duration // clients give up after this long
	Bucket   time.Duration // length of a bucket of the settle measure
	// MaxP99 is the latency target of the settle measure: the p99 of a
	// bucket's admitted calls must not pass it. Zero means 2×Service.
	MaxP99 time.Duration
}

// Readme returns the simulation of the README's table at load: 10
// workers of 20ms ±10% (500 calls per second), clients that give up after
// 500ms, the pool halved at 3s of a 6s run, settle measured on 250ms
// buckets against maxP99.
func Readme(load float64, maxP99 time.Duration) Config {
	return Config{
		Workers:  10,
		Service:  20 * time.Millisecond,
		Load:     load,
		Duration: 6 * time.Second,
		DropAt:   3 * time.Second,
		Timeout:  500 * time.Millisecond,
		Bucket:   250 * time.Millisecond,
		MaxP99:   maxP99,
	}
}

// Result is what a run measured. Rates are per second, latencies are of
// admitted calls, measured by the client.
type Result struct {
	Offered       int
	Before, After Phase         // the steady state before the drop and at the end of the run
	Settle        time.Duration // from the drop until every later bucket met the targets; -1 = never
	Capacity      float64       // requests per second before the drop
	CapacityAfter float64
}

// Phase holds the measures of part of a run.
type Phase struct {
	Goodput  float64 // successful calls per second
	Share    float64 // goodput over min(offered, capacity)
	P50, P99 time.Duration
	Rejected float64 // share of offered calls refused by the gate
	Timeouts float64 // share of offered calls whose client gave up
}

type call struct {
	arrive, end time.Duration
	admitted    bool
	ok          bool
}

type job struct{ done chan struct{} }

// Run runs one simulation with gate in front of the server (nil: no
// gate). Run it in a testing/synctest bubble.
func Run(cfg Config, gate Gate) Result {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	jobs := make(chan job, 1<<16)
	var wg sync.WaitGroup
	dropped, drop := context.WithCancel(ctx)
	defer drop()
	for i := range cfg.Workers {
		quit := ctx
		if i >= cfg.Workers/2 {
			quit = dropped
		}
		wg.Go(func() { work(quit, jobs, i, cfg.Service, cmp.Or(cfg.Spread, 0.1)) })
	}
	start := time.Now()
	if cfg.DropAt > 0 {
		t := time.AfterFunc(cfg.DropAt, drop)
		defer t.Stop()
	}
	capacity := float64(cfg.Workers) / cfg.Service.Seconds()
	interval := time.Duration(float64(time.Second) / (cfg.Load * capacity))
	var (
		mu    sync.Mutex
		calls []call
	)
	var clients sync.WaitGroup
	for i := 0; ; i++ {
		// Half an interval off the grid, so that no arrival falls on the
		// drop or on a whole number of service times.
		at := time.Duration(i)*interval + interval/2
		if at >= cfg.Duration {
			break
		}
		time.Sleep(time.Until(start.Add(at)))
		clients.Go(func() {
			c := client(ctx, cfg.Timeout, jobs, gate)
			c.arrive = at
			c.end += at
			mu.Lock()
			calls = append(calls, c)
			mu.Unlock()
		})
	}
	clients.Wait()
	stop()
	wg.Wait()

	r := Result{
		Offered:       len(calls),
		Capacity:      capacity,
		CapacityAfter: capacity,
		Settle:        -1,
	}
	offered := cfg.Load * capacity
	end := cfg.Duration
	if cfg.DropAt > 0 {
		r.CapacityAfter = float64(cfg.Workers/2) / cfg.Service.Seconds()
		end = cfg.DropAt
	}
	// Each phase is measured over its last two thirds.
	r.Before = phase(calls, end/3, end, offered, capacity)
	if cfg.DropAt > 0 {
		from := cfg.DropAt + (cfg.Duration-cfg.DropAt)/3
		r.After = phase(calls, from, cfg.Duration, offered, r.CapacityAfter)
		r.Settle = settle(calls, cfg, offered, r.CapacityAfter)
	}
	return r
}

// work serves jobs until quit ends.
func work(quit context.Context, jobs chan job, id int, service time.Duration, spread float64) {
	for n := 0; ; n++ {
		if quit.Err() != nil { // before a job that is ready, the same on every run
			return
		}
		select {
		case <-quit.Done():
			return
		case j := <-jobs:
			// A spread the same on every run, and off the grid of
			// arrivals.
			f := 1 - spread + 2*spread*math.Mod(float64(n*7+id*3)*0.618034+0.1234567, 1)
			time.Sleep(time.Duration(float64(service)*f) + 1357)
			close(j.done)
		}
	}
}

// client makes one request through gate and reports it; end is relative
// to its arrival.
func client(ctx context.Context, timeout time.Duration, jobs chan job, gate Gate) call {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := func(error) {}
	if gate != nil {
		var err error
		if done, err = gate(ctx); err != nil {
			return call{end: time.Since(start)}
		}
	}
	j := job{done: make(chan struct{})}
	jobs <- j
	var err error
	select {
	case <-j.done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	done(err)
	return call{admitted: true, ok: err == nil, end: time.Since(start)}
}

// phase measures the calls that arrived in [from, to).
func phase(calls []call, from, to time.Duration, offered, capacity float64) Phase {
	var p Phase
	var lat []time.Duration
	n, rejected, timeouts, good := 0, 0, 0, 0
	for _, c := range calls {
		if c.arrive < from || c.arrive >= to {
			continue
		}
		n++
		switch {
		case !c.admitted:
			rejected++
			continue
		case c.ok:
			good++
		default:
			timeouts++
		}
		lat = append(lat, c.end-c.arrive)
	}
	if n == 0 {
		return p
	}
	secs := (to - from).Seconds()
	p.Goodput = float64(good) / secs
	p.Share = p.Goodput / min(offered, capacity)
	p.Rejected = float64(rejected) / float64(n)
	p.Timeouts = float64(timeouts) / float64(n)
	p.P50, p.P99 = quantile(lat, 0.5), quantile(lat, 0.99)
	return p
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(math.Ceil(q*float64(len(d))))-1)]
}

// settle returns the time from the drop to the start of the first bucket
// after which every bucket meets the targets: p99 of the admitted calls
// that arrived in it at most MaxP99, and goodput
// (calls that arrived in it and succeeded) at least 90% of what the
// shrunk server can serve. -1 if the last bucket misses them.
func settle(calls []call, cfg Config, offered, capacity float64) time.Duration {
	var last time.Duration = -1 // start of the last bucket that missed
	target := cfg.MaxP99
	if target == 0 {
		target = 2 * cfg.Service
	}
	for from := cfg.DropAt; from+cfg.Bucket <= cfg.Duration; from += cfg.Bucket {
		p := phase(calls, from, from+cfg.Bucket, offered, capacity)
		if p.P99 > target || p.Share < 0.9 {
			last = from
		}
	}
	switch {
	case last < 0:
		return 0
	case last+cfg.Bucket >= cfg.Duration:
		return -1
	}
	return last + cfg.Bucket - cfg.DropAt
}

// Row is one line of a table: a strategy at a load.
type Row struct {
	Strategy string
	Load     float64
	Result
}

// Table formats rows as a Markdown table.
func Table(rows []Row) string {
	var b strings.Builder
	b.WriteString("| load | strategy | goodput | p50 | p99 | rejected | timed out | goodput after drop | p99 after drop | settle |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		settle := "never"
		if r.Settle >= 0 {
			settle = r.Settle.Round(time.Millisecond).String()
		}
		fmt.Fprintf(&b, "| %.1f× | %s | %.0f%% | %v | %v | %.0f%% | %.0f%% | %.0f%% | %v | %s |\n",
			r.Load, r.Strategy, 100*r.Before.Share, ms(r.Before.P50), ms(r.Before.P99),
			100*r.Before.Rejected, 100*r.Before.Timeouts, 100*r.After.Share, ms(r.After.P99), settle)
	}
	return b.String()
}

func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
