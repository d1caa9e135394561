package retry_test

import (
	"context"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// Durations above 2³¹ ns (about 2.1s) must validate as the plain
// comparisons say on every platform. Hedge once checked
// h.MaxAttempts|int(h.Delay) < 0, which on 386 truncated a Delay of 3s to
// a negative int: Hedge then took the error path, found nothing invalid,
// and returned (zero, nil) without calling fn. CI runs this test with
// GOARCH=386; on 64-bit it passes either way.
func TestLongDurationsOn32Bit(t *testing.T) {
	ctx := context.Background()
	for _, d := range []time.Duration{3 * time.Second, 1 << 31, 1<<32 - 1, time.Hour} {
		calls := 0
		fn := func(context.Context) (int, error) { calls++; return 42, nil }
		if v, err := retry.Hedge(ctx, &retry.HedgePolicy{Delay: d}, fn); v != 42 || err != nil || calls != 1 {
			t.Errorf("Hedge with Delay %v = %v, %v after %d calls; want 42, nil after 1", d, v, err, calls)
		}
		calls = 0
		p := &retry.Policy{MaxElapsed: d, AttemptTimeout: d, MaxAfter: d}
		if v, err := retry.Retry(ctx, p, fn); v != 42 || err != nil || calls != 1 {
			t.Errorf("Retry with durations %v = %v, %v after %d calls; want 42, nil after 1", d, v, err, calls)
		}
	}
}
