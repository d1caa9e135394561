package grpcx_test

import (
	"context"
	"testing"

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
