package main

import (
	"math"
	"slices"
	"time"
)

// result is what one client measured.
type result struct {
	Client       string    `json:"client"`
	Calls        int       `json:"calls"` // calls that ended (not interrupted)
	OK           int       `json:"ok"`
	SuccessPct   float64   `json:"success_pct"`
	Latency      quantiles `json:"latency_ms"` // of the successful calls
	Requests     int64     `json:"requests"`   // requests that reached the server (sent, with -url)
	LoadX        float64   `json:"load_amplification"`
	Retries      int64     `json:"retries"`
	Hedges       int64     `json:"hedges"`
	Rejected     int64     `json:"breaker_rejections"`
	Refused      int64     `json:"budget_refusals"`
	Posts        int64     `json:"posts_received"`
	PostsIntact  int64     `json:"posts_intact"`
	Conns        int64     `json:"connections,omitempty"`    // that the server accepted
	HedgeDelayMS float64   `json:"hedge_delay_ms,omitempty"` // the adaptive delay at the end
	Interrupted  bool      `json:"interrupted,omitempty"`

	latencies []time.Duration // sorted, successful calls only
	timeline  timeline
}

// quantiles of latency, in milliseconds.
type quantiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// timeline is per bucketWidth, from the start of the run.
type timeline struct {
	calls, ok []int   // calls started in the bucket, and how many succeeded
	load      []int64 // requests the server saw in the bucket
}

// record is one call's outcome.
type record struct {
	start   time.Duration
	latency time.Duration
	ok      bool
	ended   bool // false: interrupted or never started
}

// summarize turns the records of a run into a result.
func summarize(name string, recs []record) result {
	r := result{Client: name}
	for _, rec := range recs {
		if !rec.ended {
			continue
		}
		r.Calls++
		b := int(rec.start / bucketWidth)
		for len(r.timeline.calls) <= b {
			r.timeline.calls = append(r.timeline.calls, 0)
			r.timeline.ok = append(r.timeline.ok, 0)
		}
		r.timeline.calls[b]++
		if rec.ok {
			r.OK++
			r.timeline.ok[b]++
			r.latencies = append(r.latencies, rec.latency)
		}
	}
	slices.Sort(r.latencies)
	if r.Calls > 0 {
		r.SuccessPct = 100 * float64(r.OK) / float64(r.Calls)
	}
	r.Latency = quantiles{
		P50:  ms(quantile(r.latencies, 0.5)),
		P90:  ms(quantile(r.latencies, 0.9)),
		P99:  ms(quantile(r.latencies, 0.99)),
		P999: ms(quantile(r.latencies, 0.999)),
		Max:  ms(quantile(r.latencies, 1)),
	}
	return r
}

// setLoad records the requests behind the calls.
func (r *result) setLoad(requests int64) {
	r.Requests = requests
	if r.Calls > 0 {
		r.LoadX = math.Round(100*float64(requests)/float64(r.Calls)) / 100
	}
}

// quantile is the nearest-rank q-quantile of sorted; 0 if it is empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ms is d in milliseconds, to a microsecond.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
