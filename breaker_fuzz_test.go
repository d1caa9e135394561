package retry_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// FuzzBreakerConfig builds breakers from arbitrary settings: NewBreaker
// either refuses them with ErrInvalid or returns a breaker that then takes
// a run of calls (outcomes and durations from the input) without panic,
// with counts that stay within their bounds. Its seeds run as a plain test.
func FuzzBreakerConfig(f *testing.F) {
	f.Add(5, 0.0, int64(0), 0.0, int64(0), 0, int64(0), int64(0), 0, false, 0.0, int64(0), int64(0), 0, 0, []byte{0, 1, 0, 1})
	f.Add(0, 0.5, int64(time.Second), 0.5, int64(time.Second), 4, int64(10*time.Second), int64(time.Second), 0, false, 0.0,
		int64(time.Second), int64(8*time.Second), 2, 1, []byte{1, 1, 1, 0, 0, 255, 128, 3})
	f.Add(0, 0.0, int64(0), 0.0, int64(0), 0, int64(0), int64(0), 20, true, 3.0, int64(0), int64(0), 0, 0, []byte{1, 1, 1, 1, 1, 1})
	f.Add(-1, math.NaN(), int64(-1), 2.0, int64(-5), -3, int64(-1), int64(3), 1<<21, false, 0.5, int64(-1), int64(1), -1, -1, []byte{})
	f.Add(1, 1.0, int64(math.MaxInt64), 1.0, int64(math.MaxInt64), math.MaxInt32, int64(math.MaxInt64), int64(1), 0, true,
		math.Inf(1), int64(math.MaxInt64), int64(math.MaxInt64), math.MaxInt32, math.MaxInt32, []byte{7, 7, 7})
	f.Fuzz(func(t *testing.T, consecutive int, ratio float64, slowAt int64, slowRatio float64, maxAvg int64, minCalls int,
		window, bucket int64, windowCalls int, adaptive bool, k float64, open, maxOpen int64, probes, successes int, calls []byte) {
		clk := newStepClock()
		cfg := retry.BreakerConfig{
			ConsecutiveFailures: consecutive, FailureRatio: ratio,
			SlowCallThreshold: time.Duration(slowAt), SlowCallRatio: slowRatio, MaxAverageDuration: time.Duration(maxAvg),
			MinCalls: minCalls, Window: time.Duration(window), BucketPeriod: time.Duration(bucket), WindowCalls: windowCalls,
			Adaptive: adaptive, AdaptiveK: k, OpenDuration: time.Duration(open), MaxOpenDuration: time.Duration(maxOpen),
			HalfOpenProbes: probes, HalfOpenSuccesses: successes, Clock: clk, Rand: func() float64 { return 0.5 },
		}
		b, err := retry.NewBreaker(cfg)
		if validErr := cfg.Validate(); (err == nil) != (validErr == nil) {
			t.Fatalf("NewBreaker and Validate disagree: %v, %v", err, validErr)
		}
		if err != nil {
			if !errors.Is(err, retry.ErrInvalid) {
				t.Fatalf("NewBreaker = %v, want ErrInvalid", err)
			}
			return
		}
		if len(calls) > 256 {
			calls = calls[:256]
		}
		for _, c := range calls {
			// Low bits: the outcome; high bits: how long it took.
			done, rejected := b.Allow()
			if rejected != nil {
				var be *retry.BreakerError
				if !errors.As(rejected, &be) {
					t.Fatalf("rejection %v is not a *BreakerError", rejected)
				}
				clk.Add(time.Duration(c) * 100 * time.Millisecond)
				continue
			}
			clk.Add(time.Duration(c>>2) * 50 * time.Millisecond)
			switch c & 3 {
			case 0, 3:
				done(nil)
			case 1:
				done(errBoom)
			case 2:
				done(retry.After(errBoom, time.Duration(c)*time.Second))
			}
			s := b.Snapshot()
			if s.Failures > s.Calls || s.Slow > s.Calls || s.Calls < 0 || s.ConsecutiveFailures < 0 || s.Probes < 0 {
				t.Fatalf("snapshot out of bounds: %+v", s)
			}
			if st := s.State; st != retry.BreakerClosed && st != retry.BreakerOpen && st != retry.BreakerHalfOpen {
				t.Fatalf("state %v", st)
			}
		}
	})
}
