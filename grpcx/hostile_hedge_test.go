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
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A hedged call whose first copy fails with a retryable code and whose
// second fails with a fatal one ends with the fatal code: the last
// attempt's status, as the README promises, not the first failure found
// in the joined errors.
func TestHostileHedgeFailureCodeIsTheDecidingOne(t *testing.T) {
	srv := &hookServer{unary: func(_ context.Context, n int) (*testgrpc.SimpleResponse, error) {
		if n == 1 {
			return nil, status.Error(codes.Unavailable, "first")
		}
		return nil, status.Error(codes.InvalidArgument, "second")
	}}
	clk := newManualClock()
	cfg := grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour, Clock: clk}}}
	var tr metadata.MD
	_, err := unary(context.Background(), bufServe(t, srv, newIC(t, cfg)), grpc.Trailer(&tr))
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("code %v (%v), want INVALID_ARGUMENT, the attempt that ended the call", status.Code(err), err)
	}
	if s, _ := status.FromError(err); s.Code() != codes.InvalidArgument {
		t.Errorf("status.FromError: %v", s)
	}
}
