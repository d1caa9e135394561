package otel

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// Config says where New's hooks record.
type Config struct {
	// MeterProvider provides the meter of the metrics. Nil means the
	// global one, otel.GetMeterProvider(), as it is when New is called.
	MeterProvider metric.MeterProvider

	// NoSpanEvents turns off the span events: by default each event is
	// also added to the recording span of the hook's context, if any.
	NoSpanEvents bool
}

// ScopeName is the instrumentation scope of the meter New uses.
const ScopeName = "github.com/retrykit/retry/otel"

// meterProvider is c's MeterProvider, or the global one.
func (c Config) meterProvider() metric.MeterProvider {
	if c.MeterProvider != nil {
		return c.MeterProvider
	}
	return otel.GetMeterProvider()
}
