package otel_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/retrykit/retry"
	retryotel "github.com/retrykit/retry/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Metrics of a retry policy and a breaker, exported to Prometheus: one line
// of wiring each (Hooks: hooks).
func ExampleNew() {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		panic(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())

	hooks, err := retryotel.New(retryotel.Config{MeterProvider: mp})
	if err != nil {
		panic(err)
	}
	policy := &retry.Policy{Name: "orders", Backoff: retry.Constant{}, Hooks: hooks}
	breaker, err := retry.NewBreaker(retry.BreakerConfig{Name: "orders-db", Hooks: hooks})
	if err != nil {
		panic(err)
	}

	failures := 1
	retry.Do(context.Background(), policy, func(ctx context.Context) error {
		_, err := retry.Guard(ctx, breaker, func(context.Context) (struct{}, error) {
			if failures > 0 {
				failures--
				return struct{}{}, errors.New("connection reset")
			}
			return struct{}{}, nil
		})
		return err
	})
	breaker.ForceOpen(0) // an operator steps in

	// Serve /metrics (here on a loopback test server; in a program, on
	// its own listener) and read it as Prometheus would.
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		line := sc.Text()
		for _, name := range []string{"retry_calls_total", "retry_call_duration_seconds_count", "retry_retries_total", "retry_breaker_state{"} {
			if strings.HasPrefix(line, name) {
				fmt.Println(line)
			}
		}
	}
	// Output:
	// retry_breaker_state{retry_breaker="orders-db",retry_breaker_state="closed"} 0
	// retry_breaker_state{retry_breaker="orders-db",retry_breaker_state="open"} 1
	// retry_call_duration_seconds_count{retry_outcome="success",retry_policy="orders"} 1
	// retry_calls_total{retry_outcome="success",retry_policy="orders"} 1
	// retry_retries_total{retry_attempt="1",retry_policy="orders"} 1
}
