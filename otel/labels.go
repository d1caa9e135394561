package otel

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/retrykit/retry/httpx"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Attribute keys of the metrics and span events.
const (
	keyPolicy       = attribute.Key("retry.policy")         // Policy.Name or HedgePolicy.Name
	keyOutcome      = attribute.Key("retry.outcome")        // CallEvent.Outcome
	keyAttempt      = attribute.Key("retry.attempt")        // attempt number; bucketed in metrics
	keyResult       = attribute.Key("retry.attempt.result") // success, failure or canceled
	keyHedge        = attribute.Key("retry.hedge")          // the attempt was a hedge
	keyBudget       = attribute.Key("retry.budget")         // the Budget's Name
	keyBreaker      = attribute.Key("retry.breaker")        // BreakerConfig.Name
	keyState        = attribute.Key("retry.breaker.state")  // closed, open or half-open
	keyReason       = attribute.Key("retry.breaker.reason") // why a breaker changed state or refused
	keyMethod       = attribute.Key("http.request.method")  // OpenTelemetry's HTTP convention
	keyAddress      = attribute.Key("server.address")
	keyPort         = attribute.Key("server.port")
	maxLabels       = 8    // the most attributes a measurement has
	maxCachedLabels = 4096 // distinct attribute sets kept; more are built per measurement
)

// attemptBucket is the metric label of attempt number n: "1" to "4", or
// "5+", so that a policy with many attempts does not make many series.
var attemptLabels = [...]string{"0", "1", "2", "3", "4", "5+"}

func attemptBucket(n int) attribute.KeyValue {
	return keyAttempt.String(attemptLabels[min(max(n, 0), len(attemptLabels)-1)])
}

// labels are the attributes of one measurement, built on the stack.
type labels struct {
	kv [maxLabels]attribute.KeyValue
	n  int
}

func (l *labels) add(kv ...attribute.KeyValue) {
	l.n += copy(l.kv[l.n:], kv)
}

// name adds the attribute k with value v, if v is not empty.
func (l *labels) name(k attribute.Key, v string) {
	if v != "" {
		l.add(k.String(v))
	}
}

// request adds the method and server of the request that ctx carries, if
// it is an httpx hook's context (see httpx.RequestFrom).
func (l *labels) request(ctx context.Context) {
	r, ok := httpx.RequestFrom(ctx)
	if !ok || r.URL == nil {
		return
	}
	l.add(keyMethod.String(method(r.Method)))
	if h := r.URL.Hostname(); h != "" {
		l.add(keyAddress.String(h))
	}
	if p, err := strconv.Atoi(r.URL.Port()); err == nil {
		l.add(keyPort.Int(p))
	}
}

// method is m as OpenTelemetry's HTTP conventions label it: a known
// method, or _OTHER, so that a client cannot make unbounded series.
func method(m string) string {
	switch m {
	case "":
		return http.MethodGet
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// options are the options of a measurement with one attribute set, as the
// slices that Add and Record take, so that passing them allocates nothing.
type options struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

// optionCache keeps the options of each attribute set it has seen, so that
// recording a measurement with a known set allocates nothing. It is safe
// for concurrent use.
type optionCache struct {
	mu sync.RWMutex
	m  map[[maxLabels]attribute.KeyValue]options
}

// options returns the options of l's attributes.
func (c *optionCache) options(l *labels) options {
	c.mu.RLock()
	o, ok := c.m[l.kv]
	c.mu.RUnlock()
	if ok {
		return o
	}
	set := metric.WithAttributeSet(attribute.NewSet(slices.Clone(l.kv[:l.n])...))
	o = options{add: []metric.AddOption{set}, record: []metric.RecordOption{set}}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[[maxLabels]attribute.KeyValue]options)
	}
	if len(c.m) < maxCachedLabels {
		c.m[l.kv] = o
	}
	c.mu.Unlock()
	return o
}
