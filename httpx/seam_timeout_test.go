package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// An attempt that runs out of AttemptTimeout while the caller's context
// is live fails with an error that does not match context.Canceled, over
// HTTP/2 as over HTTP/1.1 (net/http's HTTP/2 returns the context's error,
// HTTP/1 its cause): nobody cancelled, the server was slow, and a breaker
// around the call must count it (found by TestModel).
func TestH2AttemptTimeoutIsCanceled(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		srv := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		})
		client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(2), AttemptTimeout: 20 * time.Millisecond})
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := client.Do(req)
		if resp != nil {
			resp.Body.Close()
			t.Fatalf("a response: %d", resp.StatusCode)
		}
		if errors.Is(err, context.Canceled) {
			t.Errorf("attempts timed out, the caller cancelled nothing, yet the error matches context.Canceled: %v", err)
		}

		// The same through a Guard around the call: two timed-out calls
		// should trip a breaker that trips after two failures.
		br, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 2, OpenDuration: time.Hour})
		for range 2 {
			retry.Guard(context.Background(), br, func(ctx context.Context) (int, error) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				resp, err := client.Do(req)
				if err != nil {
					return 0, err
				}
				resp.Body.Close()
				return resp.StatusCode, nil
			})
		}
		if st := br.State(); st != retry.BreakerOpen {
			t.Errorf("after two calls whose every attempt timed out, the breaker is %v, not open", st)
		}
	})
}

// With SplitDeadline, the last attempt allowed gets no share of its own:
// a call that runs out of the caller's time fails with
// context.DeadlineExceeded, as it does without SplitDeadline, not as an
// attempt timeout that raced the deadline by microseconds (found by
// TestModel, h2-s10-c41).
func TestSplitDeadlineLastAttemptRacesDeadline(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		srv := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		})
		for _, split := range []bool{false, true} {
			client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(1), SplitDeadline: split})
			bad := 0
			const runs = 60
			var last error
			for range runs {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				resp, err := client.Do(req)
				cancel()
				if resp != nil {
					resp.Body.Close()
					t.Fatalf("a response: %d", resp.StatusCode)
				}
				if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
					bad++
					last = err
				}
			}
			if bad > 0 {
				t.Errorf("SplitDeadline=%v: %d of %d calls that ran out of the caller's deadline failed with an error that does not match context.DeadlineExceeded, or matches context.Canceled; last: %v", split, bad, runs, last)
			}
		}
	})
}
