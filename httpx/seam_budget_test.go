package httpx_test

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// Config.Budget says "nil for none" and replaces Retry.Budget and
// Hedge.Budget. A sequential call with a nil per-request budget charges
// nothing; a hedged one must charge nothing either.
func TestNilPerRequestBudgetHedged(t *testing.T) {
	for _, hedged := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			base := &hedgeBase{delays: []time.Duration{0}, codes: []int{502, 502, 200}}
			rb := &countingBudget{}
			hb := &countingBudget{}
			cfg := httpx.Config{Base: base,
				Retry:  &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, Budget: rb},
				Budget: func(*http.Request) retry.Budget { return nil }}
			if hedged {
				cfg.Hedge = &retry.HedgePolicy{MaxAttempts: 2, Delay: 10 * time.Millisecond, Budget: hb}
			}
			rt, err := httpx.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			for name, b := range map[string]*countingBudget{"Retry.Budget": rb, "Hedge.Budget": hb} {
				got := [4]int32{b.first.Load(), b.extra.Load(), b.ok.Load(), b.failed.Load()}
				if got != [4]int32{} {
					t.Errorf("hedged=%v: %s charged First/Extra/ok/failed = %v although Config.Budget returned nil (none)", hedged, name, got)
				}
			}
		})
	}
}

// A base RoundTripper that itself retries (another httpx.Transport, or a
// hand-made one around retry.Do) returns a *retry.Error. The outer call's
// error must keep what that error says: here that the inner budget ran out.
func TestNestedRetryErrorKept(t *testing.T) {
	inner := &retry.Error{Attempts: 4, Reason: retry.ErrBudgetExhausted, Last: io.ErrUnexpectedEOF}
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) { return nil, inner })
	rt, err := httpx.New(httpx.Config{Base: base, Retry: &retry.Policy{MaxAttempts: 2, Backoff: retry.Constant{}}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	_, err = rt.RoundTrip(req)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, lost the inner Last", err)
	}
	if !errors.Is(err, retry.ErrBudgetExhausted) {
		t.Errorf("err = %v: the base transport's *retry.Error (Reason ErrBudgetExhausted) was replaced by its Last", err)
	}
	var re *retry.Error
	if errors.As(err, &re) && !errors.Is(re.Last, retry.ErrBudgetExhausted) {
		t.Errorf("outer Last = %v, want the base's *retry.Error", re.Last)
	}
}

// With Policy.WaitForProbe a call whose attempt is refused by an open
// breaker waits for the next probe. A hedged GET must do as a sequential
// one: its probe fails (502), the breaker reopens, and the call waits for
// the next probe, which succeeds. The hedge copy that the half-open breaker
// refused (ErrTooManyProbes) must not end the call.
func TestHedgedWaitForProbe(t *testing.T) {
	got := map[bool]int{}
	for _, hedged := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			br, _ := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second})
			done, _ := br.Allow()
			done(errors.New("down"))
			time.Sleep(time.Second) // half-open: the next call is the probe
			base := &hedgeBase{delays: []time.Duration{50 * time.Millisecond, 0}, codes: []int{502, 200}}
			cfg := httpx.Config{Base: base,
				Retry:   &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, WaitForProbe: true},
				Breaker: func(*http.Request) *retry.Breaker { return br }}
			if hedged {
				cfg.Hedge = &retry.HedgePolicy{MaxAttempts: 2, Delay: 10 * time.Millisecond}
			}
			rt, _ := httpx.New(cfg)
			req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Logf("hedged=%v: err %v", hedged, err)
				return
			}
			readAll(t, resp)
			got[hedged] = resp.StatusCode
		})
	}
	if got[false] != 200 || got[true] != 200 {
		t.Fatalf("status sequential %d, hedged %d; want 200 for both (wait for the next probe)", got[false], got[true])
	}
}
