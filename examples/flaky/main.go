// Command flaky shows retries against a flaky service on loopback: a
// server that answers 503 to a share of requests, called three ways: a
// plain http.Client, retry.Do around it, and an httpx client.
//
//	go run ./examples/flaky
//	go run ./examples/flaky -calls 500 -fail 0.5 -attempts 5
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "flaky:", err)
		os.Exit(2)
	}
}

// run is the demonstration, with its flags and output as arguments.
func run(args []string, out io.Writer) error {
	flags := flag.NewFlagSet("flaky", flag.ContinueOnError)
	calls := flags.Int("calls", 200, "calls to make each way")
	failRate := flags.Float64("fail", 0.3, "share of requests the server fails with 503, in [0, 1)")
	attempts := flags.Int("attempts", 4, "attempts per call, the first included")
	seed := flags.Uint64("seed", 1, "seed of the server's failures")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *failRate < 0 || *failRate >= 1 || *calls < 1 || *attempts < 1 {
		return errors.New("need -calls ≥ 1, -attempts ≥ 1 and -fail in [0, 1)")
	}

	var served, conns atomic.Int64
	var mu sync.Mutex // guards rng
	rng := rand.New(rand.NewPCG(*seed, *seed))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		fail := rng.Float64() < *failRate
		mu.Unlock()
		if fail {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "stored %d bytes", len(body))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	policy := &retry.Policy{
		MaxAttempts: *attempts,
		Backoff:     retry.Exponential{Base: time.Millisecond, Max: 20 * time.Millisecond, Jitter: retry.FullJitter},
	}
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	plain := &http.Client{Transport: base}
	resilient, err := httpx.NewClient(httpx.Config{Base: base, Retry: policy})
	if err != nil {
		return err
	}

	errUnavailable := errors.New("503 Service Unavailable")
	// post sends a PUT (idempotent, so safe to retry) with a body.
	post := func(ctx context.Context, c *http.Client) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL, strings.NewReader(`{"order":42}`))
		if err != nil {
			return retry.Permanent(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode == http.StatusServiceUnavailable {
			return errUnavailable
		}
		return nil
	}

	ctx := context.Background()
	fmt.Fprintf(out, "server on %s fails %.0f%% of requests with 503; %d calls each way\n\n", srv.URL, *failRate*100, *calls)
	fmt.Fprintf(out, "%-30s %9s %7s %9s %12s\n", "", "succeeded", "failed", "requests", "connections")
	for _, run := range []struct {
		name string
		call func() error
	}{
		{"plain http.Client", func() error { return post(ctx, plain) }},
		{fmt.Sprintf("retry.Do, %d attempts", *attempts), func() error {
			return retry.Do(ctx, policy, func(ctx context.Context) error { return post(ctx, plain) })
		}},
		{fmt.Sprintf("httpx client, %d attempts", *attempts), func() error { return post(ctx, resilient) }},
	} {
		base.CloseIdleConnections()
		served.Store(0)
		conns.Store(0)
		ok, failed := 0, 0
		var lastErr error
		for range *calls {
			if err := run.call(); err != nil {
				failed++
				lastErr = err
			} else {
				ok++
			}
		}
		fmt.Fprintf(out, "%-30s %9d %7d %9d %12d\n", run.name, ok, failed, served.Load(), conns.Load())
		if lastErr != nil {
			fmt.Fprintf(out, "%-30s last error: %v\n", "", lastErr)
		}
	}
	fmt.Fprintln(out, "\nhttpx drains and closes every retried response, so one keep-alive connection serves all attempts.")
	err = retry.Do(ctx, &retry.Policy{MaxElapsed: -time.Second}, func(context.Context) error { return nil })
	fmt.Fprintf(out, "bad input gets a clear error, not a panic:\n  %v\n", err)
	return nil
}
