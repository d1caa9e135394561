package otel_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/retrykit/retry"
	retryotel "github.com/retrykit/retry/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// harness records through the real SDK: metrics to a ManualReader, spans
// to a SpanRecorder.
type harness struct {
	t      *testing.T
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tracer trace.Tracer
	hooks  *retry.Hooks
	rm     metricdata.ResourceMetrics
}

func newHarness(t *testing.T, opts ...sdkmetric.Option) *harness {
	t.Helper()
	h := &harness{t: t, reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(append(opts, sdkmetric.WithReader(h.reader))...)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	h.tracer = tp.Tracer("test")
	hooks, err := retryotel.New(retryotel.Config{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	h.hooks = hooks
	return h
}

// collect reads the metrics recorded so far.
func (h *harness) collect() {
	h.t.Helper()
	if err := h.reader.Collect(context.Background(), &h.rm); err != nil {
		h.t.Fatal(err)
	}
}

// metric returns the collected metric called name.
func (h *harness) metric(name string) (metricdata.Metrics, bool) {
	for _, sm := range h.rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// points lists the data points of metric name, one a line, as
// "attrs=value", sorted, for failure messages.
func (h *harness) points(name string) string {
	m, _ := h.metric(name)
	var b strings.Builder
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			fmt.Fprintf(&b, "\n\t%s = %d", p.Attributes.Encoded(attribute.DefaultEncoder()), p.Value)
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			fmt.Fprintf(&b, "\n\t%s = %d", p.Attributes.Encoded(attribute.DefaultEncoder()), p.Value)
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			fmt.Fprintf(&b, "\n\t%s = count %d sum %g", p.Attributes.Encoded(attribute.DefaultEncoder()), p.Count, p.Sum)
		}
	}
	return b.String()
}

// value returns the value of the data point of counter or gauge name
// whose attributes are exactly attrs; ok is false if there is none.
func (h *harness) value(name string, attrs ...attribute.KeyValue) (int64, bool) {
	m, _ := h.metric(name)
	set := attribute.NewSet(attrs...)
	var dps []metricdata.DataPoint[int64]
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		dps = d.DataPoints
	case metricdata.Gauge[int64]:
		dps = d.DataPoints
	}
	for _, p := range dps {
		if p.Attributes.Equals(&set) {
			return p.Value, true
		}
	}
	return 0, false
}

// want checks the value of counter or gauge name for exactly attrs.
func (h *harness) want(name string, v int64, attrs ...attribute.KeyValue) {
	h.t.Helper()
	got, ok := h.value(name, attrs...)
	if !ok || got != v {
		set := attribute.NewSet(attrs...)
		h.t.Errorf("%s{%s} = %d (found %v), want %d; points:%s", name, set.Encoded(attribute.DefaultEncoder()), got, ok, v, h.points(name))
	}
}

// total is the sum of all the data points of counter name.
func (h *harness) total(name string) int64 {
	m, _ := h.metric(name)
	var n int64
	if d, ok := m.Data.(metricdata.Sum[int64]); ok {
		for _, p := range d.DataPoints {
			n += p.Value
		}
	}
	return n
}

// wantTotal checks the sum of all the data points of counter name, so that
// no point is left unchecked.
func (h *harness) wantTotal(name string, v int64) {
	h.t.Helper()
	if got := h.total(name); got != v {
		h.t.Errorf("%s: total %d, want %d; points:%s", name, got, v, h.points(name))
	}
}

// wantHistogram checks the count and sum of histogram name for exactly
// attrs.
func (h *harness) wantHistogram(name string, count uint64, sum float64, attrs ...attribute.KeyValue) {
	h.t.Helper()
	m, _ := h.metric(name)
	set := attribute.NewSet(attrs...)
	if d, ok := m.Data.(metricdata.Histogram[float64]); ok {
		for _, p := range d.DataPoints {
			if p.Attributes.Equals(&set) {
				if p.Count != count || !near(p.Sum, sum) {
					h.t.Errorf("%s{%s}: count %d sum %g, want %d and %g", name, set.Encoded(attribute.DefaultEncoder()), p.Count, p.Sum, count, sum)
				}
				return
			}
		}
	}
	h.t.Errorf("%s{%s}: no data point; points:%s", name, set.Encoded(attribute.DefaultEncoder()), h.points(name))
}

// near reports whether a and b are equal but for float rounding.
func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

// events returns the events of the one span recorded, as
// "name attr=value,..." lines (attributes sorted by key).
func (h *harness) events() []string {
	h.t.Helper()
	ended := h.spans.Ended()
	if len(ended) != 1 {
		h.t.Fatalf("%d spans ended, want 1", len(ended))
	}
	var lines []string
	for _, e := range ended[0].Events() {
		set := attribute.NewSet(e.Attributes...)
		lines = append(lines, e.Name+" "+set.Encoded(attribute.DefaultEncoder()))
	}
	return lines
}

// wantEvents checks the events of the one span recorded.
func (h *harness) wantEvents(want ...string) {
	h.t.Helper()
	got := h.events()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Errorf("span events:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
