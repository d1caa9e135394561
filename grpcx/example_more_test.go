package grpcx_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// DialOptions installs the interceptors in one go, in place of
// grpc.WithChainUnaryInterceptor and grpc.WithChainStreamInterceptor.
func ExampleInterceptor_DialOptions() {
	addr, stop := startFlaky()
	defer stop()

	var ic grpcx.Interceptor // the zero value: 3 attempts on UNAVAILABLE
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, ic.DialOptions()...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	reply, err := testgrpc.NewTestServiceClient(conn).UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
	fmt.Println(reply.GetUsername(), err)
	// Output: attempt after 1 <nil>
}

// One breaker per target and method, for a server whose methods fail
// independently: a sick method does not trip the others.
func ExampleBreakersPerMethod() {
	breakers, err := grpcx.BreakersPerMethod(retry.BreakerConfig{ConsecutiveFailures: 5})
	if err != nil {
		log.Fatal(err)
	}
	_, err = grpcx.New(grpcx.Config{Breaker: breakers.For})
	fmt.Println(err, breakers.For("dns:///shop", "/shop.Catalog/Get") == breakers.For("dns:///shop", "/shop.Catalog/List"))
	// Output: <nil> false
}

// One retry budget per target and method.
func ExamplePerMethod() {
	budgets, err := grpcx.PerMethod(func() retry.Budget { return &retry.TokenBucket{} })
	if err != nil {
		log.Fatal(err)
	}
	_, err = grpcx.New(grpcx.Config{Budget: budgets.For})
	fmt.Println(err, budgets.For("dns:///shop", "/shop.Catalog/Get") == budgets.For("dns:///shop", "/shop.Catalog/Get"))
	// Output: <nil> true
}

// One retry budget per target, shared by all its methods.
func ExamplePerTarget() {
	budgets, err := grpcx.PerTarget(func() retry.Budget { return &retry.RatioBudget{} })
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(budgets.For("dns:///shop", "/shop.Catalog/Get") == budgets.For("dns:///shop", "/shop.Catalog/List"),
		budgets.For("dns:///shop", "/shop.Catalog/Get") == budgets.For("dns:///billing", "/shop.Catalog/Get"))
	// Output: true false
}

// Code finds the gRPC status inside the errors that the Interceptor
// returns, wrapped or not.
func ExampleCode() {
	err := fmt.Errorf("loading the cart: %w", status.Error(codes.NotFound, "no such cart"))
	fmt.Println(grpcx.Code(err), grpcx.Code(context.DeadlineExceeded), grpcx.Code(nil))
	// Output: NotFound DeadlineExceeded OK
}

// Retryable is the test the Interceptor applies to each attempt's error,
// for code that retries on its own terms.
func ExampleRetryable() {
	retried := []codes.Code{codes.Unavailable, codes.ResourceExhausted}
	fmt.Println(
		grpcx.Retryable(status.Error(codes.Unavailable, "draining"), retried),
		grpcx.Retryable(status.Error(codes.InvalidArgument, "bad id"), retried),
		grpcx.Retryable(nil, retried),
	)
	// Output: true false false
}

// WithPushback turns a server's grpc-retry-pushback-ms trailer into the
// wait that retry loops honour.
func ExampleWithPushback() {
	trailer := metadata.Pairs(grpcx.PushbackKey, "1500")
	err := grpcx.WithPushback(status.Error(codes.ResourceExhausted, "busy"), trailer)
	d, ok := retry.RequestedDelay(err)
	fmt.Println(d, ok, grpcx.Code(err))
	// Output: 1.5s true ResourceExhausted
}

// BreakerOutcome is the default Classify of BreakersPerTarget: a server
// that answers, even "not found", is healthy; one that is unreachable or
// failing is not; a cancellation says nothing.
func ExampleBreakerOutcome() {
	for _, err := range []error{
		status.Error(codes.NotFound, "no such item"),
		status.Error(codes.Unavailable, "connection refused"),
		status.Error(codes.Canceled, "caller left"),
		errors.New("not a status"),
	} {
		fmt.Println(grpcx.BreakerOutcome(err))
	}
	// Output:
	// success
	// failure
	// ignored
	// failure
}
