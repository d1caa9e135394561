package grpcx_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"sync/atomic"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// flaky fails its first call with UNAVAILABLE.
type flaky struct {
	testgrpc.UnimplementedTestServiceServer
	calls atomic.Int32
}

func (f *flaky) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if f.calls.Add(1) == 1 {
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return &testgrpc.SimpleResponse{Username: "attempt after " + md.Get(grpcx.PreviousAttemptsKey)[0]}, nil
}

// StreamingInputCall fails the first stream with UNAVAILABLE before
// reading anything, and counts the messages of the others.
func (f *flaky) StreamingInputCall(st grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse]) error {
	if f.calls.Add(1) == 1 {
		return status.Error(codes.Unavailable, "warming up")
	}
	n := int32(0)
	for {
		if _, err := st.Recv(); err != nil {
			return st.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: n})
		}
		n++
	}
}

func startFlaky() (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, &flaky{})
	go s.Serve(lis)
	return lis.Addr().String(), s.Stop
}

// Retries, hedging, breakers and budgets for a gRPC client: one
// Interceptor, installed with one dial option each for unary and stream
// calls.
func Example() {
	addr, stop := startFlaky()
	defer stop()

	breakers, _ := grpcx.BreakersPerTarget(retry.BreakerConfig{FailureRatio: 0.5})
	budgets, _ := grpcx.PerTarget(func() retry.Budget { return &retry.RatioBudget{} })
	ic, err := grpcx.New(grpcx.Config{
		Default: grpcx.Method{Retry: &retry.Policy{MaxAttempts: 3, AttemptTimeout: time.Second}},
		Methods: map[string]grpcx.Method{ // idempotent reads: hedge after 50ms
			"/grpc.testing.TestService/CacheableUnaryCall": {Hedge: &retry.HedgePolicy{Delay: 50 * time.Millisecond}},
		},
		Breaker: breakers.For,
		Budget:  budgets.For,
	})
	if err != nil {
		log.Fatal(err)
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(ic.Unary), grpc.WithChainStreamInterceptor(ic.Stream),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	reply, err := testgrpc.NewTestServiceClient(conn).UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
	fmt.Println(reply.GetUsername(), err)
	// Output: attempt after 1 <nil>
}

// An Interceptor's unary method works on its own too, as one link of a
// chain: here with an invoker that fails once.
func ExampleInterceptor_Unary() {
	var ic grpcx.Interceptor // the zero value: 3 attempts on UNAVAILABLE
	calls := 0
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		calls++
		if calls == 1 {
			return status.Error(codes.Unavailable, "try again")
		}
		return nil
	}
	err := ic.Unary(context.Background(), "/pkg.Service/Method", nil, nil, nil, invoker)
	fmt.Println(calls, err)
	// Output: 2 <nil>
}

func ExamplePushback() {
	d, ok := grpcx.Pushback(metadata.Pairs(grpcx.PushbackKey, "250"))
	fmt.Println(d, ok)
	d, ok = grpcx.Pushback(metadata.Pairs(grpcx.PushbackKey, "-1"))
	fmt.Println(d < 0, ok) // do not retry
	// Output:
	// 250ms true
	// true true
}

func ExampleBreakersPerTarget() {
	breakers, _ := grpcx.BreakersPerTarget(retry.BreakerConfig{ConsecutiveFailures: 5})
	ic, _ := grpcx.New(grpcx.Config{Breaker: breakers.For})
	_ = ic // install with grpc.WithChainUnaryInterceptor(ic.Unary)
	fmt.Println(breakers.For("dns:///a", "/s/m") == breakers.For("dns:///a", "/s/other"))
	// Output: true
}

// A client stream that fails before the server has answered anything is
// retried, and the messages already sent are sent again.
func ExampleInterceptor_Stream() {
	addr, stop := startFlaky()
	defer stop()
	ic, _ := grpcx.New(grpcx.Config{Default: grpcx.Method{Retry: &retry.Policy{Backoff: retry.Constant{}}}})
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainStreamInterceptor(ic.Stream))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	st, err := testgrpc.NewTestServiceClient(conn).StreamingInputCall(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		st.Send(&testgrpc.StreamingInputCallRequest{}) // io.EOF if the attempt failed: the message is kept
	}
	reply, err := st.CloseAndRecv()
	fmt.Println(reply.GetAggregatedPayloadSize(), err)
	// Output: 3 <nil>
}

// A server that sheds load past what its handlers sustain: the limiter
// learns the limit from their latency, and a refused call ends with
// RESOURCE_EXHAUSTED and a pushback that retrying clients honour.
func ExampleShedUnary() {
	limiter, err := retry.NewLimiter(retry.LimiterConfig{})
	if err != nil {
		log.Fatal(err)
	}
	shed, err := grpcx.ShedUnary(limiter)
	if err != nil {
		log.Fatal(err)
	}
	server := grpc.NewServer(grpc.UnaryInterceptor(shed))
	defer server.Stop()
	// Register services on server, then server.Serve(listener).

	// Clients retry RESOURCE_EXHAUSTED only if told to.
	client := grpcx.Config{Default: grpcx.Method{Codes: []codes.Code{codes.Unavailable, codes.ResourceExhausted}}}
	fmt.Println(client.Validate())
	// Output: <nil>
}
