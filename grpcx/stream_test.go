package grpcx_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

func sendAll(t *testing.T, c testgrpc.TestServiceClient, msgs ...string) (*testgrpc.StreamingInputCallResponse, error) {
	t.Helper()
	st, err := c.StreamingInputCall(context.Background())
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		err := st.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: []byte(m)}})
		if err == io.EOF {
			break // the stream ended: CloseAndRecv says how
		}
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	return st.CloseAndRecv()
}

func TestStreamRetriedWhileUncommitted(t *testing.T) {
	srv := &server{streamScript: []reply{fail(codes.Unavailable), fail(codes.Unavailable), ok("")}}
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: instant(&waits{}, 3)}})
	resp, err := sendAll(t, dial(t, serve(t, srv), ic), "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAggregatedPayloadSize() != 2 {
		t.Errorf("server counted %d messages, want 2", resp.GetAggregatedPayloadSize())
	}
	srv.mu.Lock()
	received := srv.received
	srv.mu.Unlock()
	if len(received) != 1 || !slices.Equal(received[0], []string{"a", "b"}) {
		t.Errorf("server received %q, want [[a b]] once", received)
	}
	if got := srv.previousAttempts(); !slices.Equal(got, []string{"", "1", "2"}) {
		t.Errorf("grpc-previous-rpc-attempts %q", got)
	}
}

func TestStreamNotRetriedOnceCommitted(t *testing.T) {
	srv := &server{streamScript: []reply{fail(codes.Unavailable), ok("")}}
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: instant(&waits{}, 3)}})
	c := dial(t, serve(t, srv), ic)
	st, err := c.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatalf("first message: %v", err)
	}
	if _, err := st.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("after the first message: %v, want UNAVAILABLE, not retried", err)
	}
	if n := srv.streamCalls.Load(); n != 1 {
		t.Errorf("server saw %d streams, want 1", n)
	}
}

// TestStreamNotRetried: a stream that sent more than the replay buffer
// holds, or that failed with a code not listed, gets one attempt.
func TestStreamNotRetried(t *testing.T) {
	cases := []struct {
		name      string
		code      codes.Code
		maxReplay int
	}{
		{"past the replay buffer", codes.Unavailable, 8},
		{"code not listed", codes.InvalidArgument, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := &server{streamScript: []reply{fail(tc.code), ok("")}}
			ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: instant(&waits{}, 3), MaxReplayBytes: tc.maxReplay}})
			_, err := sendAll(t, dial(t, serve(t, srv), ic), "more than eight bytes")
			if status.Code(err) != tc.code {
				t.Fatalf("got %v, want %v, not retried", err, tc.code)
			}
			if n := srv.streamCalls.Load(); n != 1 {
				t.Errorf("server saw %d streams, want 1", n)
			}
		})
	}
}

func TestStreamCreationRetriedAndBreaker(t *testing.T) {
	// Nothing listens: every stream fails to start with UNAVAILABLE.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	var created atomic.Int64
	spy := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		created.Add(1)
		return streamer(ctx, desc, cc, method, opts...)
	}
	b, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 3, Classify: grpcx.BreakerOutcome})
	ic := newIC(t, grpcx.Config{
		Default: grpcx.Method{Retry: instant(&waits{}, 3)},
		Breaker: func(string, string) *retry.Breaker { return b },
	})
	c := dial(t, addr, ic, grpc.WithChainStreamInterceptor(spy))
	if _, err := c.StreamingInputCall(context.Background()); status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v, want UNAVAILABLE", err)
	}
	if n := created.Load(); n != 3 {
		t.Errorf("%d attempts to create the stream, want 3", n)
	}
	_, err = c.StreamingInputCall(context.Background())
	if status.Code(err) != codes.Unavailable || !errors.Is(err, retry.ErrBreakerOpen) {
		t.Errorf("with the breaker open: %v, want UNAVAILABLE from the breaker", err)
	}
	if n := created.Load(); n != 3 {
		t.Errorf("%d attempts in all, want 3: the open breaker fails fast", n)
	}
}

// TestStreamCancelReleasesProbe: a caller that cancels a stream instead of
// reading it to its end must not keep a half-open breaker's probe slot.
func TestStreamCancelReleasesProbe(t *testing.T) {
	srv := &server{streamScript: []reply{ok("")}}
	clk := &stepClock{now: time.Unix(1e9, 0)}
	b, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk})
	done, _ := b.Allow()
	done(errors.New("trip"))
	clk.add(2 * time.Second) // the next call is the one probe
	ic := newIC(t, grpcx.Config{Breaker: func(string, string) *retry.Breaker { return b }})
	c := dial(t, serve(t, srv), ic)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := c.StreamingInputCall(ctx); err != nil {
		t.Fatal(err)
	}
	if s := b.Snapshot(); s.State != retry.BreakerHalfOpen || s.Probes != 1 {
		t.Fatalf("breaker %v with %d probes, want half-open with the stream's", s.State, s.Probes)
	}
	cancel()
	waitFor(t, func() bool { return b.Snapshot().Probes == 0 })
	if _, err := c.StreamingInputCall(context.Background()); err != nil {
		t.Errorf("after the cancelled probe: %v; its slot should be free", err)
	}
}

// stepClock is a retry.Clock whose time moves only when told.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
func (c *stepClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }
func (c *stepClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestStreamBudgetUnderFailingServer: the budget caps stream retries as it
// caps unary ones, counting each stream once.
func TestStreamBudgetUnderFailingServer(t *testing.T) {
	srv := &server{streamScript: []reply{fail(codes.Unavailable)}}
	budget := must2(retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.1, MinPerSecond: retry.None}))
	ic := newIC(t, grpcx.Config{
		Default: grpcx.Method{Retry: instant(&waits{}, 5)},
		Budget:  func(string, string) retry.Budget { return budget },
	})
	c := dial(t, serve(t, srv), ic)
	const streams = 100
	for range streams {
		if _, err := sendAll(t, c, "a"); status.Code(err) != codes.Unavailable {
			t.Fatalf("got %v", err)
		}
	}
	if n := srv.streamCalls.Load(); float64(n) > 1.1*streams {
		t.Errorf("server saw %d stream attempts for %d streams, over 1.1×", n, streams)
	}
}

// TestStreamSuccessCountsOnce: a stream that succeeds gives its budget
// one success, not one for opening and one for receiving.
func TestStreamSuccessCountsOnce(t *testing.T) {
	srv := &server{streamScript: []reply{ok("")}}
	b := &countingBudget{}
	ic := newIC(t, grpcx.Config{Budget: func(string, string) retry.Budget { return b }})
	if _, err := sendAll(t, dial(t, serve(t, srv), ic), "a"); err != nil {
		t.Fatal(err)
	}
	if b.first.Load() != 1 || b.ok.Load() != 1 || b.failed.Load() != 0 {
		t.Errorf("budget saw %d first, %d successes, %d failures; want 1, 1, 0", b.first.Load(), b.ok.Load(), b.failed.Load())
	}
}

type countingBudget struct{ first, ok, failed, extra atomic.Int64 }

func (b *countingBudget) First()      { b.first.Add(1) }
func (b *countingBudget) Extra() bool { b.extra.Add(1); return true }
func (b *countingBudget) Result(ok bool) {
	if ok {
		b.ok.Add(1)
	} else {
		b.failed.Add(1)
	}
}

// TestServerStreamRetriedBeforeFirstMessage: a server stream that fails
// before its first message is retried with its request sent again.
func TestServerStreamRetriedBeforeFirstMessage(t *testing.T) {
	srv := &server{streamScript: []reply{{code: codes.Unavailable, body: "before"}, ok("")}}
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: instant(&waits{}, 3)}})
	c := dial(t, serve(t, srv), ic)
	st, err := c.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: []byte("req")}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Recv()
	if err != nil || string(m.GetPayload().GetBody()) != "req" {
		t.Fatalf("got %v, %v; want the request echoed", m, err)
	}
	if _, err := st.Recv(); err != io.EOF {
		t.Fatalf("end: %v, want io.EOF", err)
	}
	if n := srv.streamCalls.Load(); n != 2 {
		t.Errorf("server saw %d streams, want 2", n)
	}
}

// TestBidiStreamRetriedWhileSending: a bidirectional stream fails while
// another goroutine sends; the messages sent before the first reply are
// sent again in order, and every reply comes back once.
func TestBidiStreamRetriedWhileSending(t *testing.T) {
	for range 10 {
		srv := &server{streamScript: []reply{fail(codes.Unavailable), ok("")}}
		ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: instant(&waits{}, 3)}})
		st, err := dial(t, serve(t, srv), ic).FullDuplexCall(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		const msgs = 5
		sent := make(chan error, 1)
		go func() {
			for i := range msgs {
				if err := st.Send(&testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: []byte{byte('a' + i)}}}); err != nil {
					sent <- err
					return
				}
			}
			sent <- st.CloseSend()
		}()
		var got []byte
		for {
			m, err := st.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			got = append(got, m.GetPayload().GetBody()...)
		}
		if err := <-sent; err != nil {
			t.Fatalf("Send: %v", err)
		}
		if string(got) != "abcde" {
			t.Fatalf("echoed %q, want abcde", got)
		}
	}
}
