package grpcx_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// instant retries at once, and records its waits on w.
func instant(w *waits, max int) *retry.Policy {
	return &retry.Policy{MaxAttempts: max, Backoff: retry.Constant{Interval: time.Hour}, Clock: w}
}

func TestUnaryRetriesByCode(t *testing.T) {
	cases := []struct {
		name     string
		codes    []codes.Code
		script   []reply
		calls    int64
		code     codes.Code
		previous []string
	}{
		{"success", nil, []reply{ok("a")}, 1, codes.OK, []string{""}},
		{"unavailable twice", nil, []reply{fail(codes.Unavailable), fail(codes.Unavailable), ok("a")}, 3, codes.OK, []string{"", "1", "2"}},
		{"unavailable always", nil, []reply{fail(codes.Unavailable)}, 3, codes.Unavailable, []string{"", "1", "2"}},
		{"invalid argument", nil, []reply{fail(codes.InvalidArgument)}, 1, codes.InvalidArgument, []string{""}},
		{"resource exhausted by default", nil, []reply{fail(codes.ResourceExhausted), ok("a")}, 1, codes.ResourceExhausted, []string{""}},
		{"resource exhausted configured", []codes.Code{codes.Unavailable, codes.ResourceExhausted}, []reply{fail(codes.ResourceExhausted), ok("a")}, 2, codes.OK, []string{"", "1"}},
		{"deadline from the server", nil, []reply{fail(codes.DeadlineExceeded), ok("a")}, 1, codes.DeadlineExceeded, []string{""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &waits{}
			srv := &server{script: tc.script}
			ic := newIC(t, (grpcx.Config{Default: grpcx.Method{Retry: instant(w, 3), Codes: tc.codes}}))
			c := dial(t, serve(t, srv), ic)
			body, err := unary(context.Background(), c)
			if got := status.Code(err); got != tc.code {
				t.Fatalf("code %v, want %v (%v)", got, tc.code, err)
			}
			if err == nil && body != "a" {
				t.Errorf("reply %q, want a", body)
			}
			if n := srv.calls.Load(); n != tc.calls {
				t.Errorf("server saw %d calls, want %d", n, tc.calls)
			}
			if got := srv.previousAttempts(); !slices.Equal(got, tc.previous) {
				t.Errorf("grpc-previous-rpc-attempts %q, want %q", got, tc.previous)
			}
			if err != nil && tc.calls > 1 {
				if _, ok := errors.AsType[*retry.Error](err); !ok {
					t.Errorf("error %T does not reach the *retry.Error", err)
				}
			}
		})
	}
}

func TestUnaryPushback(t *testing.T) {
	cases := []struct {
		name  string
		first reply
		calls int64
		waits []time.Duration
		code  codes.Code
	}{
		{"honoured", pushback(codes.Unavailable, "7000"), 2, []time.Duration{7 * time.Second}, codes.OK},
		{"zero", pushback(codes.Unavailable, "0"), 2, nil, codes.OK},
		{"over MaxAfter", pushback(codes.Unavailable, "120000"), 1, nil, codes.Unavailable},
		{"negative", pushback(codes.Unavailable, "-1"), 1, nil, codes.Unavailable},
		{"malformed", pushback(codes.Unavailable, "soon"), 1, nil, codes.Unavailable},
		{"two values", pushback(codes.Unavailable, "10", "20"), 1, nil, codes.Unavailable},
		{"not a retryable code", pushback(codes.Internal, "10"), 1, nil, codes.Internal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &waits{}
			srv := &server{script: []reply{tc.first, ok("a")}}
			p := instant(w, 3)
			p.MaxAfter = time.Minute
			ic := newIC(t, (grpcx.Config{Default: grpcx.Method{Retry: p}}))
			_, err := unary(context.Background(), dial(t, serve(t, srv), ic))
			if got := status.Code(err); got != tc.code {
				t.Fatalf("code %v, want %v (%v)", got, tc.code, err)
			}
			if n := srv.calls.Load(); n != tc.calls {
				t.Errorf("server saw %d calls, want %d", n, tc.calls)
			}
			if got := w.all(); !slices.Equal(got, tc.waits) {
				t.Errorf("waits %v, want %v", got, tc.waits)
			}
			if tc.name == "over MaxAfter" {
				if pe, ok := errors.AsType[*retry.PushbackError](err); !ok || pe.Requested != 2*time.Minute {
					t.Errorf("error %v does not reach a *retry.PushbackError of 2m", err)
				}
			}
		})
	}
}

func TestUnaryCallerDeadlineNotRetried(t *testing.T) {
	srv := &server{script: []reply{{block: true}}}
	ic := newIC(t, (grpcx.Config{Default: grpcx.Method{
		Retry: instant(&waits{}, 5),
		Codes: []codes.Code{codes.Unavailable, codes.DeadlineExceeded, codes.Canceled},
	}}))
	c := dial(t, serve(t, srv), ic)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	_, err := unary(ctx, c)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("code %v, want DeadlineExceeded (%v)", status.Code(err), err)
	}
	if n := srv.calls.Load(); n > 1 {
		t.Errorf("server saw %d calls; the caller's deadline must not be retried", n)
	}
}

func TestUnaryCallerCancelNotRetried(t *testing.T) {
	srv := &server{script: []reply{{block: true}}, started: make(chan int, 1)}
	ic := newIC(t, (grpcx.Config{Default: grpcx.Method{
		Retry: instant(&waits{}, 5),
		Codes: []codes.Code{codes.Unavailable, codes.Canceled},
	}}))
	c := dial(t, serve(t, srv), ic)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-srv.started; cancel() }()
	_, err := unary(ctx, c)
	if status.Code(err) != codes.Canceled {
		t.Fatalf("code %v, want Canceled (%v)", status.Code(err), err)
	}
	if n := srv.calls.Load(); n != 1 {
		t.Errorf("server saw %d calls, want 1", n)
	}
}

func TestUnaryAttemptTimeoutRetried(t *testing.T) {
	srv := &server{script: []reply{{block: true}, ok("second")}}
	p := instant(&waits{}, 3)
	p.AttemptTimeout = 5 * time.Millisecond
	p.Clock = nil // the attempt's deadline runs on real time
	p.Backoff = retry.Constant{}
	ic := newIC(t, (grpcx.Config{Default: grpcx.Method{Retry: p}}))
	body, err := unary(context.Background(), dial(t, serve(t, srv), ic))
	if err != nil || body != "second" {
		t.Fatalf("got %q, %v; want the second attempt's reply", body, err)
	}
	if n := srv.calls.Load(); n != 2 {
		t.Errorf("server saw %d calls, want 2", n)
	}
}

func TestUnaryPerMethodConfig(t *testing.T) {
	w := &waits{}
	srv := &server{script: []reply{fail(codes.Unavailable)}}
	ic := newIC(t, (grpcx.Config{
		Default: grpcx.Method{Retry: instant(w, 2)},
		Methods: map[string]grpcx.Method{
			"/grpc.testing.TestService/UnaryCall": {Retry: instant(w, 4)},
			"/grpc.testing.TestService/":          {Retry: instant(w, 1)},
		},
	}))
	c := dial(t, serve(t, srv), ic)
	unary(context.Background(), c)
	if n := srv.calls.Load(); n != 4 {
		t.Errorf("UnaryCall: server saw %d calls, want 4 (its own config)", n)
	}
}

func TestStatusOfRejectionsAndContext(t *testing.T) {
	srv := &server{script: []reply{ok("a")}}
	ic := newIC(t, (grpcx.Config{}))
	c := dial(t, serve(t, srv), ic)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := unary(ctx, c)
	if status.Code(err) != codes.Canceled {
		t.Errorf("cancelled before the call: code %v, want Canceled (%v)", status.Code(err), err)
	}
	if srv.calls.Load() != 0 {
		t.Errorf("server saw a call")
	}
}
