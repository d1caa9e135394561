package httpx_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// A user callback that panics (OnAttempt, Retryable) reaches the caller,
// and the response the attempt held is closed: its connection (and, over
// HTTP/1, its read and write goroutines) must not leak.
func TestPanickingCallbackLeaksResponse(t *testing.T) {
	type variant struct {
		name  string
		codes []int
		cfg   func(*httpx.Config)
	}
	boom := func() { panic("boom") }
	variants := []variant{
		{"OnAttempt/plain/200", []int{200}, func(c *httpx.Config) {
			c.OnAttempt = func(context.Context, httpx.AttemptEvent) { boom() }
		}},
		{"OnAttempt/plain/last503", []int{503}, func(c *httpx.Config) {
			n := 0
			c.OnAttempt = func(context.Context, httpx.AttemptEvent) {
				if n++; n == 2 {
					boom()
				}
			}
		}},
		{"OnAttempt/hedged/200", []int{200}, func(c *httpx.Config) {
			c.Hedge = &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour}
			c.OnAttempt = func(context.Context, httpx.AttemptEvent) { boom() }
		}},
		{"OnAttempt/once", []int{200}, func(c *httpx.Config) {
			c.MaxReplayBytes = 1
			c.OnAttempt = func(context.Context, httpx.AttemptEvent) { boom() }
		}},
		{"Retryable/plain", []int{200}, func(c *httpx.Config) {
			c.Retryable = func(*http.Response, error) bool { boom(); return false }
		}},
		{"Retryable/hedged", []int{200}, func(c *httpx.Config) {
			c.Hedge = &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour}
			c.Retryable = func(*http.Response, error) bool { boom(); return false }
		}},
	}
	for _, h2 := range []bool{false, true} {
		for _, v := range variants {
			t.Run(fmt.Sprintf("h2=%v/%s", h2, v.name), func(t *testing.T) {
				srv, tr := statusServer(t, h2, v.codes...)
				cfg := httpx.Config{Base: tr, Retry: fastPolicy(2)}
				v.cfg(&cfg)
				rt, err := httpx.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				body := http.NoBody
				req, _ := http.NewRequest("PUT", srv.URL, nil)
				if cfg.MaxReplayBytes == 1 {
					req, _ = http.NewRequest("PUT", srv.URL, &nopReader{n: 10})
					req.ContentLength = 10
				} else {
					req.Body = body
				}
				mustPanic(t, rt, req)
				waitFor(t, func() bool { return tr.open.Load() == 0 })
			})
		}
	}
}

type nopReader struct{ n int }

func (r *nopReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

// mustPanic sends req through rt, which must panic, and closes any
// response it got.
func mustPanic(t *testing.T, rt http.RoundTripper, req *http.Request) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic reached the caller")
		}
	}()
	resp, _ := rt.RoundTrip(req)
	if resp != nil {
		resp.Body.Close()
	}
}

// statusServer answers the codes in turn, each with a body, and returns a
// tracker of the response bodies its base transport hands out.
func statusServer(t *testing.T, h2 bool, codes ...int) (*script, *tracker) {
	var steps []http.HandlerFunc
	for _, c := range codes {
		steps = append(steps, status(c, "body"))
	}
	srv := newScript(t, h2, steps...)
	return srv, &tracker{base: srv.base(t)}
}
