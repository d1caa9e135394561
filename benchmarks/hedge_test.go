package benchmarks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/hedgepolicy"

	"github.com/retrykit/retry"
)

// hedgers returns no hedging (the baseline), this library's Hedge and
// failsafe-go's hedge policy: at most 2 attempts, the second after
// hedgeDelay.
func hedgers() []policy {
	fixed := &retry.HedgePolicy{MaxAttempts: 2, Delay: hedgeDelay}
	// failsafe-go: hedgepolicy.NewWithDelay ("WithMaxHedges ... 1 by
	// default"), an executor shared, and the execution's context passed to
	// each attempt so that a losing one is cancelled, as its docs show.
	// https://pkg.go.dev/github.com/failsafe-go/failsafe-go/hedgepolicy#NewWithDelay
	// https://failsafe-go.dev/hedge/
	fs := failsafe.With(hedgepolicy.NewWithDelay[int](hedgeDelay))
	return []policy{
		{"none", func(ctx context.Context, fn func(context.Context) (int, error)) (int, error) { return fn(ctx) }},
		{"retry", func(ctx context.Context, fn func(context.Context) (int, error)) (int, error) {
			return retry.Hedge(ctx, fixed, fn)
		}},
		{"failsafe", func(ctx context.Context, fn func(context.Context) (int, error)) (int, error) {
			return fs.WithContext(ctx).GetWithExecution(func(e failsafe.Execution[int]) (int, error) { return fn(e.Context()) })
		}},
	}
}

// BenchmarkHedgeTail runs the tail workload in process through each
// hedger in turn (see compareTail for the metrics). The delays are real.
func BenchmarkHedgeTail(b *testing.B) {
	w := newTail()
	ctx := context.Background()
	var cs []tailContender
	for _, h := range hedgers() {
		cs = append(cs, tailContender{h.name, func(run int64, i int) error {
			v, err := h.call(ctx, func(ctx context.Context) (int, error) { return w.attempt(ctx, run, i) })
			if err == nil && v != i {
				err = fmt.Errorf("got %d", v)
			}
			return err
		}})
	}
	compareTail(b, w, cs)
}

// BenchmarkHedgeTailHTTP runs the tail workload over HTTP/1.1 on loopback,
// through a plain client and each hedging client in turn (see compareTail
// for the metrics); the load is the requests that reached the server per
// call.
func BenchmarkHedgeTailHTTP(b *testing.B) {
	w := newTail()
	srv, tr := loopback(b, w.handler(), false)
	w.conns = &srv.conns
	var cs []tailContender
	for _, c := range append([]namedClient{{"plain", &http.Client{Transport: tr}}}, hedgeClients(tr)...) {
		cs = append(cs, tailContender{c.name, func(run int64, i int) error { return tailGet(c.client, srv.URL, run, i) }})
	}
	compareTail(b, w, cs)
}

// tailGet is call i of run over HTTP: it must end in 200 "ok".
func tailGet(c *http.Client, url string, run int64, i int) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Run", strconv.FormatInt(run, 10))
	req.Header.Set("X-Call", strconv.Itoa(i))
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil && (resp.StatusCode != 200 || string(body) != "ok") {
		err = fmt.Errorf("%d %q", resp.StatusCode, body)
	}
	return err
}
