package grpcx_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry/grpcx"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// reply is what a scripted server answers to one call: a payload, or an
// error with an optional trailer (a pushback, say). Block makes the handler
// wait until the call's context ends.
type reply struct {
	body    string
	code    codes.Code
	trailer metadata.MD
	header  metadata.MD
	block   bool
}

func fail(c codes.Code) reply { return reply{code: c} }
func ok(body string) reply    { return reply{body: body} }

func pushback(c codes.Code, v ...string) reply {
	return reply{code: c, trailer: metadata.MD{grpcx.PushbackKey: v}}
}

// server is a TestService whose unary calls follow a script, one reply
// per call (the last repeats), and which records what it saw.
type server struct {
	testgrpc.UnimplementedTestServiceServer

	mu        sync.Mutex
	script    []reply
	previous  []string // grpc-previous-rpc-attempts of each call ("" if none)
	cancelled int      // blocked calls whose context ended
	calls     atomic.Int64
	started   chan int // receives each call's number, if set

	// streamScript answers the n-th stream: fail before reading anything
	// when its code is not OK; otherwise read every message and answer
	// with their count.
	streamScript []reply
	streamCalls  atomic.Int64
	received     [][]string // the messages of each stream
}

func (s *server) next(ctx context.Context) (int, reply) {
	n := int(s.calls.Add(1))
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.previous = append(s.previous, first(md.Get(grpcx.PreviousAttemptsKey)))
	r := s.script[min(n, len(s.script))-1]
	s.mu.Unlock()
	return n, r
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (s *server) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	n, r := s.next(ctx)
	if s.started != nil {
		s.started <- n
	}
	if r.header != nil {
		grpc.SetHeader(ctx, r.header)
	}
	if r.trailer != nil {
		grpc.SetTrailer(ctx, r.trailer)
	}
	if r.block {
		<-ctx.Done()
		s.mu.Lock()
		s.cancelled++
		s.mu.Unlock()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if r.code != codes.OK {
		return nil, status.Error(r.code, "scripted")
	}
	return &testgrpc.SimpleResponse{Username: r.body}, nil
}

func (s *server) StreamingInputCall(st grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse]) error {
	n := int(s.streamCalls.Add(1))
	md, _ := metadata.FromIncomingContext(st.Context())
	s.mu.Lock()
	s.previous = append(s.previous, first(md.Get(grpcx.PreviousAttemptsKey)))
	r := s.streamScript[min(n, len(s.streamScript))-1]
	s.mu.Unlock()
	if r.trailer != nil {
		st.SetTrailer(r.trailer)
	}
	if r.code != codes.OK {
		return status.Error(r.code, "scripted")
	}
	var got []string
	for {
		m, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		got = append(got, string(m.GetPayload().GetBody()))
	}
	s.mu.Lock()
	s.received = append(s.received, got)
	s.mu.Unlock()
	return st.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: int32(len(got))})
}

// StreamingOutputCall sends one message, echoing the request's payload,
// then fails with the script's code: a committed stream. A reply whose
// body is "before" fails before sending anything.
func (s *server) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, st grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	n := int(s.streamCalls.Add(1))
	s.mu.Lock()
	r := s.streamScript[min(n, len(s.streamScript))-1]
	s.mu.Unlock()
	if r.body == "before" {
		return status.Error(r.code, "scripted")
	}
	if err := st.Send(&testgrpc.StreamingOutputCallResponse{Payload: req.GetPayload()}); err != nil {
		return err
	}
	if r.code != codes.OK {
		return status.Error(r.code, "scripted")
	}
	return nil
}

func (s *server) previousAttempts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.previous...)
}

// serve starts srv on a loopback TCP port and returns its address; it
// stops with the test.
func serve(t testing.TB, srv testgrpc.TestServiceServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(g, srv)
	done := make(chan struct{})
	go func() { defer close(done); g.Serve(lis) }()
	t.Cleanup(func() { g.Stop(); <-done })
	return lis.Addr().String()
}

// dial connects to addr through ic, with extra options; the connection
// closes with the test.
func dial(t testing.TB, addr string, ic *grpcx.Interceptor, extra ...grpc.DialOption) testgrpc.TestServiceClient {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if ic != nil {
		opts = append(opts, ic.DialOptions()...)
	}
	conn, err := grpc.NewClient("passthrough:///"+addr, append(opts, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return testgrpc.NewTestServiceClient(conn)
}

// bufServe serves srv over an in-memory bufconn listener and returns a
// client through ic: no socket, so timing does not depend on the network.
func bufServe(t testing.TB, srv testgrpc.TestServiceServer, ic *grpcx.Interceptor, extra ...grpc.DialOption) testgrpc.TestServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	g := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(g, srv)
	done := make(chan struct{})
	go func() { defer close(done); g.Serve(lis) }()
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
	}
	if ic != nil {
		opts = append(opts, ic.DialOptions()...)
	}
	conn, err := grpc.NewClient("passthrough:///bufnet", append(opts, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); g.Stop(); <-done })
	return testgrpc.NewTestServiceClient(conn)
}

// waits is a retry.Clock that records each wait asked for and ends it at
// once: tests check the waits without sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) Now() time.Time { return time.Now() }
func (w *waits) After(d time.Duration) <-chan time.Time {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	c := make(chan time.Time, 1)
	c <- time.Now()
	return c
}
func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

func unary(ctx context.Context, c testgrpc.TestServiceClient, opts ...grpc.CallOption) (string, error) {
	r, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{}, opts...)
	return r.GetUsername(), err
}

func newIC(t testing.TB, cfg grpcx.Config) *grpcx.Interceptor {
	t.Helper()
	ic, err := grpcx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ic
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}

// FullDuplexCall echoes every message's payload, after failing with the
// script's code (before reading anything) when it is not OK.
func (s *server) FullDuplexCall(st grpc.BidiStreamingServer[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
	n := int(s.streamCalls.Add(1))
	s.mu.Lock()
	r := s.streamScript[min(n, len(s.streamScript))-1]
	s.mu.Unlock()
	if r.code != codes.OK {
		return status.Error(r.code, "scripted")
	}
	for {
		m, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := st.Send(&testgrpc.StreamingOutputCallResponse{Payload: m.GetPayload()}); err != nil {
			return err
		}
	}
}
