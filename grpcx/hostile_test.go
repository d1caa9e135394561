package grpcx_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// hookServer is a TestService whose handlers are functions a test sets,
// counting the calls of each.
type hookServer struct {
	testgrpc.UnimplementedTestServiceServer
	unary       func(ctx context.Context, n int) (*testgrpc.SimpleResponse, error)
	input       func(st grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse], n int) error
	unaryCalls  atomic.Int64
	streamCalls atomic.Int64
}

func (s *hookServer) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	return s.unary(ctx, int(s.unaryCalls.Add(1)))
}

func (s *hookServer) StreamingInputCall(st grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse]) error {
	return s.input(st, int(s.streamCalls.Add(1)))
}

// drainInput reads a client stream to its end and answers with the count.
func drainInput(st grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse]) error {
	n := 0
	for {
		if _, err := st.Recv(); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		n++
	}
	return st.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: int32(n)})
}

// retriedInput is a client stream, through a Retry of 3 attempts, whose
// server fails the first stream trailers-only (UNAVAILABLE, before it
// reads anything) and counts the messages of the next.
func retriedInput(t *testing.T, ctx context.Context, opts ...grpc.CallOption) (*hookServer, grpc.ClientStreamingClient[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse]) {
	t.Helper()
	srv := &hookServer{input: func(st grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse], n int) error {
		if n == 1 {
			return status.Error(codes.Unavailable, "trailers only")
		}
		return drainInput(st)
	}}
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: instant(&waits{}, 3)}})
	st, err := bufServe(t, srv, ic).StreamingInputCall(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return srv, st
}

// A client-streaming call ends with its one reply (CloseAndRecv): grpc-go
// finishes the stream there, and so must the interceptor's attempt, or the
// breaker never hears of the success (a half-open breaker keeps the probe
// slot for good).
func TestHostileClientStreamSuccessReachesBreaker(t *testing.T) {
	b := retry.Must(&retry.BreakerConfig{ConsecutiveFailures: 3, Classify: grpcx.BreakerOutcome})
	breaker, _ := retry.NewBreaker(*b)
	srv := &hookServer{
		unary: func(context.Context, int) (*testgrpc.SimpleResponse, error) {
			return nil, status.Error(codes.Unavailable, "down")
		},
		input: func(st grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse], _ int) error {
			return drainInput(st)
		},
	}
	ic := newIC(t, grpcx.Config{
		Default: grpcx.Method{Retry: &retry.Policy{MaxAttempts: 1}},
		Breaker: func(string, string) *retry.Breaker { return breaker },
	})
	c := bufServe(t, srv, ic)
	if _, err := unary(context.Background(), c); status.Code(err) != codes.Unavailable {
		t.Fatalf("unary: %v", err)
	}
	if got := breaker.Snapshot().ConsecutiveFailures; got != 1 {
		t.Fatalf("consecutive failures %d after one failure", got)
	}
	if _, err := sendAll(t, c, "a", "b"); err != nil {
		t.Fatal(err)
	}
	if got := breaker.Snapshot().ConsecutiveFailures; got != 0 {
		t.Errorf("consecutive failures %d after a successful client stream, want 0: its success never reached the breaker", got)
	}
}

// Every constructor of this package reports bad input with an error that
// matches both grpcx.ErrInvalid and retry.ErrInvalid, never a panic.
func TestHostileConstructorsInvalid(t *testing.T) {
	bad := retry.BreakerConfig{FailureRatio: 2}
	_, err1 := grpcx.BreakersPerTarget(bad)
	_, err2 := grpcx.BreakersPerMethod(bad)
	_, err3 := grpcx.PerTarget[retry.Budget](nil)
	_, err4 := grpcx.New(grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 99}}})
	for i, err := range []error{err1, err2, err3, err4} {
		if !errors.Is(err, grpcx.ErrInvalid) || !errors.Is(err, retry.ErrInvalid) {
			t.Errorf("%d: %v does not match both ErrInvalid", i+1, err)
		}
	}
}
