// Package otel records what retry's calls, hedges, budgets and breakers do
// as OpenTelemetry metrics and span events. Import it under a name that
// does not hide go.opentelemetry.io/otel:
//
//	import retryotel "github.com/retrykit/retry/otel"
//
//	hooks, err := retryotel.New(retryotel.Config{MeterProvider: mp})
//	policy := &retry.Policy{Name: "orders", Hooks: hooks}
//	breaker, err := retry.NewBreaker(retry.BreakerConfig{Name: "orders", Hooks: hooks})
//
// One *retry.Hooks serves any number of policies, hedge policies and
// breakers; their names (Policy.Name, HedgePolicy.Name, BreakerConfig.Name,
// a Budget's Name) tell the series apart. See New for the metrics and the
// span events.
package otel
