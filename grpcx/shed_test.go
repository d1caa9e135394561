package grpcx_test

import (
	"context"
	"errors"
	"net"
	"strconv"
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

// serveShed serves srv on loopback behind ShedUnary(a), itself behind
// the interceptors outer if any, and returns a client through ic.
func serveShed(t *testing.T, srv testgrpc.TestServiceServer, a retry.Admitter, ic *grpcx.Interceptor, outer ...grpc.UnaryServerInterceptor) testgrpc.TestServiceClient {
	t.Helper()
	shed, err := grpcx.ShedUnary(a)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.ChainUnaryInterceptor(append(outer, shed)...))
	testgrpc.RegisterTestServiceServer(g, srv)
	done := make(chan struct{})
	go func() { defer close(done); g.Serve(lis) }()
	t.Cleanup(func() { g.Stop(); <-done })
	return dial(t, lis.Addr().String(), ic)
}

// A call over the limit ends with RESOURCE_EXHAUSTED and the refusal's
// wait as pushback; a client told to retry RESOURCE_EXHAUSTED waits that
// long and gets through once the slot is free.
func TestShedUnaryPushesBack(t *testing.T) {
	bh, err := retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1, RetryAfter: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{script: []reply{{block: true}, ok("served")}, started: make(chan int, 4)}
	plain := serveShed(t, srv, bh, nil)

	// The first call holds the only slot until it is cancelled.
	hold, release := context.WithCancel(context.Background())
	held := make(chan error, 1)
	go func() { _, err := unary(hold, plain); held <- err }()
	<-srv.started

	var trailer metadata.MD
	_, err = plain.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second call: %v, want RESOURCE_EXHAUSTED", err)
	}
	if got := trailer.Get(grpcx.PushbackKey); len(got) != 1 || got[0] != strconv.Itoa(1500) {
		t.Fatalf("pushback trailer %q, want [1500]", got)
	}
	if srv.calls.Load() != 1 {
		t.Fatalf("the handler saw %d calls, want only the first", srv.calls.Load())
	}

	// A retrying client waits the pushback, during which the slot frees.
	clk := &freeingClock{free: func() {
		release()
		for { // until the held call's handler has returned its slot
			if p, err := bh.Acquire(context.Background()); err == nil {
				p.Done(context.Canceled)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}}
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{
		Retry: &retry.Policy{MaxAttempts: 2, Clock: clk},
		Codes: []codes.Code{codes.ResourceExhausted},
	}})
	client := serveShed(t, srv, bh, ic)
	got, err := unary(context.Background(), client)
	if err != nil || got != "served" {
		t.Fatalf("retried call = %q, %v; want served", got, err)
	}
	if w := clk.all(); len(w) != 1 || w[0] != 1500*time.Millisecond {
		t.Fatalf("the client waited %v, want once the 1.5s pushback", w)
	}
	if err := <-held; status.Code(err) != codes.Canceled {
		t.Fatalf("held call: %v, want CANCELED", err)
	}
}

// freeingClock records each wait, and ends it once free has returned.
type freeingClock struct {
	waits
	free func()
}

func (c *freeingClock) After(d time.Duration) <-chan time.Time {
	ch := c.waits.After(d)
	c.free()
	return ch
}

func TestShedUnaryBadInput(t *testing.T) {
	for name, a := range map[string]retry.Admitter{
		"nil":           nil,
		"nil *Limiter":  (*retry.Limiter)(nil),
		"nil *Bulkhead": (*retry.Bulkhead)(nil),
	} {
		if _, err := grpcx.ShedUnary(a); !errors.Is(err, retry.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
