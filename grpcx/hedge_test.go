package grpcx_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// hedging makes every method hedged: 2 attempts, the second after 1ms.
func hedging() grpcx.Config {
	return grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond}}}
}

// waitCancelled waits until the server has seen n blocked calls end.
func waitCancelled(t *testing.T, srv *server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		srv.mu.Lock()
		got := srv.cancelled
		srv.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server saw %d of %d losers cancelled", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHedgeWinnerReplyAndMetadata(t *testing.T) {
	srv := &server{script: []reply{
		{block: true, header: metadata.Pairs("who", "first"), trailer: metadata.Pairs("who", "first")},
		{body: "second", header: metadata.Pairs("who", "second"), trailer: metadata.Pairs("who", "second")},
	}}
	c := dial(t, serve(t, srv), newIC(t, hedging()))
	var header, trailer metadata.MD
	r, err := c.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if r.GetUsername() != "second" {
		t.Errorf("reply %v, want the second attempt's", r)
	}
	if got := header.Get("who"); len(got) != 1 || got[0] != "second" {
		t.Errorf("header who=%q, want [second]", got)
	}
	if got := trailer.Get("who"); len(got) != 1 || got[0] != "second" {
		t.Errorf("trailer who=%q, want [second]", got)
	}
	waitCancelled(t, srv, 1)
	got := srv.previousAttempts()
	slices.Sort(got) // the two attempts may reach the server in either order
	if len(got) != 2 || got[0] != "" || got[1] != "1" {
		t.Errorf("grpc-previous-rpc-attempts %q, want [\"\" 1]", got)
	}
}

// TestHedgeFreshReplyPerAttempt calls the interceptor directly with a
// reply the caller filled, and an invoker that writes each attempt's reply:
// the caller's ends up a copy of the winner's, never a mix.
func TestHedgeFreshReplyPerAttempt(t *testing.T) {
	ic := newIC(t, hedging())
	var mu sync.Mutex
	seen := map[any]bool{}
	release := make(chan struct{})
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		mu.Lock()
		if seen[reply] {
			mu.Unlock()
			t.Error("two attempts got the same reply message")
			return nil
		}
		seen[reply] = true
		mu.Unlock()
		r := reply.(*testgrpc.SimpleResponse)
		a, _ := retry.AttemptFrom(ctx)
		if a.Number == 1 {
			r.Username = "first-partial"
			select {
			case <-ctx.Done():
			case <-release:
			}
			return status.FromContextError(ctx.Err()).Err()
		}
		r.Username = "second"
		return nil
	}
	out := &testgrpc.SimpleResponse{Username: "junk", OauthScope: "junk"}
	err := ic.Unary(context.Background(), "/grpc.testing.TestService/UnaryCall", &testgrpc.SimpleRequest{}, out, nil, invoker)
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(out, &testgrpc.SimpleResponse{Username: "second"}) {
		t.Errorf("reply %v, want {Username: second}", out)
	}
	if seen[any(out)] {
		t.Error("an attempt unmarshalled into the caller's reply")
	}
}

func TestHedgeConcurrentCalls(t *testing.T) {
	srv := &server{script: []reply{ok("a")}}
	c := dial(t, serve(t, srv), newIC(t, hedging()))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 10 {
				var tr metadata.MD
				r, err := c.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}, grpc.Trailer(&tr))
				if err != nil || r.GetUsername() != "a" {
					t.Errorf("got %v, %v", r, err)
				}
			}
		})
	}
	wg.Wait()
}

func TestHedgeFatalCodeCancelsAll(t *testing.T) {
	srv := &server{script: []reply{{block: true}, fail(codes.InvalidArgument)}}
	c := dial(t, serve(t, srv), newIC(t, hedging()))
	_, err := unary(context.Background(), c)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("code %v, want InvalidArgument (%v)", status.Code(err), err)
	}
	waitCancelled(t, srv, 1)
}

func TestHedgeNegativePushbackStopsNewCopiesOnly(t *testing.T) {
	// The first attempt is slow and succeeds; the second is pushed back
	// with "do not retry": no third copy starts, and the first still wins.
	srv := &server{script: []reply{{body: "first"}, pushback(codes.Unavailable, "-1"), ok("third")}, started: make(chan int, 3)}
	release := make(chan struct{})
	clk := newManualClock()
	cfg := grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: time.Hour, Clock: clk}}}
	// spy, inside the interceptor, sees each attempt come back.
	returned := make(chan error, 3)
	spy := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		returned <- err
		return err
	}
	c := bufServe(t, &slowFirst{server: srv, release: release}, newIC(t, cfg), grpc.WithChainUnaryInterceptor(spy))
	go func() {
		<-srv.started // the first attempt runs
		clk.fire(0)   // its hedge delay passes: the second starts
		<-returned    // the second, pushed back, is back
		// Unhalted, Hedge would start a third copy at once, not after
		// the delay, which never passes: give it a moment to show.
		time.Sleep(5 * time.Millisecond)
		close(release)
	}()
	body, err := unary(context.Background(), c)
	if err != nil || body != "first" {
		t.Fatalf("got %q, %v; want the first attempt's reply", body, err)
	}
	if n := srv.calls.Load(); n != 2 {
		t.Errorf("server saw %d calls, want 2", n)
	}
}

// slowFirst holds its first call's reply until release is closed.
type slowFirst struct {
	*server
	release chan struct{}
}

func (s *slowFirst) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	first := s.calls.Load() == 0
	r, err := s.server.UnaryCall(ctx, req)
	if first {
		<-s.release
	}
	return r, err
}

// manualClock is a retry.Clock whose waits end only when the test fires
// them, in the order they were asked for.
type manualClock struct {
	mu    sync.Mutex
	chans []chan time.Time
	asked chan struct{}
}

func newManualClock() *manualClock { return &manualClock{asked: make(chan struct{}, 100)} }

func (m *manualClock) Now() time.Time { return time.Now() }
func (m *manualClock) After(time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	m.mu.Lock()
	m.chans = append(m.chans, c)
	m.mu.Unlock()
	m.asked <- struct{}{}
	return c
}

// waitAfter waits until wait i (from 0) has been asked for.
func (m *manualClock) waitAfter(i int) {
	for {
		m.mu.Lock()
		n := len(m.chans)
		m.mu.Unlock()
		if n > i {
			return
		}
		<-m.asked
	}
}

func (m *manualClock) fire(i int) {
	m.waitAfter(i)
	m.mu.Lock()
	c := m.chans[i]
	m.mu.Unlock()
	c <- time.Now()
}

// TestHedgeLateAttemptLeavesCallerReply: regression. An attempt that starts
// as the winner is copied must not read the caller's reply (it read it to
// make its own, a data race under -race with 20 callers).
func TestHedgeLateAttemptLeavesCallerReply(t *testing.T) {
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 5, Delay: time.Nanosecond}}})
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		reply.(*testgrpc.SimpleResponse).Username = "x"
		return nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				out := new(testgrpc.SimpleResponse)
				if err := ic.Unary(context.Background(), "/s/m", nil, out, nil, invoker); err != nil || out.Username != "x" {
					t.Errorf("got %v, %v", out, err)
				}
				out.Username = "" // the caller reuses its reply
			}
		})
	}
	wg.Wait()
}
