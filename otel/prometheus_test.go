package otel_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/retrykit/retry"
	retryotel "github.com/retrykit/retry/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Every metric, exported with the Prometheus exporter's defaults and
// scraped from /metrics over loopback.
func TestPrometheusScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())
	hooks, err := retryotel.New(retryotel.Config{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// A retry, then a refusal by the budget.
	retry.Retry(ctx, &retry.Policy{Name: "orders", Backoff: retry.Constant{}, Hooks: hooks}, failingAfter(1, 0))
	retry.Retry(ctx, &retry.Policy{Name: "orders", Budget: refuser{}, Hooks: hooks}, failingAfter(1, 0))
	// A hedge that wins: the first attempt waits until it loses.
	retry.Hedge(ctx, &retry.HedgePolicy{Name: "search", Delay: time.Millisecond, Hooks: hooks}, func(ctx context.Context) (int, error) {
		if a, _ := retry.AttemptFrom(ctx); a.Number == 1 {
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return 2, nil
	})
	// A breaker that opens and rejects.
	b, err := retry.NewBreaker(retry.BreakerConfig{Name: "db", ConsecutiveFailures: 1, Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	retry.Guard(ctx, b, failingAfter(1, 0))
	retry.Guard(ctx, b, failingAfter(0, 0))

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
	}
	text := string(body)
	for _, series := range []string{
		`retry_calls_total{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_outcome="success",retry_policy="orders"} 1`,
		`retry_calls_total{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_outcome="budget",retry_policy="orders"} 1`,
		`retry_call_duration_seconds_bucket{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_outcome="success",retry_policy="orders",le="0.005"}`,
		`retry_call_duration_seconds_bucket{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_outcome="success",retry_policy="orders",le="120"}`,
		`retry_attempts_total{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_attempt="2",retry_attempt_result="success",retry_hedge="false",retry_policy="orders"} 1`,
		`retry_attempt_duration_seconds_count{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_attempt="1",retry_attempt_result="failure",retry_hedge="false",retry_policy="orders"} 2`,
		`retry_retries_total{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_attempt="1",retry_policy="orders"} 1`,
		`retry_budget_refusals_total{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_budget="shared",retry_policy="orders"} 1`,
		`retry_hedges_total{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_hedge_trigger="delay",retry_policy="search"} 1`,
		`retry_hedge_wins_total{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_policy="search"} 1`,
		`retry_breaker_transitions_total{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_breaker="db",retry_breaker_reason="consecutive-failures",retry_breaker_state="open"} 1`,
		`retry_breaker_rejections_total{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_breaker="db",retry_breaker_reason="open"} 1`,
		`retry_breaker_state{otel_scope_name="github.com/retrykit/retry/otel",otel_scope_schema_url="",otel_scope_version="",retry_breaker="db",retry_breaker_state="open"} 1`,
		`# TYPE retry_call_duration_seconds histogram`,
		`# TYPE retry_breaker_state gauge`,
	} {
		if !strings.Contains(text, series) {
			t.Errorf("/metrics has no %s", series)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}
