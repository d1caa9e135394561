package benchmarks

import (
	"context"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/sony/gobreaker/v2"

	"github.com/retrykit/retry"
)

// guard is one library's circuit breaker around a call.
type guard struct {
	name string
	call func(fn func(context.Context) (int, error)) (int, error)
}

// breakerRule is one trip rule, configured in each library as alike as
// their settings allow.
type breakerRule struct {
	name   string
	guards func() []guard
}

// breakerRules are the rules compared: each library's default (trip on
// failures in a row), and a failure ratio as in gobreaker's own example.
func breakerRules() []breakerRule {
	return []breakerRule{
		{"consecutive", func() []guard {
			return guards(
				retry.BreakerConfig{ConsecutiveFailures: 5},
				// gobreaker's zero Settings trip after more than 5
				// consecutive failures ("Default ReadyToTrip returns true
				// when the number of consecutive failures is more than 5").
				// https://pkg.go.dev/github.com/sony/gobreaker/v2#Settings
				gobreaker.Settings{Name: "consecutive"},
				// failsafe-go: WithFailureThreshold, "the number of
				// consecutive failures that must occur ... to open".
				// https://pkg.go.dev/github.com/failsafe-go/failsafe-go/circuitbreaker#Builder
				circuitbreaker.NewBuilder[int]().WithFailureThreshold(5).Build(),
			)
		}},
		{"ratio", func() []guard {
			return guards(
				retry.BreakerConfig{FailureRatio: 0.6, MinCalls: 3},
				// gobreaker's example (example/http_breaker.go): trip when
				// at least 3 requests and 60% of them failed.
				// https://pkg.go.dev/github.com/sony/gobreaker/v2
				gobreaker.Settings{Name: "ratio", ReadyToTrip: func(c gobreaker.Counts) bool {
					return c.Requests >= 3 && float64(c.TotalFailures)/float64(c.Requests) >= 0.6
				}},
				// failsafe-go: WithFailureRateThreshold(rate, minimum
				// executions, period), time based as this library's window
				// (10 s by default).
				circuitbreaker.NewBuilder[int]().WithFailureRateThreshold(0.6, 3, 10*time.Second).Build(),
			)
		}},
	}
}

// guards builds one breaker per library from the three configurations.
func guards(ours retry.BreakerConfig, gb gobreaker.Settings, fs circuitbreaker.CircuitBreaker[int]) []guard {
	b, err := retry.NewBreaker(ours)
	if err != nil {
		panic(err) // a bad literal above
	}
	ctx := context.Background()
	cb := gobreaker.NewCircuitBreaker[int](gb)
	// failsafe-go: an executor is built once and shared; breakers need no
	// context, so none is given, as gobreaker takes none.
	// https://pkg.go.dev/github.com/failsafe-go/failsafe-go#With
	exec := failsafe.With[int](fs)
	return []guard{
		{"retry", func(fn func(context.Context) (int, error)) (int, error) {
			return retry.Guard(ctx, b, fn)
		}},
		{"gobreaker", func(fn func(context.Context) (int, error)) (int, error) {
			return cb.Execute(func() (int, error) { return fn(ctx) })
		}},
		{"failsafe", func(fn func(context.Context) (int, error)) (int, error) {
			return exec.Get(func() (int, error) { return fn(ctx) })
		}},
	}
}
