package grpcx_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// grpc.OnFinish is called once per RPC by grpc-go; through the
// interceptor, still once per call, not once per attempt.
func TestHostileOnFinishOncePerCall(t *testing.T) {
	srv := &hookServer{unary: func(_ context.Context, n int) (*testgrpc.SimpleResponse, error) {
		if n < 3 {
			return nil, status.Error(codes.Unavailable, "again")
		}
		return &testgrpc.SimpleResponse{Username: "ok"}, nil
	}}
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: instant(&waits{}, 3)}})
	var finished []error
	_, err := unary(context.Background(), bufServe(t, srv, ic), grpc.OnFinish(func(err error) { finished = append(finished, err) }))
	if err != nil {
		t.Fatal(err)
	}
	if len(finished) != 1 || finished[0] != nil {
		t.Errorf("OnFinish saw %v, want one call ending with nil", finished)
	}
}

// A hedged call's losers end after the call has returned: their OnFinish
// must not run then, on their own goroutines, nor at all.
func TestHostileOnFinishOncePerHedgedCall(t *testing.T) {
	srv := &hookServer{unary: func(ctx context.Context, n int) (*testgrpc.SimpleResponse, error) {
		if n == 1 {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return &testgrpc.SimpleResponse{Username: "second"}, nil
	}}
	ic := newIC(t, hedging())
	returned := make(chan struct{}, 2)
	spy := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		defer func() { returned <- struct{}{} }()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	c := bufServe(t, srv, nil, grpc.WithChainUnaryInterceptor(ic.Unary, spy))
	var finished atomic.Int64
	body, err := unary(context.Background(), c, grpc.OnFinish(func(error) { finished.Add(1) }))
	if err != nil || body != "second" {
		t.Fatalf("got %q, %v", body, err)
	}
	<-returned
	<-returned // the loser too
	if n := finished.Load(); n != 1 {
		t.Errorf("OnFinish called %d times, want 1", n)
	}
}

// A retried stream calls OnFinish once, when the stream ends for good,
// not once per attempt.
func TestHostileOnFinishOncePerStream(t *testing.T) {
	var mu sync.Mutex
	var finished []error
	_, st := retriedInput(t, context.Background(), grpc.OnFinish(func(err error) { mu.Lock(); finished = append(finished, err); mu.Unlock() }))
	st.Send(&testgrpc.StreamingInputCallRequest{})
	if _, err := st.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(finished) != 1 || finished[0] != nil {
		t.Errorf("OnFinish saw %v, want one stream ending with nil", finished)
	}
	mu.Unlock()

	// A caller that cancels instead of reading to the end: once, CANCELED.
	finished = nil
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	retriedInput(t, ctx, grpc.OnFinish(func(err error) {
		mu.Lock()
		finished = append(finished, err)
		mu.Unlock()
		close(done)
	}))
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(finished) != 1 || status.Code(finished[0]) != codes.Canceled {
		t.Errorf("OnFinish saw %v, want one CANCELED", finished)
	}
}
