// Package grpcx gives gRPC clients the retries, hedging, circuit breakers
// and retry budgets of package retry, as client interceptors:
//
//	ic, err := grpcx.New(grpcx.Config{}) // 3 attempts on UNAVAILABLE for every method
//	conn, err := grpc.NewClient(target, creds,
//		grpc.WithChainUnaryInterceptor(ic.Unary), grpc.WithChainStreamInterceptor(ic.Stream))
//
// A unary call is retried on the codes its Method lists (UNAVAILABLE by
// default), never for the caller's own deadline or cancellation; a server's
// grpc-retry-pushback-ms trailer replaces the backoff (a negative or
// malformed one stops the retries, as gRFC A6 says); attempts after the
// first carry grpc-previous-rpc-attempts. A Method with a Hedge policy sends
// copies of a slow call, each into a reply of its own, and copies the
// winner's into the caller's. Every attempt asks the target's Breaker, and
// every extra attempt its Budget.
//
// A stream is retried only while nothing has been received on it and what
// was sent fits the replay buffer (see Method.MaxReplayBytes), as grpc-go's
// own retries do; streams are never hedged.
//
// For servers, ShedUnary is a unary server interceptor that sheds load
// through a retry.Limiter or retry.Bulkhead, answering a refused call with
// RESOURCE_EXHAUSTED and a pushback that these clients honour.
//
// # grpc-go's own retries
//
// grpc-go retries a method itself when the connection's service config gives
// it a retryPolicy, beneath the interceptor: with both, attempts multiply. By
// default grpcx makes one attempt for such a method and leaves retrying to
// grpc-go (see BuiltinRetries); dial with grpc.WithDisableRetry and set
// Config.BuiltinRetries to BuiltinDisabled to have grpcx retry instead.
// grpc-go's transparent retries (of an attempt that never reached a server's
// handler) happen either way, and are invisible to the interceptor.
package grpcx
