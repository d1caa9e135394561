package grpcx_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/grpcx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// parityCase is one scenario run through grpcx and through grpc-go's own
// service-config retryPolicy.
type parityCase struct {
	name     string
	script   []reply
	codes    []codes.Code
	calls    int  // calls made one after the other (throttling needs several)
	throttle bool // grpc-go's retryThrottling vs a retry.TokenBucket
}

var parityCases = []parityCase{
	{name: "success", script: []reply{ok("a")}},
	{name: "UNAVAILABLE, then OK", script: []reply{fail(codes.Unavailable), ok("a")}},
	{name: "UNAVAILABLE twice, then OK", script: []reply{fail(codes.Unavailable), fail(codes.Unavailable), ok("a")}},
	{name: "UNAVAILABLE always", script: []reply{fail(codes.Unavailable)}},
	{name: "INVALID_ARGUMENT", script: []reply{fail(codes.InvalidArgument), ok("a")}},
	{name: "RESOURCE_EXHAUSTED, not listed", script: []reply{fail(codes.ResourceExhausted), ok("a")}},
	{name: "RESOURCE_EXHAUSTED, listed", script: []reply{fail(codes.ResourceExhausted), ok("a")}, codes: []codes.Code{codes.Unavailable, codes.ResourceExhausted}},
	{name: "pushback 1ms, then OK", script: []reply{pushback(codes.Unavailable, "1"), ok("a")}},
	{name: "pushback -1", script: []reply{pushback(codes.Unavailable, "-1"), ok("a")}},
	{name: "pushback malformed", script: []reply{pushback(codes.Unavailable, "soon"), ok("a")}},
	{name: "pushback, two values", script: []reply{pushback(codes.Unavailable, "1", "2"), ok("a")}},
	{name: "throttled: 20 calls, all UNAVAILABLE", script: []reply{fail(codes.Unavailable)}, calls: 20, throttle: true},
}

func (pc parityCase) serviceConfig() string {
	cs := pc.codes
	if cs == nil {
		cs = grpcx.DefaultCodes
	}
	var names []string
	for _, c := range cs {
		names = append(names, fmt.Sprintf("%q", strings.ToUpper(codeName(c))))
	}
	throttle := ""
	if pc.throttle {
		throttle = `, "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}`
	}
	return `{"methodConfig": [{"name": [{"service": "grpc.testing.TestService"}],
		"retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.001s", "maxBackoff": "0.001s",
		"backoffMultiplier": 1, "retryableStatusCodes": [` + strings.Join(names, ",") + `]}}]` + throttle + `}`
}

func codeName(c codes.Code) string {
	switch c {
	case codes.Unavailable:
		return "UNAVAILABLE"
	case codes.ResourceExhausted:
		return "RESOURCE_EXHAUSTED"
	}
	panic(c)
}

// run makes the case's calls and returns the attempts the server saw and
// the last call's code.
func (pc parityCase) run(t *testing.T, builtin bool) (int64, codes.Code) {
	srv := &server{script: pc.script}
	sc := grpc.WithDefaultServiceConfig(pc.serviceConfig())
	var ic *grpcx.Interceptor
	if !builtin {
		p := &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{Interval: time.Millisecond}}
		if pc.throttle {
			p.Budget = &retry.TokenBucket{}
		}
		ic = newIC(t, grpcx.Config{Default: grpcx.Method{Retry: p, Codes: pc.codes}, BuiltinRetries: grpcx.BuiltinDisabled})
	}
	opts := []grpc.DialOption{sc}
	if !builtin {
		opts = append(opts, grpc.WithDisableRetry())
	}
	c := dial(t, serve(t, srv), ic, opts...)
	var err error
	for range max(pc.calls, 1) {
		_, err = unary(context.Background(), c)
	}
	return srv.calls.Load(), status.Code(err)
}

// TestParityWithBuiltinRetry runs each scenario once through grpcx (with
// grpc-go's retries disabled) and once through grpc-go's service-config
// retryPolicy (without grpcx), and checks that the server sees the same
// attempts and the caller the same code. go test -v prints the table.
func TestParityWithBuiltinRetry(t *testing.T) {
	var table strings.Builder
	table.WriteString("| scenario | grpc-go retryPolicy: attempts, code | grpcx: attempts, code |\n|---|---|---|\n")
	for _, pc := range parityCases {
		t.Run(pc.name, func(t *testing.T) {
			gotN, gotCode := pc.run(t, false)
			wantN, wantCode := pc.run(t, true)
			if gotN != wantN || gotCode != wantCode {
				t.Errorf("grpcx: %d attempts, %v; grpc-go: %d attempts, %v", gotN, gotCode, wantN, wantCode)
			}
			fmt.Fprintf(&table, "| %s | %d, %v | %d, %v |\n", pc.name, wantN, wantCode, gotN, gotCode)
		})
	}
	// Hedging: grpc-go has no column to fill (grpc-go#2823).
	srv := &server{script: []reply{{block: true}, ok("second")}}
	c := dial(t, serve(t, srv), newIC(t, hedging()))
	body, err := unary(context.Background(), c)
	if err != nil || body != "second" {
		t.Errorf("hedged: %q, %v", body, err)
	}
	fmt.Fprintf(&table, "| hedged, first attempt hangs | not implemented | %d, %v (the second wins, the first is cancelled) |\n", srv.calls.Load(), status.Code(err))
	t.Log("\n" + table.String())
}
