package retry_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// An attempt that panics ends the call: the attempts still running are
// cancelled, and the panic reaches the caller as a *PanicError.
func TestHedgeAttemptPanicCancelsTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		firstDone := make(chan error, 1)
		fn := func(ctx context.Context) (int, error) {
			a, _ := retry.AttemptFrom(ctx)
			if a.Number == 1 {
				<-ctx.Done()
				firstDone <- ctx.Err()
				return 0, ctx.Err()
			}
			panic("second attempt")
		}
		var got any
		func() {
			defer func() { got = recover() }()
			retry.Hedge(context.Background(), &retry.HedgePolicy{Delay: time.Millisecond}, fn)
		}()
		if pe, ok := got.(*retry.PanicError); !ok || pe.Value != "second attempt" {
			t.Fatalf("recovered %#v, want a *PanicError of the second attempt", got)
		}
		synctest.Wait()
		select {
		case err := <-firstDone:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("first attempt's context ended with %v, want Canceled", err)
			}
		default:
			t.Fatal("the first attempt is still running after the panic ended the call")
		}
	})
}

// A losing attempt that panics after the call was decided is not
// swallowed: OnDiscard receives it, once.
func TestHedgeLosersPanicReachesOnDiscard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var discarded atomic.Int32
		var last atomic.Value
		h := &retry.HedgePolicy{Delay: time.Millisecond, OnDiscard: func(v any) {
			discarded.Add(1)
			last.Store(v)
		}}
		fn := func(ctx context.Context) (int, error) {
			if a, _ := retry.AttemptFrom(ctx); a.Number == 1 {
				<-ctx.Done() // cancelled because the second won
				panic("loser")
			}
			return 2, nil
		}
		v, err := retry.Hedge(context.Background(), h, fn)
		if v != 2 || err != nil {
			t.Fatalf("Hedge = %v, %v; want 2, nil", v, err)
		}
		synctest.Wait()
		pe, ok := last.Load().(*retry.PanicError)
		if discarded.Load() != 1 || !ok || pe.Value != "loser" {
			t.Fatalf("OnDiscard got %d values, last %#v; want one *PanicError of the loser", discarded.Load(), last.Load())
		}
	})
}

// A server that asks for a wait of zero asks for the next copy at once:
// the call goes on without waiting for the hedge delay, and succeeds.
func TestHedgeZeroServerWaitGoesOnAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var secondAt time.Duration
		fn := func(ctx context.Context) (int, error) {
			if a, _ := retry.AttemptFrom(ctx); a.Number == 1 {
				return 0, retry.After(errTransient, 0)
			}
			secondAt = time.Since(start)
			return 2, nil
		}
		v, err := retry.Hedge(context.Background(), &retry.HedgePolicy{Delay: time.Hour}, fn)
		if v != 2 || err != nil {
			t.Fatalf("Hedge = %v, %v; want the second attempt's 2", v, err)
		}
		if secondAt != 0 {
			t.Fatalf("second attempt started after %v, want at once", secondAt)
		}
	})
}
