package retry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// ctxKey carries a trace id that traceHandler adds to every record.
type ctxKey struct{}

// traceHandler adds the trace id of a record's context, as a handler
// that reads trace ids would.
type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(ctxKey{}).(string); ok {
		r.AddAttrs(slog.String("trace", id))
	}
	return h.Handler.Handle(ctx, r)
}

// jsonLogger logs JSON lines without the time into buf, at level and
// above.
func jsonLogger(buf *bytes.Buffer, level slog.Level) *slog.Logger {
	return slog.New(traceHandler{slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})})
}

// lines decodes the JSON lines of buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

// LogHooks sets every field of Hooks: none of the events goes unlogged.
func TestLogHooksCoversEveryHook(t *testing.T) {
	h := reflect.ValueOf(*retry.LogHooks(slog.Default()))
	for i := range h.NumField() {
		if h.Field(i).IsNil() {
			t.Errorf("LogHooks leaves %s unset", h.Type().Field(i).Name)
		}
	}
}

// Each hook logs its event at its level, with its attributes, through the
// hook's context.
func TestLogHooksRecords(t *testing.T) {
	var buf bytes.Buffer
	h := retry.LogHooks(jsonLogger(&buf, slog.LevelDebug))
	ctx := context.WithValue(context.Background(), ctxKey{}, "t-1")
	until := time.Date(2026, 1, 1, 0, 0, 30, 0, time.UTC)
	rej := &retry.BreakerError{Reason: retry.ErrBreakerOpen, Until: until, Wait: 30 * time.Second}
	tests := []struct {
		log  func()
		want string
	}{
		{func() {
			h.OnAttempt(ctx, retry.AttemptEvent{Name: "get", Attempt: 2, Hedge: true, Duration: time.Second, Err: errBoom})
		}, `{"attempt":2,"duration":1000000000,"err":"boom","hedge":true,"level":"DEBUG","msg":"attempt ended","name":"get","trace":"t-1"}`},
		{func() {
			h.OnAttempt(ctx, retry.AttemptEvent{Attempt: 1, Duration: time.Millisecond})
		}, `{"attempt":1,"duration":1000000,"level":"DEBUG","msg":"attempt ended","trace":"t-1"}`},
		{func() {
			h.OnRetry(ctx, retry.RetryEvent{Name: "get", Attempt: 1, Err: errBoom, Delay: 100 * time.Millisecond})
		}, `{"attempt":1,"delay":100000000,"err":"boom","level":"INFO","msg":"retrying","name":"get","trace":"t-1"}`},
		{func() {
			h.OnHedge(ctx, retry.HedgeEvent{Name: "search", Attempt: 2, Running: 1, Elapsed: time.Second, Delay: time.Second})
		}, `{"attempt":2,"delay":1000000000,"elapsed":1000000000,"level":"DEBUG","msg":"hedging","name":"search","running":1,"trace":"t-1"}`},
		{func() {
			h.OnDone(ctx, retry.CallEvent{Name: "get", Attempts: 3, Hedges: 1, Winner: 3, Duration: 2 * time.Second})
		}, `{"attempts":3,"duration":2000000000,"hedges":1,"level":"DEBUG","msg":"call succeeded","name":"get","trace":"t-1","winner":3}`},
		{func() {
			h.OnDone(ctx, retry.CallEvent{Name: "get", Attempts: 3, Duration: time.Second, Err: errBoom})
		}, `{"attempts":3,"duration":1000000000,"err":"boom","level":"WARN","msg":"call failed","name":"get","trace":"t-1"}`},
		{func() {
			h.OnDone(ctx, retry.CallEvent{Attempts: 1, Err: fmt.Errorf("get: %w", context.Canceled)})
		}, `{"attempts":1,"duration":0,"err":"get: context canceled","level":"INFO","msg":"call cancelled","trace":"t-1"}`},
		{func() {
			h.OnBudgetRefused(ctx, retry.BudgetEvent{Name: "get", Budget: "backend", Attempt: 2})
		}, `{"attempt":2,"budget":"backend","level":"WARN","msg":"budget refused an attempt","name":"get","trace":"t-1"}`},
		{func() {
			h.OnBreakerChange(ctx, retry.BreakerChange{Name: "db", From: retry.BreakerClosed, To: retry.BreakerOpen,
				Reason: retry.ReasonFailureRatio, Until: until,
				Ended: retry.BreakerCounts{Calls: 10, Failures: 6, AverageDuration: time.Millisecond, Rejected: 0}})
		}, `{"ended":{"average_duration":1000000,"calls":10,"failures":6},"from":"closed","level":"WARN","msg":"circuit breaker opened","name":"db","reason":"failure-ratio","to":"open","trace":"t-1","until":"2026-01-01T00:00:30Z"}`},
		{func() {
			h.OnBreakerChange(ctx, retry.BreakerChange{Name: "db", From: retry.BreakerOpen, To: retry.BreakerHalfOpen,
				Reason: retry.ReasonOpenElapsed, Ended: retry.BreakerCounts{Rejected: 4}})
		}, `{"ended":{"rejected":4},"from":"open","level":"INFO","msg":"circuit breaker half-open","name":"db","reason":"open-elapsed","to":"half-open","trace":"t-1"}`},
		{func() {
			h.OnBreakerChange(ctx, retry.BreakerChange{From: retry.BreakerOpen, To: retry.BreakerClosed,
				Reason: retry.ReasonForceClosed, Manual: true, Forced: true})
		}, `{"forced":true,"from":"open","level":"INFO","manual":true,"msg":"circuit breaker closed","reason":"force-closed","to":"closed","trace":"t-1"}`},
		{func() {
			h.OnBreakerReject(ctx, retry.BreakerReject{Name: "db", Err: rej})
		}, `{"err":"circuit breaker is open, next probe in 30s","level":"DEBUG","msg":"circuit breaker rejected a call","name":"db","trace":"t-1","wait":30000000000}`},
	}
	for i, tt := range tests {
		tt.log()
		got := lines(t, &buf)
		if len(got) != 1 {
			t.Fatalf("%d: %d records, want 1", i, len(got))
		}
		b, _ := json.Marshal(got[0]) // sorted keys
		if string(b) != tt.want {
			t.Errorf("%d:\n got %s\nwant %s", i, b, tt.want)
		}
	}
}

// Records below the logger's level are not logged.
func TestLogHooksLevels(t *testing.T) {
	var buf bytes.Buffer
	h := retry.LogHooks(jsonLogger(&buf, slog.LevelWarn))
	ctx := context.Background()
	h.OnAttempt(ctx, retry.AttemptEvent{Attempt: 1})
	h.OnRetry(ctx, retry.RetryEvent{Attempt: 1})
	h.OnHedge(ctx, retry.HedgeEvent{Attempt: 2})
	h.OnDone(ctx, retry.CallEvent{Attempts: 1})
	h.OnBreakerChange(ctx, retry.BreakerChange{From: retry.BreakerHalfOpen, To: retry.BreakerClosed})
	h.OnBreakerReject(ctx, retry.BreakerReject{Err: &retry.BreakerError{Reason: retry.ErrBreakerOpen}})
	h.OnBudgetRefused(ctx, retry.BudgetEvent{Attempt: 2})
	got := lines(t, &buf)
	if len(got) != 1 || got[0]["msg"] != "budget refused an attempt" {
		t.Fatalf("records %v, want the budget's warning alone", got)
	}
}

// Through a breaker: its changes and rejections are logged with the name,
// the reason and the context of the call that caused them.
func TestLogHooksBreaker(t *testing.T) {
	var buf bytes.Buffer
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{Name: "db", ConsecutiveFailures: 2, OpenDuration: time.Second, Clock: clk,
		Hooks: retry.LogHooks(jsonLogger(&buf, slog.LevelDebug))})
	ctx := context.WithValue(context.Background(), ctxKey{}, "t-9")
	callCtx(ctx, b, clk, 0, errBoom)
	callCtx(ctx, b, clk, 0, errBoom)
	callCtx(ctx, b, clk, 0, nil)
	got := lines(t, &buf)
	if len(got) != 2 {
		t.Fatalf("records %v, want an open and a rejection", got)
	}
	open, rej := got[0], got[1]
	ended, _ := open["ended"].(map[string]any)
	if open["msg"] != "circuit breaker opened" || open["level"] != "WARN" || open["reason"] != "consecutive-failures" ||
		open["trace"] != "t-9" || open["name"] != "db" || ended["consecutive_failures"] != 2.0 {
		t.Errorf("open record %v", open)
	}
	if rej["msg"] != "circuit breaker rejected a call" || rej["trace"] != "t-9" || rej["name"] != "db" {
		t.Errorf("rejection record %v", rej)
	}
}

// A nil logger logs through slog.Default() as it is when each event comes.
func TestLogHooksNilLogger(t *testing.T) {
	old := slog.Default()
	defer slog.SetDefault(old)
	h := retry.LogHooks(nil)
	var buf bytes.Buffer
	slog.SetDefault(jsonLogger(&buf, slog.LevelInfo))
	h.OnDone(context.Background(), retry.CallEvent{Attempts: 2, Err: errors.New("down")})
	if got := lines(t, &buf); len(got) != 1 || got[0]["msg"] != "call failed" {
		t.Fatalf("records %v", got)
	}
}
