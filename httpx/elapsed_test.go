package httpx_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// Retry.MaxElapsed bounds each attempt's wait for headers, as the end of
// the call; the body of the response returned is read after the attempt,
// through a context that lives until it is closed.
func TestBodyOutlivesMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		payload := strings.Repeat("b", 1<<16)
		base := &fakeBase{delays: []time.Duration{0}, body: payload}
		rt, err := httpx.New(httpx.Config{Base: base, Retry: &retry.Policy{MaxElapsed: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute) // long past MaxElapsed
		if got := readAll(t, resp); len(got) != len(payload) {
			t.Fatalf("read %d bytes, want %d", len(got), len(payload))
		}
	})
}

// An attempt still without headers when MaxElapsed ends is cut short, and
// the call stops with ErrElapsed.
func TestMaxElapsedCutsAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &fakeBase{delays: []time.Duration{time.Hour}}
		rt, err := httpx.New(httpx.Config{Base: base, Retry: &retry.Policy{MaxElapsed: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := rt.RoundTrip(req)
		if resp != nil || !errors.Is(err, retry.ErrElapsed) || base.n != 1 || time.Since(start) != time.Second {
			t.Fatalf("resp, err = %v, %v after %d attempts and %v; want ErrElapsed after 1 attempt and 1s", resp, err, base.n, time.Since(start))
		}
	})
}
