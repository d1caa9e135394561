package main

import (
	"encoding/json"
	"io"
)

// report is the JSON of a run.
type report struct {
	Scenario jsonScenario `json:"scenario"`
	Results  []result     `json:"results"`
}

// jsonScenario is how the run was set up: every flag, durations in ms.
type jsonScenario struct {
	URL         string  `json:"url,omitempty"`
	HTTP2       bool    `json:"http2,omitempty"`
	DurationMS  int64   `json:"duration_ms"`
	Rate        float64 `json:"rate"`
	Concurrency int     `json:"concurrency"`
	Seed        uint64  `json:"seed"`
	TimeoutMS   float64 `json:"timeout_ms"`
	*JSONService

	Clients       []string `json:"clients"`
	Attempts      int      `json:"attempts"`
	BackoffMS     float64  `json:"backoff_ms"`
	BackoffMaxMS  float64  `json:"backoff_max_ms"`
	HedgeDelayMS  float64  `json:"hedge_delay_ms"` // 0: after the hedge_quantile of recent latencies
	HedgeQuantile float64  `json:"hedge_quantile"`
	Budget        float64  `json:"budget"`
	BreakerRatio  float64  `json:"breaker_ratio"`
	BreakerOpenMS float64  `json:"breaker_open_ms"`
}

// JSONService is the lab's own service, absent with -url. It is exported
// only so that encoding/json can fill it in when it reads a report back.
type JSONService struct {
	Latency    []jsonTier `json:"latency"`
	Errors     float64    `json:"errors"`
	RetryAfter float64    `json:"retry_after"`
	Resets     float64    `json:"resets"`
	OutageMS   *[2]int64  `json:"outage_ms,omitempty"`
	Posts      float64    `json:"posts"`
	BodyBytes  int        `json:"body_bytes"`
}

type jsonTier struct {
	LatencyMS float64 `json:"latency_ms"`
	Share     float64 `json:"share"`
}

func newReport(o *options, results []result) report {
	s := jsonScenario{
		URL: o.shownURL(), HTTP2: o.h2, DurationMS: o.duration.Milliseconds(), Rate: o.rate,
		Concurrency: o.concurrency, Seed: o.seed, TimeoutMS: ms(o.timeout),
		Clients: o.clients, Attempts: o.attempts, BackoffMS: ms(o.backoffBase), BackoffMaxMS: ms(o.backoffMax),
		HedgeDelayMS: ms(o.hedgeDelay), HedgeQuantile: o.hedgeQuantile, Budget: o.budgetRatio,
		BreakerRatio: o.breakerRatio, BreakerOpenMS: ms(o.breakerOpen),
	}
	if o.url == "" {
		svc := &JSONService{Errors: o.errorRate, RetryAfter: o.retryAfter, Resets: o.resetRate, Posts: o.postShare, BodyBytes: o.bodyBytes}
		for _, t := range o.latency {
			svc.Latency = append(svc.Latency, jsonTier{LatencyMS: ms(t.Latency), Share: t.Share})
		}
		if o.outageFor > 0 {
			svc.OutageMS = &[2]int64{o.outageAt.Milliseconds(), (o.outageAt + o.outageFor).Milliseconds()}
		}
		s.JSONService = svc
	}
	if results == nil {
		results = []result{} // a list for scripts, even if interrupted at once
	}
	return report{Scenario: s, Results: results}
}

// writeJSON prints the results as one JSON document.
func writeJSON(w io.Writer, o *options, results []result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(newReport(o, results))
}
