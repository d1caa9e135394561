package otel

import (
	"errors"

	"go.opentelemetry.io/otel/metric"
)

// Bucket boundaries, in seconds, of the duration histograms: those that
// OpenTelemetry's HTTP conventions advise for request durations, and for
// a call, which includes the waits between its attempts, a few longer ones.
var (
	attemptBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	callBuckets    = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 120}
)

// instruments are the metrics of New's hooks, created once.
type instruments struct {
	calls           metric.Int64Counter
	callDuration    metric.Float64Histogram
	attempts        metric.Int64Counter
	attemptDuration metric.Float64Histogram
	retries         metric.Int64Counter
	hedges          metric.Int64Counter
	hedgeWins       metric.Int64Counter
	budgetRefusals  metric.Int64Counter
	breakerRejects  metric.Int64Counter
	breakerChanges  metric.Int64Counter
	breakerState    metric.Int64Gauge
}

// newInstruments creates the instruments of m; the error joins those of
// every instrument that could not be created.
func newInstruments(m metric.Meter) (*instruments, error) {
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string, buckets []float64) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(buckets...))
		errs = append(errs, err)
		return h
	}
	in := &instruments{
		calls:           counter("retry.calls", "{call}", "Calls of Retry, Do and Hedge that ended, by outcome."),
		callDuration:    histogram("retry.call.duration", "Duration of calls, waits between attempts included.", callBuckets),
		attempts:        counter("retry.attempts", "{attempt}", "Attempts that ended, by number and result."),
		attemptDuration: histogram("retry.attempt.duration", "Duration of attempts.", attemptBuckets),
		retries:         counter("retry.retries", "{retry}", "Waits before another attempt, by the number of the attempt that failed."),
		hedges:          counter("retry.hedges", "{hedge}", "Attempts that Hedge launched after the first."),
		hedgeWins:       counter("retry.hedge.wins", "{call}", "Hedged calls won by an attempt other than the first."),
		budgetRefusals:  counter("retry.budget.refusals", "{attempt}", "Extra attempts that a budget refused."),
		breakerRejects:  counter("retry.breaker.rejections", "{call}", "Calls that a circuit breaker refused, by reason."),
		breakerChanges:  counter("retry.breaker.transitions", "{transition}", "Changes of a circuit breaker's state, by new state and reason."),
	}
	var err error
	in.breakerState, err = m.Int64Gauge("retry.breaker.state", metric.WithUnit("{state}"),
		metric.WithDescription("1 for the state a circuit breaker is in, 0 for the state it left."))
	errs = append(errs, err)
	return in, errors.Join(errs...)
}
