package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// timeoutErr is a net.Error-like error whose Timeout reports t.
type timeoutErr struct{ t bool }

func (e timeoutErr) Error() string   { return fmt.Sprintf("timeout=%v", e.t) }
func (e timeoutErr) Timeout() bool   { return e.t }
func (e timeoutErr) Temporary() bool { return false }

// Regression: (*url.Error).Timeout type-asserts the error it wraps, so a
// *retry.Error without a Timeout method hid every timeout from callers of
// http.Client.
func TestErrorTimeoutThroughURLError(t *testing.T) {
	tests := []struct {
		name string
		err  *retry.Error
		want bool
	}{
		{"wait past deadline", &retry.Error{Attempts: 2, Reason: retry.ErrDeadline, Last: errTransient}, true},
		{"caller deadline", &retry.Error{Attempts: 1, Reason: context.DeadlineExceeded, Last: errTransient}, true},
		{"caller deadline with cause", &retry.Error{Attempts: 1,
			Reason: fmt.Errorf("%w: %w", context.DeadlineExceeded, errors.New("slow")), Last: errTransient}, true},
		{"attempt timed out", &retry.Error{Attempts: 3, Reason: retry.ErrExhausted,
			Last: fmt.Errorf("get: %w", context.DeadlineExceeded)}, true},
		{"net timeout deep in a join", &retry.Error{Attempts: 3, Reason: retry.ErrExhausted,
			Last: fmt.Errorf("dial: %w", errors.Join(errTransient, fmt.Errorf("read: %w", timeoutErr{true})))}, true},
		{"nested retry error", &retry.Error{Attempts: 1, Reason: retry.ErrNotRetryable,
			Last: &retry.Error{Attempts: 2, Reason: retry.ErrDeadline}}, true},
		{"max elapsed", &retry.Error{Attempts: 2, Reason: retry.ErrElapsed, Last: errTransient}, true},
		{"attempt timeout", &retry.Error{Attempts: 2, Reason: retry.ErrExhausted, Last: fmt.Errorf("%w", retry.ErrAttemptTimeout)}, true},
		{"exhausted", &retry.Error{Attempts: 3, Reason: retry.ErrExhausted, Last: errTransient}, false},
		{"Timeout false", &retry.Error{Attempts: 3, Reason: retry.ErrExhausted, Last: timeoutErr{false}}, false},
		{"canceled", &retry.Error{Attempts: 1, Reason: context.Canceled, Last: errTransient}, false},
		{"zero", &retry.Error{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Timeout(); got != tt.want {
				t.Errorf("Timeout() = %v, want %v", got, tt.want)
			}
			urlErr := &url.Error{Op: "Get", URL: "http://example.invalid", Err: tt.err}
			if got := urlErr.Timeout(); got != tt.want {
				t.Errorf("(*url.Error).Timeout() = %v, want %v", got, tt.want)
			}
		})
	}
}

// End to end: every attempt runs out of its AttemptTimeout, and the error
// that Do returns says so.
func TestErrorTimeoutAttemptTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
		err := retry.Do(context.Background(), &retry.Policy{MaxAttempts: 3,
			AttemptTimeout: time.Second, Backoff: retry.Constant{Interval: time.Second}}, fn)
		var re *retry.Error
		if !errors.As(err, &re) || !errors.Is(err, retry.ErrExhausted) {
			t.Fatalf("err = %v, want *Error with ErrExhausted", err)
		}
		if !re.Timeout() || !(&url.Error{Op: "Get", URL: "u", Err: err}).Timeout() {
			t.Errorf("Timeout() = false for %v", err)
		}
	})
}

// Regression: a hand-built Error with a nil Reason must not panic.
func TestErrorNilReason(t *testing.T) {
	for _, tt := range []struct {
		e    *retry.Error
		want string
	}{
		{&retry.Error{}, "retry: no attempt made (no reason given)"},
		{&retry.Error{Attempts: 2, Last: errTransient}, "retry: gave up after 2 attempts (no reason given): transient"},
	} {
		e := tt.e
		msg := e.Error()
		if msg != tt.want {
			t.Errorf("message %q, want %q", msg, tt.want)
		}
		if errors.Is(e, retry.ErrExhausted) || e.Timeout() {
			t.Errorf("%q matches a reason it does not have", msg)
		}
		if e.Last != nil && !errors.Is(e, errTransient) {
			t.Errorf("%q does not reach its Last", msg)
		}
		for _, u := range e.Unwrap() {
			if u == nil {
				t.Errorf("%q unwraps to a nil error", msg)
			}
		}
	}
}
