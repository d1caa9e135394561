package grpcx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestValidate(t *testing.T) {
	bad := []struct {
		cfg  grpcx.Config
		want string
	}{
		{grpcx.Config{Default: grpcx.Method{Retry: &retry.Policy{MaxAttempts: -5}}}, "Config.Default.Retry"},
		{grpcx.Config{Default: grpcx.Method{Retry: &retry.Policy{Retryable: func(error) bool { return true }}}}, "set Codes"},
		{grpcx.Config{Default: grpcx.Method{Retry: &retry.Policy{}, Hedge: &retry.HedgePolicy{}}}, "both set"},
		{grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{MaxAttempts: 99}}}, "Hedge"},
		{grpcx.Config{Default: grpcx.Method{Hedge: &retry.HedgePolicy{OnDiscard: func(any) {}}}}, "OnDiscard"},
		{grpcx.Config{Default: grpcx.Method{Codes: []codes.Code{codes.OK}}}, "not a failure code"},
		{grpcx.Config{Methods: map[string]grpcx.Method{"pkg.Service/M": {}}}, "neither"},
		{grpcx.Config{Methods: map[string]grpcx.Method{"/a/b/c": {}}}, "neither"},
		{grpcx.Config{BuiltinRetries: 7}, "BuiltinRetries"},
	}
	for _, tc := range bad {
		_, err := grpcx.New(tc.cfg)
		if !errors.Is(err, grpcx.ErrInvalid) || !errors.Is(err, retry.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want ErrInvalid naming %q", tc.cfg, err, tc.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error on more than one line: %q", err)
		}
	}
	good := grpcx.Config{
		Default: grpcx.Method{Retry: &retry.Policy{MaxAttempts: 5}, Codes: []codes.Code{codes.Unavailable, codes.ResourceExhausted}},
		Methods: map[string]grpcx.Method{"/pkg.S/M": {Hedge: &retry.HedgePolicy{}}, "/pkg.S/": {}},
	}
	if err := good.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	if _, err := grpcx.PerTarget[int](nil); !errors.Is(err, grpcx.ErrInvalid) {
		t.Errorf("PerTarget(nil) = %v", err)
	}
	if _, err := grpcx.BreakersPerTarget(retry.BreakerConfig{FailureRatio: 2}); !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("BreakersPerTarget(bad) = %v", err)
	}
}

func TestPushbackParsing(t *testing.T) {
	cases := []struct {
		values []string
		d      time.Duration
		ok     bool
	}{
		{nil, 0, false},
		{[]string{"0"}, 0, true},
		{[]string{"1500"}, 1500 * time.Millisecond, true},
		{[]string{"-1"}, -1, true},
		{[]string{"x"}, -1, true},
		{[]string{"1.5"}, -1, true},
		{[]string{""}, -1, true},
		{[]string{"1", "2"}, -1, true},
		{[]string{"99999999999999999999"}, -1, true}, // does not parse
		{[]string{"9223372036854775807"}, time.Duration(1<<63-1) / time.Millisecond * time.Millisecond, true}, // capped, never negative
	}
	for _, tc := range cases {
		md := metadata.MD{}
		if tc.values != nil {
			md[grpcx.PushbackKey] = tc.values
		}
		d, ok := grpcx.Pushback(md)
		if d != tc.d || ok != tc.ok {
			t.Errorf("Pushback(%q) = %v, %v; want %v, %v", tc.values, d, ok, tc.d, tc.ok)
		}
	}
}

func TestCodeAndOutcome(t *testing.T) {
	wrapped := fmt.Errorf("outer: %w", &retry.Error{Attempts: 2, Reason: retry.ErrExhausted, Last: status.Error(codes.Unavailable, "x")})
	cases := []struct {
		err     error
		code    codes.Code
		outcome retry.BreakerOutcome
	}{
		{nil, codes.OK, retry.BreakerSuccess},
		{status.Error(codes.NotFound, "x"), codes.NotFound, retry.BreakerSuccess},
		{status.Error(codes.Unavailable, "x"), codes.Unavailable, retry.BreakerFailure},
		{status.Error(codes.ResourceExhausted, "x"), codes.ResourceExhausted, retry.BreakerFailure},
		{status.Error(codes.Canceled, "x"), codes.Canceled, retry.BreakerIgnored},
		{wrapped, codes.Unavailable, retry.BreakerFailure},
		{context.DeadlineExceeded, codes.DeadlineExceeded, retry.BreakerFailure},
		{context.Canceled, codes.Canceled, retry.BreakerIgnored},
		{errors.New("?"), codes.Unknown, retry.BreakerFailure},
	}
	for _, tc := range cases {
		if got := grpcx.Code(tc.err); got != tc.code {
			t.Errorf("Code(%v) = %v, want %v", tc.err, got, tc.code)
		}
		if got := grpcx.BreakerOutcome(tc.err); got != tc.outcome {
			t.Errorf("BreakerOutcome(%v) = %v, want %v", tc.err, got, tc.outcome)
		}
	}
	if !grpcx.Retryable(wrapped, grpcx.DefaultCodes) || grpcx.Retryable(nil, grpcx.DefaultCodes) {
		t.Error("Retryable")
	}
}

func TestInvalidBudgetAtCallTime(t *testing.T) {
	srv := &server{script: []reply{ok("a")}}
	var nilBucket *retry.TokenBucket
	ic := newIC(t, grpcx.Config{Budget: func(string, string) retry.Budget { return nilBucket }})
	_, err := unary(context.Background(), dial(t, serve(t, srv), ic))
	if status.Code(err) != codes.Internal || !errors.Is(err, retry.ErrInvalid) {
		t.Fatalf("got %v, want INTERNAL wrapping ErrInvalid", err)
	}
	if srv.calls.Load() != 0 {
		t.Error("the call went out")
	}
}
