package grpcx_test

import (
	"context"
	"io"
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
)

// fakeStream is a client stream that ends with err once recv is closed
// (at once if recv is nil), and records its context.
type fakeStream struct {
	ctx  context.Context
	err  error
	recv chan struct{}
}

func (f *fakeStream) Header() (metadata.MD, error) { return nil, nil }
func (f *fakeStream) Trailer() metadata.MD         { return nil }
func (f *fakeStream) CloseSend() error             { return nil }
func (f *fakeStream) Context() context.Context     { return f.ctx }
func (f *fakeStream) SendMsg(any) error {
	if f.recv == nil {
		return io.EOF // failed already
	}
	return nil
}
func (f *fakeStream) RecvMsg(any) error {
	if f.recv != nil {
		select {
		case <-f.recv:
		case <-f.ctx.Done():
			return status.FromContextError(f.ctx.Err()).Err()
		}
	}
	return f.err
}

// gateClock is a retry.Clock whose waits end when the test says.
type gateClock struct {
	asked   chan struct{}
	release chan time.Time
}

func (g *gateClock) Now() time.Time { return time.Now() }
func (g *gateClock) After(time.Duration) <-chan time.Time {
	g.asked <- struct{}{}
	return g.release
}

// A stream that fails UNAVAILABLE is reopened after the backoff; if the
// caller sends more than the replay buffer holds during that wait, the
// message went to the failed attempt and the call must fail. The attempt
// opened for nothing must not be left running (its context never
// cancelled: a grpc-go stream, and a breaker's probe slot, held for good).
func TestHostileStreamCommittedDuringBackoffLeavesNoAttempt(t *testing.T) {
	clk := &gateClock{asked: make(chan struct{}, 1), release: make(chan time.Time, 1)}
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{
		Retry:          &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{Interval: time.Hour}, Clock: clk},
		MaxReplayBytes: 1,
	}})
	var mu sync.Mutex
	var opened []*fakeStream
	streamer := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		mu.Lock()
		defer mu.Unlock()
		f := &fakeStream{ctx: ctx, err: status.Error(codes.Unavailable, "down")}
		if len(opened) > 0 {
			f.recv, f.err = make(chan struct{}), nil // a healthy attempt: waits for the server
		}
		opened = append(opened, f)
		return f, nil
	}
	s, err := ic.Stream(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, "/grpc.testing.TestService/StreamingInputCall", streamer)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.RecvMsg(new(testgrpc.StreamingInputCallResponse)) }()
	<-clk.asked // RecvMsg failed and waits to reopen
	big := &testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: []byte("more than one byte")}}
	if err := s.SendMsg(big); err != io.EOF {
		t.Errorf("SendMsg on the failed attempt: %v, want io.EOF", err)
	}
	clk.release <- time.Now()
	if err := <-errc; status.Code(err) != codes.Unavailable {
		t.Errorf("RecvMsg: %v, want the failed attempt's UNAVAILABLE", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, f := range opened[1:] {
		if f.ctx.Err() == nil {
			t.Errorf("attempt %d opened after the stream committed is still running", i+2)
		}
	}
}

// The same, with the big message sent while the new attempt is being
// opened: it went to the failed attempt, so the new one must be ended.
func TestHostileStreamCommittedWhileReopeningLeavesNoAttempt(t *testing.T) {
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: instant(&waits{}, 3), MaxReplayBytes: 1}})
	var s grpc.ClientStream
	var opened []*fakeStream // only RecvMsg's goroutine opens
	big := &testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: []byte("more than one byte")}}
	streamer := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		f := &fakeStream{ctx: ctx, err: status.Error(codes.Unavailable, "down")}
		if len(opened) > 0 {
			f.recv, f.err = make(chan struct{}), nil
			if err := s.SendMsg(big); err != io.EOF { // the caller, meanwhile
				t.Errorf("SendMsg on the failed attempt: %v, want io.EOF", err)
			}
		}
		opened = append(opened, f)
		return f, nil
	}
	var err error
	s, err = ic.Stream(context.Background(), &grpc.StreamDesc{ClientStreams: true}, nil, "/grpc.testing.TestService/StreamingInputCall", streamer)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecvMsg(new(testgrpc.StreamingInputCallResponse)); status.Code(err) != codes.Unavailable {
		t.Errorf("RecvMsg: %v, want the failed attempt's UNAVAILABLE", err)
	}
	if len(opened) != 2 {
		t.Fatalf("%d attempts opened, want 2", len(opened))
	}
	if opened[1].ctx.Err() == nil {
		t.Error("attempt 2, opened as the stream committed, is still running")
	}
}

// Cancelling the caller while a failed stream waits to be reopened ends
// RecvMsg with CANCELED, and opens nothing more.
func TestHostileStreamCancelDuringReopenWait(t *testing.T) {
	clk := &gateClock{asked: make(chan struct{}, 1), release: make(chan time.Time)}
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{
		Retry: &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{Interval: time.Hour}, Clock: clk},
	}})
	opened := 0
	streamer := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		opened++
		return &fakeStream{ctx: ctx, err: status.Error(codes.Unavailable, "down")}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := ic.Stream(ctx, &grpc.StreamDesc{ServerStreams: true}, nil, "/grpc.testing.TestService/StreamingOutputCall", streamer)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.RecvMsg(new(testgrpc.StreamingOutputCallResponse)) }()
	<-clk.asked
	cancel()
	if err := <-errc; status.Code(err) != codes.Canceled {
		t.Errorf("RecvMsg: %v, want CANCELED", err)
	}
	if opened != 1 {
		t.Errorf("%d attempts opened, want 1", opened)
	}
}
