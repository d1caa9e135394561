package grpcx_test

import (
	"context"
	"testing"

	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// A6: once the client has received the server's headers, the call is
// committed and is not retried; grpc-go retries only trailers-only
// answers. A server that sends its headers and then fails UNAVAILABLE
// may have acted on the request.
func TestHostileUnaryHeadersThenFailNotRetried(t *testing.T) {
	srv := &hookServer{unary: func(ctx context.Context, n int) (*testgrpc.SimpleResponse, error) {
		if n == 1 {
			grpc.SendHeader(ctx, metadata.Pairs("seen", "yes"))
			return nil, status.Error(codes.Unavailable, "after headers")
		}
		return &testgrpc.SimpleResponse{Username: "again"}, nil
	}}
	ic := newIC(t, grpcx.Config{BuiltinRetries: grpcx.BuiltinDisabled, Default: grpcx.Method{Retry: instant(&waits{}, 3)}})
	var hdr metadata.MD
	_, err := unary(context.Background(), bufServe(t, srv, ic, grpc.WithDisableRetry()), grpc.Header(&hdr))
	if status.Code(err) != codes.Unavailable {
		t.Errorf("code %v (%v), want the committed attempt's UNAVAILABLE", status.Code(err), err)
	}
	if n := srv.unaryCalls.Load(); n != 1 {
		t.Errorf("server saw %d attempts, want 1 (committed by its headers)", n)
	}
	if got := hdr.Get("seen"); len(got) != 1 {
		t.Errorf("caller's header %v, want the attempt's", hdr)
	}
}

// The same, through grpc-go's own retries: the reference behaviour.
func TestHostileUnaryHeadersThenFailBuiltinParity(t *testing.T) {
	srv := &hookServer{unary: func(ctx context.Context, n int) (*testgrpc.SimpleResponse, error) {
		if n == 1 {
			grpc.SendHeader(ctx, metadata.Pairs("seen", "yes"))
			return nil, status.Error(codes.Unavailable, "after headers")
		}
		return &testgrpc.SimpleResponse{Username: "again"}, nil
	}}
	sc := grpc.WithDefaultServiceConfig(`{"methodConfig": [{"name": [{"service": "grpc.testing.TestService"}],
		"retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.001s", "maxBackoff": "0.001s",
		"backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`)
	_, err := unary(context.Background(), bufServe(t, srv, nil, sc))
	if status.Code(err) != codes.Unavailable || srv.unaryCalls.Load() != 1 {
		t.Errorf("grpc-go: %v after %d attempts, want UNAVAILABLE after 1", err, srv.unaryCalls.Load())
	}
}

// A client stream whose server sent headers and then failed is committed:
// the interceptor must not open it again (grpc-go does not).
func TestHostileStreamHeadersThenFailNotRetried(t *testing.T) {
	srv := &hookServer{input: func(st grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse], n int) error {
		if n == 1 {
			st.SendHeader(metadata.Pairs("seen", "yes"))
			return status.Error(codes.Unavailable, "after headers")
		}
		return drainInput(st)
	}}
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: instant(&waits{}, 3)}})
	_, err := sendAll(t, bufServe(t, srv, ic), "a")
	if status.Code(err) != codes.Unavailable {
		t.Errorf("code %v (%v), want UNAVAILABLE", status.Code(err), err)
	}
	if n := srv.streamCalls.Load(); n != 1 {
		t.Errorf("server saw %d streams, want 1 (committed by its headers)", n)
	}
}

// A caller that reads the stream's header first, as many do, of a stream
// whose first attempt fails trailers-only: no header came (Header returns
// nil), so nothing was received and the stream is still retried.
func TestHostileStreamHeaderOfTrailersOnlyDoesNotCommit(t *testing.T) {
	srv, st := retriedInput(t, context.Background())
	if md, err := st.Header(); md != nil || err != nil {
		t.Fatalf("Header: %v, %v; want nothing from a trailers-only answer", md, err)
	}
	if err := st.Send(&testgrpc.StreamingInputCallRequest{}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.CloseAndRecv()
	if err != nil || resp.GetAggregatedPayloadSize() != 1 {
		t.Errorf("CloseAndRecv: %v, %v; want the retried stream's count of 1", resp, err)
	}
	if n := srv.streamCalls.Load(); n != 2 {
		t.Errorf("server saw %d streams, want 2", n)
	}
}

// A caller that takes the stream's Context (to watch it, or for its peer)
// holds the current attempt's: grpc-go commits the stream there, so that
// the context stays the stream's. Retried, it would be cancelled while the
// stream goes on.
func TestHostileStreamContextCommits(t *testing.T) {
	srv, st := retriedInput(t, context.Background())
	ctx := st.Context()
	st.Send(&testgrpc.StreamingInputCallRequest{})
	_, err := st.CloseAndRecv()
	if n := srv.streamCalls.Load(); n != 1 || status.Code(err) != codes.Unavailable {
		t.Errorf("%v after %d streams; want UNAVAILABLE after 1: the caller holds the first attempt's context (done: %v)", err, n, ctx.Err())
	}
}
