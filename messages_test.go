package retry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/retrykit/retry"
)

// refuseBudget is a Budget that refuses every extra attempt.
type refuseBudget struct{}

func (refuseBudget) First()      {}
func (refuseBudget) Extra() bool { return false }
func (refuseBudget) Result(bool) {}

// failsWith returns a call that fails with errs in turn, then succeeds.
func failsWith(errs ...error) func(context.Context) (int, error) {
	n := 0
	return func(context.Context) (int, error) {
		n++
		if n <= len(errs) {
			return 0, errs[n-1]
		}
		return n, nil
	}
}

// The messages of the common ways a call gives up, exactly: one line,
// "retry:" once, the count, the reason and the last error.
func TestErrorMessages(t *testing.T) {
	var (
		errRefused  = errors.New("connection refused")
		errNotFound = errors.New("not found")
		errA        = errors.New("a: 503")
		errB        = errors.New("b: 503")
	)
	instant := func(n int) *retry.Policy { return &retry.Policy{MaxAttempts: n, Backoff: retry.Constant{}} }
	canceled, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("shutting down"))
	openBreaker := func() *retry.Breaker {
		mock := clock.NewMock()
		b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Minute, Clock: mock})
		_, _ = retry.Guard(context.Background(), b, failsWith(errRefused))
		return b
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"exhausted", func() error {
			_, err := retry.Retry(context.Background(), instant(3), failsWith(errRefused, errRefused, errRefused))
			return err
		}, "retry: gave up after 3 attempts (attempts exhausted): connection refused"},
		{"one attempt allowed", func() error {
			_, err := retry.Retry(context.Background(), instant(1), failsWith(errRefused))
			return err
		}, "retry: gave up after 1 attempt (attempts exhausted): connection refused"},
		{"permanent at once", func() error {
			_, err := retry.Retry(context.Background(), instant(3), failsWith(retry.Permanent(errNotFound)))
			return err
		}, "retry: error is not retryable: not found"},
		{"permanent later", func() error {
			_, err := retry.Retry(context.Background(), instant(5), failsWith(errRefused, errRefused, retry.Permanent(errNotFound)))
			return err
		}, "retry: gave up after 3 attempts (error is not retryable): not found"},
		{"refused by Retryable", func() error {
			p := &retry.Policy{Retryable: func(err error) bool { return !errors.Is(err, errNotFound) }}
			_, err := retry.Retry(context.Background(), p, failsWith(errNotFound))
			return err
		}, "retry: error is not retryable: not found"},
		{"context done before", func() error {
			_, err := retry.Retry(canceled, nil, failsWith())
			return err
		}, "retry: no attempt made (context canceled: shutting down)"},
		{"pushback too long", func() error {
			_, err := retry.Retry(context.Background(), nil, failsWith(retry.After(errors.New("429 Too Many Requests"), 2*time.Minute)))
			return err
		}, "retry: server asked to wait 2m0s, more than the limit of 1m0s: 429 Too Many Requests"},
		{"budget", func() error {
			p := &retry.Policy{Budget: refuseBudget{}}
			_, err := retry.Retry(context.Background(), p, failsWith(errRefused))
			return err
		}, "retry: gave up after 1 attempt (budget exhausted): connection refused"},
		{"breaker alone", func() error {
			_, err := retry.Guard(context.Background(), openBreaker(), failsWith())
			return err
		}, "circuit breaker is open, next probe in 1m0s"},
		{"breaker in a retry", func() error {
			b := openBreaker()
			_, err := retry.Retry(context.Background(), instant(3), func(ctx context.Context) (int, error) {
				return retry.Guard(ctx, b, failsWith())
			})
			return err
		}, "retry: circuit breaker is open, next probe in 1m0s"},
		{"hedge", func() error {
			_, err := retry.Hedge(context.Background(), nil, failsWith(errA, errB))
			return err
		}, "retry: gave up after 2 hedged attempts (attempts exhausted): a: 503; b: 503"},
		{"hedge in a retry", func() error {
			fn := failsWith(errA, errB, errA, errB)
			_, err := retry.Retry(context.Background(), instant(2), func(ctx context.Context) (int, error) {
				return retry.Hedge(ctx, nil, fn)
			})
			return err
		}, "retry: gave up after 2 attempts (attempts exhausted): 2 hedged attempts failed: a: 503; b: 503"},
		{"permanent in a hedge in a retry", func() error {
			fn := failsWith(retry.Permanent(errNotFound))
			_, err := retry.Retry(context.Background(), instant(2), func(ctx context.Context) (int, error) {
				return retry.Hedge(ctx, nil, fn)
			})
			return err
		}, "retry: error is not retryable: 1 hedged attempt failed: not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("message\n %q, want\n %q", got, tt.want)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("message %q is not one line", err)
			}
		})
	}
}

// The errors of a hedge's attempts are joined on one line, and errors.Is
// and errors.As still reach each of them.
func TestHedgeErrorsJoinedOnOneLine(t *testing.T) {
	errA := &timeoutErr{t: true}
	errB := errors.New("b")
	_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3}, failsWith(errA, errB, errB))
	if !errors.Is(err, errB) || !errors.Is(err, retry.ErrExhausted) {
		t.Errorf("err = %v does not reach its causes", err)
	}
	if te, ok := errors.AsType[*timeoutErr](err); !ok || te != errA {
		t.Errorf("errors.As finds %v, want the first attempt's error", te)
	}
	if got, want := err.Error(), "retry: gave up after 3 hedged attempts (attempts exhausted): timeout=true; b; b"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

// The messages of calls that ran out of time, in a synctest bubble: an
// attempt's own timeout, the end of MaxElapsed and the caller's deadline
// each read differently.
func TestTimeoutMessages(t *testing.T) {
	tests := []struct {
		name     string
		deadline time.Duration // of the caller's context, if positive
		p        *retry.Policy
		fn       func(context.Context) error
		want     string
	}{
		{"attempt timeout", 0, &retry.Policy{MaxAttempts: 2, AttemptTimeout: time.Second, Backoff: retry.Constant{}}, hang,
			"retry: gave up after 2 attempts (attempts exhausted): attempt timed out after 1s"},
		{"attempt timeout, wrapped", 0, &retry.Policy{MaxAttempts: 2, AttemptTimeout: 1500 * time.Millisecond, Backoff: retry.Constant{}},
			func(ctx context.Context) error { return fmt.Errorf("GET /items: %w", hang(ctx)) },
			"retry: gave up after 2 attempts (attempts exhausted): attempt timed out after 1.5s: GET /items: context deadline exceeded"},
		{"attempt cut by MaxElapsed", 0, &retry.Policy{MaxElapsed: 5 * time.Second}, hang,
			"retry: gave up after 1 attempt (max elapsed time reached): context deadline exceeded"},
		{"wait past MaxElapsed", 0, &retry.Policy{MaxElapsed: 5 * time.Second, Backoff: retry.Constant{Interval: 10 * time.Second}},
			func(context.Context) error { return errTransient },
			"retry: gave up after 1 attempt (max elapsed time reached): transient"},
		{"caller's deadline", 2 * time.Second, &retry.Policy{AttemptTimeout: 5 * time.Second}, hang,
			"retry: gave up after 1 attempt (context deadline exceeded)"},
		{"wait past the caller's deadline", 2 * time.Second, &retry.Policy{Backoff: retry.Constant{Interval: 10 * time.Second}},
			func(context.Context) error { return errTransient },
			"retry: gave up after 1 attempt (next wait would pass the context deadline): transient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				if tt.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.deadline)
					defer cancel()
				}
				err := retry.Do(ctx, tt.p, tt.fn)
				if err == nil {
					t.Fatal("no error")
				}
				if got := err.Error(); got != tt.want {
					t.Errorf("message\n %q, want\n %q", got, tt.want)
				}
			})
		})
	}
}

// A breaker's wait reads rounded up to three significant digits, never as
// over before it is.
func TestBreakerWaitMessage(t *testing.T) {
	for wait, want := range map[time.Duration]string{
		29999999088 * time.Nanosecond:  "30s",
		1234560 * time.Microsecond:     "1.24s",
		850200 * time.Microsecond:      "851ms",
		time.Minute:                    "1m0s",
		42 * time.Microsecond:          "42µs",
		90*time.Minute + 1*time.Second: "1h30m10s",
	} {
		err := &retry.BreakerError{Reason: retry.ErrBreakerOpen, Wait: wait}
		if got := err.Error(); got != "circuit breaker is open, next probe in "+want {
			t.Errorf("Wait %v: %q, want next probe in %s", wait, got, want)
		}
	}
}
