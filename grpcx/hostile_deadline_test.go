package grpcx_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// The caller's deadline and the attempt's timeout at the same instant
// (synctest: exactly the same): the caller's wins, nothing is retried,
// and the error does not match ErrAttemptTimeout.
func TestHostileDeadlineAndAttemptTimeoutSameInstant(t *testing.T) {
	for _, hedge := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			cfg := grpcx.Config{Default: grpcx.Method{Retry: &retry.Policy{MaxAttempts: 3, AttemptTimeout: time.Second}}}
			if hedge {
				cfg = grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: time.Second}}}
			}
			ic := newIC(t, cfg)
			var n atomic.Int64
			inv := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				n.Add(1)
				<-ctx.Done()
				return status.FromContextError(ctx.Err()).Err()
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			err := ic.Unary(ctx, "/a/b", nil, new(testgrpc.SimpleResponse), nil, inv)
			if status.Code(err) != codes.DeadlineExceeded || errors.Is(err, retry.ErrAttemptTimeout) {
				t.Errorf("hedge=%v: %v, want DEADLINE_EXCEEDED, not an attempt timeout", hedge, err)
			}
			if !hedge && n.Load() != 1 {
				t.Errorf("%d attempts, want 1", n.Load())
			}
		})
	}
}
