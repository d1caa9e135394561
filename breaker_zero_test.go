package retry_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// The zero Breaker used to admit every call (its tickets had no stats, so
// each outcome was taken for a probe's) and flip state oddly. It now
// behaves as NewBreaker(BreakerConfig{}).
func TestZeroBreakerHasDefaults(t *testing.T) {
	var b retry.Breaker
	if s := b.Snapshot(); s.State != retry.BreakerClosed || s.Generation != 1 {
		t.Fatalf("fresh zero Breaker: %+v", s)
	}
	for i := range 5 - 1 {
		if err := call(&b, nil, 0, errBoom); !errors.Is(err, errBoom) || b.State() != retry.BreakerClosed {
			t.Fatalf("failure %d: %v, %v; want boom, closed", i+1, err, b.State())
		}
	}
	if err := call(&b, nil, 0, nil); err != nil || b.Snapshot().ConsecutiveFailures != 0 {
		t.Fatalf("success: %v, %+v; want the failure run reset", err, b.Snapshot())
	}
	for range 5 {
		call(&b, nil, 0, errBoom)
	}
	if b.State() != retry.BreakerOpen {
		t.Fatalf("after %d failures: %v, want open", 5, b.State())
	}
	for i := range 3 {
		err := call(&b, nil, 0, nil)
		var rej *retry.BreakerError
		if !errors.As(err, &rej) || !errors.Is(err, retry.ErrBreakerOpen) || rej.Wait <= 0 || rej.Wait > (30*time.Second) {
			t.Fatalf("call %d while open: %v; want ErrBreakerOpen with a wait of at most %v", i, err, (30 * time.Second))
		}
	}
	if done, err := b.Allow(); !errors.Is(err, retry.ErrBreakerOpen) {
		t.Fatalf("Allow while open: %v", err)
	} else {
		done(nil)
	}
}

// Goroutines that race to use a zero Breaker first all see it set up once.
func TestZeroBreakerConcurrentFirstUse(t *testing.T) {
	var b retry.Breaker
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 3 {
			case 0:
				b.Snapshot()
			case 1:
				done, err := b.Allow()
				if err != nil {
					t.Error(err)
				}
				done(nil)
			default:
				if _, err := retry.Guard(context.Background(), &b, func(context.Context) (int, error) { return 1, nil }); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if s := b.Snapshot(); s.State != retry.BreakerClosed || s.Generation != 1 {
		t.Fatalf("after concurrent first use: %+v", s)
	}
}

func TestAllowNilBreaker(t *testing.T) {
	var b *retry.Breaker
	done, err := b.Allow()
	if !errors.Is(err, retry.ErrInvalid) || done == nil {
		t.Fatalf("nil Breaker: Allow = %v, %v; want a done and ErrInvalid", done != nil, err)
	}
	done(nil)
}
