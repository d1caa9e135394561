package main

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// runner sends the workload through one client.
type runner struct {
	o      *options
	target string
	calls  []call
	c      *client

	done, ok atomic.Int64 // for the progress line
}

// run sends every call at its time, at most -concurrency at once, until
// the calls are done or ctx ends (then calls in flight are cancelled and
// not counted). It returns one record per call.
func (r *runner) run(ctx context.Context, start time.Time) []record {
	recs := make([]record, len(r.calls))
	next := make(chan int)
	var wg sync.WaitGroup
	for range r.o.concurrency {
		wg.Go(func() {
			for i := range next {
				recs[i] = r.do(ctx, start, r.calls[i])
			}
		})
	}
	r.dispatch(ctx, start, next)
	close(next)
	wg.Wait()
	return recs
}

// dispatch hands each call to a worker at its time; a call waits for a
// free worker if all are busy. With -url, calls not handed out by the end
// of -duration are left out: paced requests must not stretch the run.
func (r *runner) dispatch(ctx context.Context, start time.Time, next chan<- int) {
	if r.o.url != "" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, start.Add(r.o.duration))
		defer cancel()
	}
	for i, c := range r.calls {
		if d := time.Until(start.Add(c.at)); d > 0 && !wait(ctx, d) {
			return
		}
		select {
		case next <- i:
		case <-ctx.Done():
			return
		}
	}
}

// do makes one call and reads the whole answer.
func (r *runner) do(ctx context.Context, start time.Time, c call) record {
	callCtx, cancel := context.WithTimeout(ctx, r.o.timeout)
	defer cancel()
	began := time.Now()
	rec := record{start: began.Sub(start)}
	req, err := c.request(callCtx, r.target, r.o)
	if err != nil {
		return rec
	}
	resp, err := r.c.http.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if ctx.Err() != nil {
		return rec // interrupted: not counted
	}
	rec.latency, rec.ended = time.Since(began), true
	rec.ok = err == nil && resp.StatusCode >= 200 && resp.StatusCode < 300
	r.done.Add(1)
	if rec.ok {
		r.ok.Add(1)
	}
	return rec
}
