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

type jsonScenario struct {
	URL         string    `json:"url,omitempty"`
	HTTP2       bool      `json:"http2,omitempty"`
	DurationMS  int64     `json:"duration_ms"`
	Rate        float64   `json:"rate"`
	Concurrency int       `json:"concurrency"`
	Seed        uint64    `json:"seed"`
	Latency     []tier    `json:"latency,omitempty"`
	Errors      float64   `json:"errors,omitempty"`
	Resets      float64   `json:"resets,omitempty"`
	OutageMS    *[2]int64 `json:"outage_ms,omitempty"`
	Attempts    int       `json:"attempts"`
}

func newReport(o *options, results []result) report {
	s := jsonScenario{
		URL: o.url, HTTP2: o.h2, DurationMS: o.duration.Milliseconds(), Rate: o.rate,
		Concurrency: o.concurrency, Seed: o.seed, Attempts: o.attempts,
	}
	if o.url == "" {
		s.Latency, s.Errors, s.Resets = o.latency, o.errorRate, o.resetRate
		if o.outageFor > 0 {
			s.OutageMS = &[2]int64{o.outageAt.Milliseconds(), (o.outageAt + o.outageFor).Milliseconds()}
		}
	}
	return report{Scenario: s, Results: results}
}

// writeJSON prints the results as one JSON document.
func writeJSON(w io.Writer, o *options, results []result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(newReport(o, results))
}
