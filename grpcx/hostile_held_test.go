package grpcx_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Odd pushback values, through a real connection: what the retry loop
// makes of each, as grpc-go's strconv.Atoi reading would.
func TestHostilePushbackOddValues(t *testing.T) {
	cases := []struct {
		values   []string
		attempts int64
		waits    []time.Duration
	}{
		{[]string{"+1"}, 2, []time.Duration{time.Millisecond}},
		{[]string{"0"}, 2, nil}, // no wait at all
		{[]string{""}, 1, nil},
		{[]string{" 1"}, 1, nil},
		{[]string{"1.5"}, 1, nil},
		{[]string{"0x10"}, 1, nil},
		{[]string{"-0"}, 2, nil},
		{[]string{"99999999999999999999"}, 1, nil}, // overflows: malformed
		{[]string{"9223372036854775807"}, 1, nil},  // past MaxAfter
		{[]string{"1", "1"}, 1, nil},               // several, even equal
	}
	for _, tc := range cases {
		t.Run(slices.Concat(tc.values, []string{"."})[0], func(t *testing.T) {
			w := &waits{}
			srv := &server{script: []reply{pushback(codes.Unavailable, tc.values...), ok("a")}}
			_, err := unary(context.Background(), bufServe(t, srv, newIC(t, grpcx.Config{Default: grpcx.Method{Retry: instant(w, 3)}})))
			if n := srv.calls.Load(); n != tc.attempts {
				t.Errorf("server saw %d attempts, want %d (%v)", n, tc.attempts, err)
			}
			if got := w.all(); !slices.Equal(got, tc.waits) {
				t.Errorf("waits %v, want %v", got, tc.waits)
			}
			if tc.attempts == 1 && status.Code(err) != codes.Unavailable {
				t.Errorf("code %v, want UNAVAILABLE (%v)", status.Code(err), err)
			}
			if tc.values[0] == "9223372036854775807" {
				if _, ok := errors.AsType[*retry.PushbackError](err); !ok {
					t.Errorf("%v does not reach a *retry.PushbackError", err)
				}
			}
		})
	}
}

// errors.Is/As and status details through retried and hedged calls.
func TestHostileErrorsReachCausesAndDetails(t *testing.T) {
	st, _ := status.New(codes.Unavailable, "shed").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)})
	for _, cfg := range []grpcx.Config{
		{Default: grpcx.Method{Retry: instant(&waits{}, 2)}},
		{Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour, Clock: newManualClock()}}},
	} {
		srv := &hookServer{unary: func(context.Context, int) (*testgrpc.SimpleResponse, error) { return nil, st.Err() }}
		_, err := unary(context.Background(), bufServe(t, srv, newIC(t, cfg)))
		got, _ := status.FromError(err)
		if got.Code() != codes.Unavailable || len(got.Details()) != 1 {
			t.Errorf("status %v with details %v, want UNAVAILABLE with the RetryInfo", got, got.Details())
		}
		re, ok := errors.AsType[*retry.Error](err)
		if !ok || re.Attempts != 2 || !errors.Is(err, retry.ErrExhausted) {
			t.Errorf("%v: want a *retry.Error of 2 attempts, exhausted", err)
		}
		if grpcx.Code(err) != codes.Unavailable {
			t.Errorf("grpcx.Code %v", grpcx.Code(err))
		}
	}
}

// Hedged calls report the winner's peer, and copy a reply of 3 MiB whole.
func TestHostileHedgePeerAndLargeReply(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 3<<20)
	release := make(chan struct{})
	srv := &hookServer{unary: func(ctx context.Context, n int) (*testgrpc.SimpleResponse, error) {
		if n == 1 {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, status.FromContextError(ctx.Err()).Err()
			}
		}
		return &testgrpc.SimpleResponse{Payload: &testgrpc.Payload{Body: big}, Username: "w"}, nil
	}}
	defer close(release)
	c := dial(t, serve(t, srv), newIC(t, hedging()))
	var p peer.Peer
	var hdr, tr metadata.MD
	r, err := c.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}, grpc.Peer(&p), grpc.Header(&hdr), grpc.Trailer(&tr))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.GetPayload().GetBody(), big) {
		t.Errorf("reply of %d bytes, want %d", len(r.GetPayload().GetBody()), len(big))
	}
	if p.Addr == nil || hdr == nil || tr == nil {
		t.Errorf("peer %v, header %v, trailer %v: want the winner's", p.Addr, hdr, tr)
	}
}

// Cancelling the caller mid-hedge ends every copy, with CANCELED.
func TestHostileCancelMidHedge(t *testing.T) {
	started := make(chan int, 3)
	var mu sync.Mutex
	cancelled := 0
	srv := &hookServer{unary: func(ctx context.Context, n int) (*testgrpc.SimpleResponse, error) {
		started <- n
		<-ctx.Done()
		mu.Lock()
		cancelled++
		mu.Unlock()
		return nil, status.FromContextError(ctx.Err()).Err()
	}}
	cfg := grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: time.Millisecond}}}
	c := bufServe(t, srv, newIC(t, cfg))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; <-started; cancel() }()
	_, err := unary(ctx, c)
	if status.Code(err) != codes.Canceled || !errors.Is(err, context.Canceled) {
		t.Errorf("%v, want CANCELED matching context.Canceled", err)
	}
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return cancelled == int(srv.unaryCalls.Load())
	})
}

// Hedging, a breaker and a budget per target together, waves of calls at
// once against a server that always fails: the budget bounds the load
// (once failures are counted: the first wave's copies all start before
// any fails), the breaker trips, every call ends UNAVAILABLE.
func TestHostileHedgeBreakerBudgetConcurrent(t *testing.T) {
	srv := &hookServer{unary: func(context.Context, int) (*testgrpc.SimpleResponse, error) {
		return nil, status.Error(codes.Unavailable, "down")
	}}
	breakers, _ := grpcx.BreakersPerTarget(retry.BreakerConfig{FailureRatio: 0.9, MinCalls: 40, OpenDuration: time.Hour})
	budgets, _ := grpcx.PerTarget(func() retry.Budget { return &retry.TokenBucket{} })
	cfg := grpcx.Config{
		Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: time.Millisecond}},
		Breaker: breakers.For,
		Budget:  budgets.For,
	}
	c := bufServe(t, srv, newIC(t, cfg))
	const waves, wave = 10, 20
	var mu sync.Mutex
	rejected := 0
	for range waves {
		var wg sync.WaitGroup
		for range wave {
			wg.Go(func() {
				_, err := unary(context.Background(), c)
				if status.Code(err) != codes.Unavailable {
					t.Errorf("code %v (%v)", status.Code(err), err)
				}
				if _, ok := errors.AsType[*retry.BreakerError](err); ok {
					mu.Lock()
					rejected++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	// Without the budget: 3 per call, 600. With it: the first wave's copies,
	// then about one call in ten hedged, the bucket's tokens aside.
	if n := srv.unaryCalls.Load(); n > 3*wave+(waves-1)*wave*11/10+10 {
		t.Errorf("server saw %d attempts for %d calls: the budget let too many through", n, waves*wave)
	}
	if rejected == 0 {
		t.Error("the breaker never rejected a call")
	}
}

// The replay buffer holds exactly MaxReplayBytes: messages that fill it
// are replayed to the next attempt; one byte more commits the stream.
func TestHostileReplayBufferAtItsLimit(t *testing.T) {
	msg := func(s string) *testgrpc.StreamingInputCallRequest {
		return &testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: []byte(s)}}
	}
	size := proto.Size(msg("aaaa")) + proto.Size(msg("bbbb"))
	for _, tc := range []struct {
		limit   int
		streams int64
		code    codes.Code
	}{{size, 2, codes.OK}, {size - 1, 1, codes.Unavailable}} {
		srv := &hookServer{input: func(st grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse], n int) error {
			if n == 1 {
				for range 2 { // read both, then fail: the client cannot tell
					if _, err := st.Recv(); err != nil {
						return err
					}
				}
				return status.Error(codes.Unavailable, "after reading")
			}
			return drainInput(st)
		}}
		ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: instant(&waits{}, 3), MaxReplayBytes: tc.limit}})
		st, err := bufServe(t, srv, ic).StreamingInputCall(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		st.Send(msg("aaaa"))
		st.Send(msg("bbbb"))
		resp, err := st.CloseAndRecv()
		if status.Code(err) != tc.code || srv.streamCalls.Load() != tc.streams {
			t.Errorf("limit %d of %d: %v after %d streams, want %v after %d", tc.limit, size, err, srv.streamCalls.Load(), tc.code, tc.streams)
		}
		if tc.code == codes.OK && resp.GetAggregatedPayloadSize() != 2 {
			t.Errorf("replayed stream received %d messages, want 2", resp.GetAggregatedPayloadSize())
		}
	}
}
