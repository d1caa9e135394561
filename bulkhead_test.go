package retry_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// admitters returns a fresh Bulkhead and Limiter with a limit of n calls
// in flight and the given queue, for tests that hold for both.
func admitters(t *testing.T, n, waiters int, maxWait time.Duration) map[string]retry.Admitter {
	t.Helper()
	b, err := retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: n, MaxWaiters: waiters, MaxWait: maxWait, RetryAfter: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l, err := retry.NewLimiter(retry.LimiterConfig{InitialLimit: n, MinLimit: n, MaxLimit: n, MaxWaiters: waiters, MaxWait: maxWait, RetryAfter: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]retry.Admitter{"bulkhead": b, "limiter": l}
}

// hold admits a call through a and keeps it in flight until release is
// closed; it returns once the call is in flight.
func hold(t *testing.T, wg *sync.WaitGroup, a retry.Admitter, release <-chan struct{}) {
	t.Helper()
	in := make(chan struct{})
	wg.Go(func() {
		_, err := retry.Admit(context.Background(), a, func(context.Context) (int, error) {
			close(in)
			<-release
			return 0, nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-in
}

func TestAdmitRefusesPastLimitWithPushback(t *testing.T) {
	for name, a := range admitters(t, 2, 0, 0) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			release := make(chan struct{})
			hold(t, &wg, a, release)
			hold(t, &wg, a, release)
			called := false
			_, err := retry.Admit(context.Background(), a, func(context.Context) (int, error) {
				called = true
				return 0, nil
			})
			close(release)
			wg.Wait()
			se, ok := errors.AsType[*retry.ShedError](err)
			if called || !ok || se.Reason != retry.ErrLimitReached || se.Limit != 2 || se.Wait != 3*time.Second {
				t.Fatalf("called %v, err %v (%#v), want a refusal for ErrLimitReached with limit 2 and wait 3s", called, err, se)
			}
			if d, ok := retry.RequestedDelay(err); !ok || d != 3*time.Second {
				t.Errorf("RequestedDelay = %v, %v; want 3s, true", d, ok)
			}
			if !errors.Is(err, retry.ErrLimitReached) {
				t.Errorf("errors.Is(err, ErrLimitReached) is false")
			}
			want := "retry: load shed (concurrency limit reached, limit 2); retry after 3s"
			if err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
			// The slots are free again.
			if _, err := retry.Admit(context.Background(), a, func(context.Context) (int, error) { return 0, nil }); err != nil {
				t.Errorf("after the calls ended: %v", err)
			}
		})
	}
}

func TestAdmitQueueBoundsAndTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for name, a := range admitters(t, 1, 1, 50*time.Millisecond) {
			var wg sync.WaitGroup
			release := make(chan struct{})
			hold(t, &wg, a, release)
			// One call may wait; it times out after MaxWait.
			waited := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := retry.Admit(context.Background(), a, func(context.Context) (int, error) { return 0, nil })
				waited <- err
			}()
			synctest.Wait()
			// The queue is full: the next is refused at once.
			_, err := retry.Admit(context.Background(), a, func(context.Context) (int, error) { return 0, nil })
			if !errors.Is(err, retry.ErrLimitReached) {
				t.Errorf("%s: with the queue full: %v, want ErrLimitReached", name, err)
			}
			err = <-waited
			if !errors.Is(err, retry.ErrWaitTimeout) || time.Since(start) != 50*time.Millisecond {
				t.Errorf("%s: the waiter got %v after %v, want ErrWaitTimeout after 50ms", name, err, time.Since(start))
			}
			close(release)
			wg.Wait()
		}
	})
}

func TestAdmitWaiterGetsFreedSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for name, a := range admitters(t, 1, 4, 0) {
			var wg sync.WaitGroup
			release := make(chan struct{})
			hold(t, &wg, a, release)
			var order []int
			var mu sync.Mutex
			var waiters sync.WaitGroup
			for i := range 3 {
				waiters.Go(func() {
					_, err := retry.Admit(context.Background(), a, func(context.Context) (int, error) {
						mu.Lock()
						order = append(order, i)
						mu.Unlock()
						time.Sleep(time.Millisecond)
						return 0, nil
					})
					if err != nil {
						t.Errorf("%s: waiter %d: %v", name, i, err)
					}
				})
				synctest.Wait() // queued in this order
			}
			close(release)
			waiters.Wait()
			wg.Wait()
			if len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
				t.Errorf("%s: waiters ran in order %v, want [0 1 2] (FIFO)", name, order)
			}
		}
	})
}

func TestAdmitWaiterCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for name, a := range admitters(t, 1, 4, 0) {
			var wg sync.WaitGroup
			release := make(chan struct{})
			hold(t, &wg, a, release)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				_, err := retry.Admit(ctx, a, func(context.Context) (int, error) {
					t.Errorf("%s: a cancelled waiter ran", name)
					return 0, nil
				})
				errc <- err
			}()
			synctest.Wait()
			cancel()
			if err := <-errc; err != context.Canceled {
				t.Errorf("%s: cancelled waiter got %v, want context.Canceled", name, err)
			}
			close(release)
			wg.Wait()
			// Its place is gone: one call fits again, and another waits.
			if _, err := retry.Admit(context.Background(), a, func(context.Context) (int, error) { return 0, nil }); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

// TestAdmitCancelStress cancels waiters while slots are freed and handed
// over, from many goroutines (run with -race): no slot may be lost or
// doubled, and no goroutine left behind (goleak in TestMain).
func TestAdmitCancelStress(t *testing.T) {
	for name, a := range admitters(t, 3, 8, 0) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			inflight, most := 0, 0
			for i := range 200 {
				wg.Go(func() {
					ctx, cancel := context.WithCancel(context.Background())
					if i%3 == 0 {
						go cancel()
					}
					defer cancel()
					retry.Admit(ctx, a, func(context.Context) (int, error) {
						mu.Lock()
						inflight++
						most = max(most, inflight)
						mu.Unlock()
						time.Sleep(10 * time.Microsecond)
						mu.Lock()
						inflight--
						mu.Unlock()
						return 0, nil
					})
				})
			}
			wg.Wait()
			if most > 3 {
				t.Errorf("%d calls in flight at once, limit 3", most)
			}
			// Every slot came back: three calls hold at once.
			release := make(chan struct{})
			var held sync.WaitGroup
			for range 3 {
				hold(t, &held, a, release)
			}
			close(release)
			held.Wait()
		})
	}
}

func TestAdmitPanicFreesSlot(t *testing.T) {
	for name, a := range admitters(t, 1, 0, 0) {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: the panic did not go on", name)
				}
			}()
			retry.Admit(context.Background(), a, func(context.Context) (int, error) { panic("boom") })
		}()
		if _, err := retry.Admit(context.Background(), a, func(context.Context) (int, error) { return 0, nil }); err != nil {
			t.Errorf("%s: after a panic: %v", name, err)
		}
	}
}

func TestAdmitBadInput(t *testing.T) {
	ok := func(context.Context) (int, error) { return 0, nil }
	var nilLimiter *retry.Limiter
	var nilBulkhead *retry.Bulkhead
	for name, call := range map[string]func() error{
		"nil admitter":  func() error { _, err := retry.Admit(context.Background(), nil, ok); return err },
		"nil *Limiter":  func() error { _, err := retry.Admit(context.Background(), nilLimiter, ok); return err },
		"nil *Bulkhead": func() error { _, err := retry.Admit(context.Background(), nilBulkhead, ok); return err },
		"nil ctx":       func() error { _, err := retry.Admit(nil, &retry.Limiter{}, ok); return err }, //nolint:staticcheck // bad input on purpose
		"nil fn":        func() error { _, err := retry.Admit[int](context.Background(), &retry.Bulkhead{}, nil); return err },
	} {
		if err := call(); !errors.Is(err, retry.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	for name, err := range map[string]error{
		"bulkhead MaxConcurrent": retry.BulkheadConfig{MaxConcurrent: -1}.Validate(),
		"bulkhead MaxWaiters":    retry.BulkheadConfig{MaxWaiters: -1}.Validate(),
		"bulkhead MaxWait":       retry.BulkheadConfig{MaxWait: -1}.Validate(),
		"bulkhead RetryAfter":    retry.BulkheadConfig{RetryAfter: -1}.Validate(),
		"limiter Min>Max":        retry.LimiterConfig{MinLimit: 5, MaxLimit: 4}.Validate(),
		"limiter Initial<Min":    retry.LimiterConfig{MinLimit: 5, InitialLimit: 4}.Validate(),
		"limiter Initial>Max":    retry.LimiterConfig{MaxLimit: 5, InitialLimit: 6}.Validate(),
		"limiter Min>default":    retry.LimiterConfig{MinLimit: 5000}.Validate(),
		"limiter Tolerance<1":    retry.LimiterConfig{Tolerance: 0.5}.Validate(),
		"limiter Backoff 1":      retry.LimiterConfig{Backoff: 1}.Validate(),
		"limiter negative wait":  retry.LimiterConfig{MaxWait: -1}.Validate(),
		"limiter negative queue": retry.LimiterConfig{MaxWaiters: -1}.Validate(),
	} {
		if !errors.Is(err, retry.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := retry.NewLimiter(retry.LimiterConfig{Backoff: 2}); !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("NewLimiter with a bad config: %v", err)
	}
	if _, err := retry.NewBulkhead(retry.BulkheadConfig{MaxWaiters: -2}); !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("NewBulkhead with a bad config: %v", err)
	}
}

func TestAdmitZeroValues(t *testing.T) {
	var b retry.Bulkhead
	var l retry.Limiter
	if b.Limit() != 10 || l.Limit() != 20 {
		t.Errorf("zero values: bulkhead limit %d, limiter limit %d; want 10 and 20", b.Limit(), l.Limit())
	}
	for _, a := range []retry.Admitter{&b, &l} {
		if v, err := retry.Admit(context.Background(), a, func(context.Context) (int, error) { return 7, nil }); v != 7 || err != nil {
			t.Errorf("%T: %v, %v", a, v, err)
		}
	}
}
