package grpcx_test

import (
	"context"
	"fmt"
	"sync"
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

// TestRetriedCallsConcurrent: 20 goroutines share one Interceptor (whose
// call state is recycled between calls) against a server that fails every
// other call; each caller's reply and trailer are its own.
func TestRetriedCallsConcurrent(t *testing.T) {
	var n atomic.Int64
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: &retry.Policy{MaxAttempts: 10, Backoff: retry.Constant{}}}})
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			for i := range 100 {
				want := fmt.Sprint(g, "/", i)
				out := new(testgrpc.SimpleResponse)
				var tr metadata.MD
				err := ic.Unary(context.Background(), "/s/m", &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte(want)}}, out, nil,
					func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
						if n.Add(1)%2 == 0 {
							return status.Error(codes.Unavailable, "every other")
						}
						reply.(*testgrpc.SimpleResponse).Username = string(req.(*testgrpc.SimpleRequest).GetPayload().GetBody())
						for _, o := range opts {
							if tro, ok := o.(grpc.TrailerCallOption); ok {
								*tro.TrailerAddr = metadata.Pairs("echo", want)
							}
						}
						return nil
					}, grpc.Trailer(&tr))
				if err != nil || out.Username != want || tr.Get("echo")[0] != want {
					t.Errorf("got %q, trailer %v, %v; want %q", out.Username, tr, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestHedgeRetryableCodeStartsNextAtOnce(t *testing.T) {
	srv := &server{script: []reply{fail(codes.Unavailable), ok("second")}}
	clk := newManualClock() // never fired: the delay never passes
	cfg := grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour, Clock: clk}}}
	body, err := unary(context.Background(), bufServe(t, srv, newIC(t, cfg)))
	if err != nil || body != "second" {
		t.Fatalf("got %q, %v", body, err)
	}
}

func TestHedgeFailureGivesLastTrailer(t *testing.T) {
	srv := &server{script: []reply{{code: codes.Unavailable, trailer: metadata.Pairs("who", "1")}, {code: codes.Unavailable, trailer: metadata.Pairs("who", "2")}}}
	clk := newManualClock()
	cfg := grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour, Clock: clk}}}
	var tr metadata.MD
	_, err := unary(context.Background(), bufServe(t, srv, newIC(t, cfg)), grpc.Trailer(&tr))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("code %v (%v)", status.Code(err), err)
	}
	if got := tr.Get("who"); len(got) != 1 || got[0] != "2" {
		t.Errorf("trailer who=%q, want the last failed attempt's [2]", got)
	}
}

func TestBreakersPerMethodIsolated(t *testing.T) {
	srv := &server{script: []reply{fail(codes.Unavailable)}}
	breakers, _ := grpcx.BreakersPerMethod(retry.BreakerConfig{ConsecutiveFailures: 1})
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: &retry.Policy{MaxAttempts: 1}}, Breaker: breakers.For})
	c := dial(t, serve(t, srv), ic)
	unary(context.Background(), c) // trips UnaryCall's breaker
	if _, err := c.EmptyCall(context.Background(), &testgrpc.Empty{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("EmptyCall: %v; its breaker is its own", err)
	}
	if breakers.For("x", "/a/b") == breakers.For("x", "/a/c") {
		t.Error("one breaker for two methods")
	}
}

func TestStreamOfHedgedMethodMadeOnce(t *testing.T) {
	srv := &server{streamScript: []reply{fail(codes.Unavailable), ok("")}}
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{}}})
	if _, err := sendAll(t, dial(t, serve(t, srv), ic), "a"); status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v", err)
	}
	if n := srv.streamCalls.Load(); n != 1 {
		t.Errorf("server saw %d streams, want 1", n)
	}
}

// TestHedgeNonProtoReplyMadeOnce: a reply that is not a proto message
// cannot be copied from a hedged attempt: the call is made once.
func TestHedgeNonProtoReplyMadeOnce(t *testing.T) {
	ic := newIC(t, hedging())
	calls := 0
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		calls++
		return status.Error(codes.Unavailable, "down")
	}
	var reply struct{ Name string }
	err := ic.Unary(context.Background(), "/s/m", nil, &reply, nil, invoker)
	if status.Code(err) != codes.Unavailable || calls != 1 {
		t.Errorf("%d calls, %v; want 1 call, UNAVAILABLE", calls, err)
	}
}
