package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/retrykit/retry"
)

// Hedge a call once its first attempt has been slow for 2ms: the second
// attempt wins, and the first is cancelled with ErrHedgeLost.
func ExampleHedge() {
	policy := &retry.HedgePolicy{MaxAttempts: 2, Delay: 2 * time.Millisecond}
	lost := make(chan error, 1)
	v, err := retry.Hedge(context.Background(), policy, func(ctx context.Context) (string, error) {
		a, _ := retry.AttemptFrom(ctx)
		if a.Number == 1 { // a slow replica
			<-ctx.Done()
			lost <- context.Cause(ctx)
			return "", ctx.Err()
		}
		return fmt.Sprintf("answer from attempt %d (hedge: %v)", a.Number, a.Hedge), nil
	})
	fmt.Println(v, err)
	fmt.Println("attempt 1:", <-lost)
	// Output:
	// answer from attempt 2 (hedge: true) <nil>
	// attempt 1: retry: lost the hedge race
}

// HedgeWithRelease keeps the winner's context alive while its result is
// still being read, here a streamed body, until release is called. A body
// that loses the race is closed by OnDiscard.
func ExampleHedgeWithRelease() {
	policy := &retry.HedgePolicy{
		Delay:     time.Millisecond,
		OnDiscard: func(v any) { v.(io.Closer).Close() },
	}
	body, release, err := retry.HedgeWithRelease(context.Background(), policy, func(ctx context.Context) (io.ReadCloser, error) {
		// A real call would return a body that reads from a connection
		// tied to ctx, e.g. an *http.Response's Body.
		return io.NopCloser(strings.NewReader("hello, hedging")), nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer release()
	defer body.Close()
	b, _ := io.ReadAll(body)
	fmt.Println(string(b))
	// Output: hello, hedging
}

// When every attempt fails, the error keeps each attempt's error.
func ExampleHedge_allFail() {
	attempt := 0
	errs := []error{errors.New("connection reset"), errors.New("503 Service Unavailable")}
	_, err := retry.Hedge(context.Background(), &retry.HedgePolicy{Delay: time.Hour}, func(ctx context.Context) (int, error) {
		a, _ := retry.AttemptFrom(ctx)
		attempt = max(attempt, a.Number)
		if a.Number == 1 {
			return 0, errs[0] // fails at once: attempt 2 starts without waiting for the delay
		}
		return 0, errs[1]
	})
	fmt.Println(errors.Is(err, errs[0]), errors.Is(err, errs[1]), errors.Is(err, retry.ErrExhausted), attempt)
	// Output: true true true 2
}

// A LatencyTracker per dependency turns recent latencies into a hedge
// delay: here the p90 of 1..160ms, within a floor and a ceiling. Quantiles
// come out at most 1/32 above the exact sample quantile, never below (for
// samples under 2⁴⁰ ns, about 18 minutes; longer ones are clipped).
func ExampleLatencyTracker() {
	tracker, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{
		Quantile: 0.9,
		Floor:    5 * time.Millisecond,
		Ceiling:  time.Second,
		Fallback: 50 * time.Millisecond, // until enough samples are in
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("no samples:", tracker.Delay())
	for i := 1; i <= 160; i++ {
		tracker.Record(time.Duration(i) * time.Millisecond)
	}
	p50, _ := tracker.Quantile(0.5)
	fmt.Println("p50:", p50.Round(time.Millisecond), "delay (p90):", tracker.Delay().Round(time.Millisecond))

	// A policy that hedges after the tracker's delay, and records into it.
	_ = &retry.HedgePolicy{Latency: tracker}

	_, err = retry.NewLatencyTracker(retry.LatencyTrackerConfig{Quantile: 1.5})
	fmt.Println(err)
	// Output:
	// no samples: 50ms
	// p50: 82ms delay (p90): 147ms
	// retry: invalid argument: LatencyTrackerConfig.Quantile is 1.5, outside (0, 1)
}

// A copy answered "overloaded" marks its error with StopHedging: no more
// copies start, but the first attempt, still running, is not cancelled,
// and wins.
func ExampleStopHedging() {
	errOverloaded := errors.New("503 overloaded")
	v, err := retry.Hedge(context.Background(), &retry.HedgePolicy{MaxAttempts: 3, Delay: 2 * time.Millisecond}, func(ctx context.Context) (string, error) {
		if a, _ := retry.AttemptFrom(ctx); a.Hedge {
			return "", retry.StopHedging(errOverloaded) // the copy is shed at once
		}
		select {
		case <-time.After(10 * time.Millisecond): // the first attempt is slow
			return "answer", nil
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
	})
	fmt.Println(v, err)
	// Output: answer <nil>
}
