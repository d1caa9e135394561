package grpcx_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// BenchmarkUnary compares a successful unary call (no retry) through the
// interceptor with the same call without it, over one in-memory
// connection each, in the same run: compare the ratios, not the ns.
func BenchmarkUnary(b *testing.B) {
	breakers, _ := grpcx.BreakersPerTarget(retry.BreakerConfig{})
	budgets, _ := grpcx.PerTarget(func() retry.Budget { return &retry.TokenBucket{} })
	clients := []struct {
		name string
		ic   *grpcx.Interceptor
	}{
		{"bare", nil},
		{"interceptor", newIC(b, grpcx.Config{})},
		{"breaker+budget", newIC(b, grpcx.Config{Breaker: breakers.For, Budget: budgets.For})},
	}
	for _, c := range clients {
		client := bufServe(b, &server{script: []reply{ok("a")}}, c.ic)
		b.Run(c.name, func(b *testing.B) {
			req := &testgrpc.SimpleRequest{}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.UnaryCall(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUnaryInterleaved alternates a bare call and a call through the
// interceptor, call by call, so that the noise of a shared machine falls
// on both alike, and reports the ratio of their median times
// (interceptor/bare) and of their total times.
func BenchmarkUnaryInterleaved(b *testing.B) {
	breakers, _ := grpcx.BreakersPerTarget(retry.BreakerConfig{})
	budgets, _ := grpcx.PerTarget(func() retry.Budget { return &retry.TokenBucket{} })
	for _, cfg := range []struct {
		name string
		cfg  grpcx.Config
	}{
		{"interceptor", grpcx.Config{}},
		{"breaker+budget", grpcx.Config{Breaker: breakers.For, Budget: budgets.For}},
	} {
		b.Run(cfg.name, func(b *testing.B) { interleave(b, cfg.cfg) })
	}
}

func interleave(b *testing.B, cfg grpcx.Config) {
	bare := bufServe(b, &server{script: []reply{ok("a")}}, nil)
	through := bufServe(b, &server{script: []reply{ok("a")}}, newIC(b, cfg))
	req := &testgrpc.SimpleRequest{}
	ctx := context.Background()
	var tb, ti []time.Duration
	for b.Loop() {
		for _, c := range []struct {
			client testgrpc.TestServiceClient
			into   *[]time.Duration
		}{{bare, &tb}, {through, &ti}} {
			start := time.Now()
			if _, err := c.client.UnaryCall(ctx, req); err != nil {
				b.Fatal(err)
			}
			*c.into = append(*c.into, time.Since(start))
		}
	}
	b.ReportMetric(float64(median(ti))/float64(median(tb)), "median-ratio")
	b.ReportMetric(float64(sum(ti))/float64(sum(tb)), "total-ratio")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func sum(d []time.Duration) (t time.Duration) {
	for _, x := range d {
		t += x
	}
	return t
}
