package grpcx_test

import (
	"context"
	"errors"
	"sync/atomic"
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

// noExtra is a budget that refuses every extra attempt.
type noExtra struct{}

func (noExtra) First()      {}
func (noExtra) Extra() bool { return false }
func (noExtra) Result(bool) {}

// heldClock is a breaker's clock whose Now blocks, once armed, until the
// test lets it go: an attempt then sits inside the breaker's Allow.
type heldClock struct {
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (c *heldClock) Now() time.Time {
	if c.armed.CompareAndSwap(true, false) {
		c.entered <- struct{}{}
		<-c.release
	}
	return time.Now()
}
func (c *heldClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// A hedged call whose first attempt an open breaker refuses, after the
// budget has refused the next copy, fails with UNAVAILABLE, as the README
// promises: the core then gives the budget as the Reason, and the
// *BreakerError only in Last.
func TestHostileHedgeBreakerAfterBudgetIsUnavailable(t *testing.T) {
	srv := &hookServer{unary: func(context.Context, int) (*testgrpc.SimpleResponse, error) {
		return nil, status.Error(codes.Unavailable, "down")
	}}
	bclk := &heldClock{entered: make(chan struct{}), release: make(chan struct{})}
	breaker, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Hour, Classify: grpcx.BreakerOutcome, Clock: bclk})
	hclk := newManualClock()
	cfg := grpcx.Config{
		Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: time.Hour, Clock: hclk}},
		Breaker: func(string, string) *retry.Breaker { return breaker },
		Budget:  func(string, string) retry.Budget { return noExtra{} },
	}
	c := bufServe(t, srv, newIC(t, cfg))
	unary(context.Background(), c) // trips the breaker
	bclk.armed.Store(true)
	errc := make(chan error, 1)
	go func() { _, err := unary(context.Background(), c); errc <- err }()
	<-bclk.entered // attempt 1 is in the breaker's Allow
	hclk.fire(1)   // the hedge delay passes: the budget refuses copy 2
	close(bclk.release)
	err := <-errc
	if status.Code(err) != codes.Unavailable {
		t.Errorf("code %v (%v), want UNAVAILABLE", status.Code(err), err)
	}
	if _, ok := errors.AsType[*retry.BreakerError](err); !ok {
		t.Errorf("%v does not reach the *retry.BreakerError", err)
	}
}
