// Command flaky shows retries against a flaky service on loopback: a
// server that answers 503 to a share of requests, called with and without
// a retry policy.
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
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/retrykit/retry"
)

func main() {
	calls := flag.Int("calls", 200, "calls to make")
	failRate := flag.Float64("fail", 0.3, "share of requests the server fails with 503, in [0, 1)")
	attempts := flag.Int("attempts", 4, "attempts per call, the first included")
	seed := flag.Uint64("seed", 1, "seed of the server's failures")
	flag.Parse()
	if *failRate < 0 || *failRate >= 1 || *calls < 1 || *attempts < 1 {
		fmt.Fprintln(os.Stderr, "flaky: need -calls ≥ 1, -attempts ≥ 1 and -fail in [0, 1)")
		os.Exit(2)
	}

	var served atomic.Int64
	rng := rand.New(rand.NewPCG(*seed, *seed))
	var mu sync.Mutex // guards rng
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		mu.Lock()
		fail := rng.Float64() < *failRate
		mu.Unlock()
		if fail {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	errUnavailable := errors.New("503 Service Unavailable")
	get := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if err != nil {
			return retry.Permanent(err)
		}
		resp, err := http.DefaultClient.Do(req)
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

	policy := &retry.Policy{
		MaxAttempts: *attempts,
		Backoff:     retry.Exponential{Base: time.Millisecond, Max: 20 * time.Millisecond, Jitter: retry.FullJitter},
	}
	ctx := context.Background()
	fmt.Printf("server on %s fails %.0f%% of requests with 503; %d calls each way\n\n", srv.URL, *failRate*100, *calls)
	fmt.Printf("%-22s %10s %10s %10s\n", "", "succeeded", "failed", "requests")
	for _, run := range []struct {
		name   string
		policy *retry.Policy
	}{
		{"no retries", &retry.Policy{MaxAttempts: 1}},
		{fmt.Sprintf("retry.Do, %d attempts", *attempts), policy},
	} {
		served.Store(0)
		ok, failed := 0, 0
		var lastErr error
		for range *calls {
			if err := retry.Do(ctx, get, run.policy); err != nil {
				failed++
				lastErr = err
			} else {
				ok++
			}
		}
		fmt.Printf("%-22s %10d %10d %10d\n", run.name, ok, failed, served.Load())
		if lastErr != nil {
			fmt.Printf("%-22s last error: %v\n", "", lastErr)
		}
	}
	err := retry.Do(ctx, get, &retry.Policy{MaxAttempts: -1})
	fmt.Printf("\nbad input gets a clear error, not a panic:\n  %v\n", err)
}
