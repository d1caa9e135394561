package grpcx_test

import (
	"context"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// The first call of a connection is made before it knows its service
// config: a hedged method whose config gives it a retryPolicy is hedged,
// and grpc-go retries every copy (3 copies × 3 attempts). Once the first
// copy has gone out the config is known: no further copy may start.
func TestHostileFirstHedgedCallNotMultipliedByBuiltinRetries(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	srv := &hookServer{unary: func(_ context.Context, n int) (*testgrpc.SimpleResponse, error) {
		if n == 1 {
			close(started)
			<-release
		}
		return nil, status.Error(codes.Unavailable, "down")
	}}
	sc := grpc.WithDefaultServiceConfig(`{"methodConfig": [{"name": [{"service": "grpc.testing.TestService"}],
		"retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.001s", "maxBackoff": "0.001s",
		"backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`)
	clk := newManualClock()
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: time.Hour, Clock: clk}}})
	c := bufServe(t, srv, ic, sc)
	errc := make(chan error, 1)
	go func() { _, err := unary(context.Background(), c); errc <- err }()
	<-started   // the first copy reached the server: the config is known
	clk.fire(0) // the hedge delay passes: a second copy may start
	// Give a second copy a moment to reach the server while the first is
	// held (it does at once if made); with the fix none ever does, so
	// this wait can only miss the bug, never fail a correct build.
	for i := 0; i < 10 && srv.unaryCalls.Load() < 2; i++ {
		time.Sleep(time.Millisecond)
	}
	close(release)
	err := <-errc
	if status.Code(err) != codes.Unavailable {
		t.Errorf("code %v (%v)", status.Code(err), err)
	}
	if n := srv.unaryCalls.Load(); n != 3 {
		t.Errorf("server saw %d attempts, want grpc-go's 3", n)
	}
}
