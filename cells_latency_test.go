package retry_test

import (
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// A Quantile close to 1 is valid (Validate accepts anything in (0, 1)), and
// MinSamples zero means ⌈2/(1−Quantile)⌉ capped at Window: here Window. Once
// Window samples are in, Delay must leave the Fallback.
func TestLatencyExtremeQuantileLeavesFallback(t *testing.T) {
	for _, q := range []float64{0.999, 0.9999999999, 1 - 1e-15} {
		lt, err := retry.NewLatencyTracker(retry.LatencyTrackerConfig{Quantile: q, Window: 100, Fallback: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for range 200 {
			lt.Record(5 * time.Millisecond)
		}
		if d := lt.Delay(); d == time.Hour {
			t.Errorf("Quantile %v: Delay = %v (the Fallback) after 200 samples with Window 100; want the quantile (~5ms)", q, d)
		}
	}
}
