package grpcx_test

import (
	"context"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
)

// Hostile tests of ShedUnary (issue 14).

// TestHostileShedUnaryQueuedClientsLeave: clients whose deadlines end
// while they wait in a Limiter's queue get DEADLINE_EXCEEDED, never reach
// the handler, leave no slot or place taken, and teach the limiter
// nothing; the next call is served.
func TestHostileShedUnaryQueuedClientsLeave(t *testing.T) {
	l, err := retry.NewLimiter(retry.LimiterConfig{InitialLimit: 1, MaxLimit: 1, MaxWaiters: 8})
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{script: []reply{{block: true}, ok("served")}, started: make(chan int, 16)}
	c := serveShed(t, srv, l, nil)
	hold, release := context.WithCancel(context.Background())
	held := make(chan error, 1)
	go func() { _, err := unary(hold, c); held <- err }()
	<-srv.started
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			if _, err := unary(ctx, c); status.Code(err) != codes.DeadlineExceeded {
				t.Errorf("queued call: %v, want DEADLINE_EXCEEDED", err)
			}
		})
	}
	wg.Wait()
	release()
	if err := <-held; status.Code(err) != codes.Canceled {
		t.Fatalf("held call: %v", err)
	}
	waitFor(t, func() bool { return l.InFlight() == 0 })
	if got, err := unary(context.Background(), c); err != nil || got != "served" {
		t.Fatalf("after the queue emptied: %q, %v", got, err)
	}
	if n := srv.calls.Load(); n != 2 {
		t.Errorf("the handler saw %d calls, want 2 (the queued ones never reach it)", n)
	}
	if l.Limit() != 1 || l.InFlight() != 0 {
		t.Errorf("limit %d, %d in flight", l.Limit(), l.InFlight())
	}
}

// TestHostileShedUnaryHugePushback: a refusal that asks for the longest
// wait a Duration holds sends it in milliseconds, and a client told to
// retry RESOURCE_EXHAUSTED stops at once (the wait is over its MaxAfter)
// instead of retrying hot.
func TestHostileShedUnaryHugePushback(t *testing.T) {
	bh, err := retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1, RetryAfter: time.Duration(math.MaxInt64)})
	if err != nil {
		t.Fatal(err)
	}
	held, err := bh.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Done(nil)
	srv := &server{script: []reply{ok("served")}}
	var clk waits
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{
		Retry: &retry.Policy{MaxAttempts: 5, Clock: &clk},
		Codes: []codes.Code{codes.ResourceExhausted},
	}})
	c := serveShed(t, srv, bh, ic)
	var trailer metadata.MD
	_, err = c.UnaryCall(context.Background(), nil, grpc.Trailer(&trailer))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("call: %v, want RESOURCE_EXHAUSTED", err)
	}
	want := strconv.FormatInt(math.MaxInt64/int64(time.Millisecond), 10)
	if got := trailer.Get(grpcx.PushbackKey); len(got) != 1 || got[0] != want {
		t.Errorf("pushback %q, want [%s]", got, want)
	}
	if w := clk.all(); len(w) != 0 || srv.calls.Load() != 0 {
		t.Errorf("client waited %v, handler saw %d calls; want no wait and none", w, srv.calls.Load())
	}
}

// panicking is a TestService whose unary handler panics.
type panicking struct{ server }

func (p *panicking) UnaryCall(context.Context, *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	panic("handler bug")
}

// TestHostileShedUnaryHandlerPanics: behind a recovering interceptor, a
// handler that panics frees its slot and is no sample.
func TestHostileShedUnaryHandlerPanics(t *testing.T) {
	l, err := retry.NewLimiter(retry.LimiterConfig{InitialLimit: 1, MaxLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	recoverer := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = status.Errorf(codes.Internal, "panic: %v", r)
			}
		}()
		return h(ctx, req)
	}
	c := serveShed(t, &panicking{}, l, nil, recoverer)
	for range 3 { // a leaked slot refuses the second
		if _, err := unary(context.Background(), c); status.Code(err) != codes.Internal {
			t.Fatalf("call: %v, want INTERNAL from the recovered panic", err)
		}
	}
	if l.InFlight() != 0 {
		t.Errorf("%d in flight", l.InFlight())
	}
}
