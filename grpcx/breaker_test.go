package grpcx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

func TestBreakerPerTarget(t *testing.T) {
	down := &server{script: []reply{fail(codes.Unavailable)}}
	up := &server{script: []reply{ok("a")}}
	breakers, err := grpcx.BreakersPerTarget(retry.BreakerConfig{ConsecutiveFailures: 2})
	if err != nil {
		t.Fatal(err)
	}
	ic := newIC(t, grpcx.Config{Default: grpcx.Method{Retry: instant(&waits{}, 1)}, Breaker: breakers.For})
	cDown, cUp := dial(t, serve(t, down), ic), dial(t, serve(t, up), ic)
	for range 2 {
		unary(context.Background(), cDown)
	}
	_, err = unary(context.Background(), cDown)
	if status.Code(err) != codes.Unavailable || !errors.Is(err, retry.ErrBreakerOpen) {
		t.Fatalf("third call to the failing target: %v; want UNAVAILABLE from an open breaker", err)
	}
	if n := down.calls.Load(); n != 2 {
		t.Errorf("failing target saw %d calls, want 2: an open breaker fails fast", n)
	}
	if _, err := unary(context.Background(), cUp); err != nil {
		t.Errorf("healthy target: %v; its breaker is its own", err)
	}
}

func TestBreakerIgnoresAnswers(t *testing.T) {
	srv := &server{script: []reply{fail(codes.NotFound)}}
	breakers, _ := grpcx.BreakersPerMethod(retry.BreakerConfig{ConsecutiveFailures: 1})
	ic := newIC(t, grpcx.Config{Breaker: breakers.For})
	c := dial(t, serve(t, srv), ic)
	for range 3 {
		if _, err := unary(context.Background(), c); status.Code(err) != codes.NotFound {
			t.Fatalf("got %v, want NOT_FOUND each time: an answer does not trip the breaker", err)
		}
	}
}

func TestBreakerStopsRetriesAndHedges(t *testing.T) {
	for _, name := range []string{"retry", "hedge"} {
		t.Run(name, func(t *testing.T) {
			srv := &server{script: []reply{fail(codes.Unavailable)}}
			b, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, Classify: grpcx.BreakerOutcome})
			m := grpcx.Method{Retry: instant(&waits{}, 5)}
			if name == "hedge" {
				m = grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 5, Delay: 1 << 40}}
			}
			ic := newIC(t, grpcx.Config{Default: m, Breaker: func(string, string) *retry.Breaker { return b }})
			_, err := unary(context.Background(), dial(t, serve(t, srv), ic))
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("code %v, want Unavailable (%v)", status.Code(err), err)
			}
			if n := srv.calls.Load(); n != 1 {
				t.Errorf("server saw %d calls, want 1: the breaker opened after the first", n)
			}
		})
	}
}

// TestBudgetUnderFailingServer: with a 10% budget, a server that fails
// every call sees at most 1.1 times the calls, however many attempts the
// policy allows.
func TestBudgetUnderFailingServer(t *testing.T) {
	for _, name := range []string{"retry", "hedge"} {
		t.Run(name, func(t *testing.T) {
			srv := &server{script: []reply{fail(codes.Unavailable)}}
			budgets, _ := grpcx.PerTarget(func() retry.Budget {
				return must2(retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.1, MinPerSecond: retry.None}))
			})
			m := grpcx.Method{Retry: instant(&waits{}, 5)}
			if name == "hedge" {
				m = grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 5, Delay: 1 << 40}}
			}
			ic := newIC(t, grpcx.Config{Default: m, Budget: budgets.For})
			c := dial(t, serve(t, srv), ic)
			const calls = 200
			for range calls {
				unary(context.Background(), c)
			}
			if n := srv.calls.Load(); float64(n) > 1.1*calls {
				t.Errorf("server saw %d attempts for %d calls, over 1.1×", n, calls)
			} else {
				t.Logf("server saw %d attempts for %d calls (%.3f×)", n, calls, float64(n)/calls)
			}
		})
	}
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestBuiltinRetriesNotMultiplied: a method whose service config has a
// retryPolicy is retried by grpc-go alone by default; with
// grpc.WithDisableRetry and BuiltinDisabled, by grpcx alone.
func TestBuiltinRetriesNotMultiplied(t *testing.T) {
	const sc = `{"methodConfig": [{"name": [{"service": "grpc.testing.TestService"}],
		"retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.001s", "maxBackoff": "0.001s",
		"backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`
	cases := []struct {
		name    string
		mode    grpcx.BuiltinRetries
		disable bool
		hedge   bool
		calls   int64
	}{
		{"deferred to grpc-go", grpcx.DeferToBuiltin, false, false, 4},
		{"grpc-go disabled", grpcx.BuiltinDisabled, true, false, 3},
		{"hedged, deferred to grpc-go", grpcx.DeferToBuiltin, false, true, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := &server{script: []reply{fail(codes.Unavailable)}}
			m := grpcx.Method{Retry: instant(&waits{}, 3)}
			if tc.hedge {
				m = grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 3, Delay: 1 << 40}}
			}
			ic := newIC(t, grpcx.Config{Default: m, BuiltinRetries: tc.mode})
			opts := []grpc.DialOption{grpc.WithDefaultServiceConfig(sc)}
			if tc.disable {
				opts = append(opts, grpc.WithDisableRetry())
			}
			c := dial(t, serve(t, srv), ic, opts...)
			if tc.hedge { // the connection learns its service config with its first call
				c.EmptyCall(context.Background(), &testgrpc.Empty{})
			}
			_, err := unary(context.Background(), c)
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("code %v (%v)", status.Code(err), err)
			}
			if n := srv.calls.Load(); n != tc.calls {
				t.Errorf("server saw %d calls, want %d", n, tc.calls)
			}
		})
	}
}
