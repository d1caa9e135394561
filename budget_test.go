package retry_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/internal/stepclock"
)

func TestTokenBucketZeroValue(t *testing.T) {
	var b retry.TokenBucket
	if b.Tokens() != 10 || !b.Extra() {
		t.Fatalf("zero bucket: %v tokens, Extra %v", b.Tokens(), b.Extra())
	}
	for range 4 {
		b.Result(false)
	}
	if !b.Extra() { // 6 > 5
		t.Fatalf("6 tokens left: Extra refused")
	}
	b.Result(false)
	if b.Extra() { // 5 is not above half of 10
		t.Fatalf("5 tokens left: Extra allowed")
	}
	b.Result(true)
	if got := b.Tokens(); math.Abs(got-5.1) > 1e-9 || !b.Extra() {
		t.Fatalf("after a success: %v tokens, Extra %v", got, b.Extra())
	}
	for range 100 {
		b.Result(false)
	}
	if b.Tokens() != 0 {
		t.Fatalf("tokens below zero: %v", b.Tokens())
	}
	for range 1000 {
		b.Result(true)
	}
	if b.Tokens() != 10 {
		t.Fatalf("tokens above max: %v", b.Tokens())
	}
}

func TestNewTokenBucket(t *testing.T) {
	b, err := retry.NewTokenBucket(retry.TokenBucketConfig{MaxTokens: 100, TokenRatio: 0.5})
	if err != nil || b.Tokens() != 100 {
		t.Fatalf("%v, %v", b, err)
	}
	b.Result(false)
	b.Result(true)
	if got := b.Tokens(); got != 99.5 {
		t.Fatalf("after a failure and a success: %v tokens, want 99.5", got)
	}
	for _, cfg := range []retry.TokenBucketConfig{
		{MaxTokens: 10}, {TokenRatio: 0.1}, // the other field's default
	} {
		b, err := retry.NewTokenBucket(cfg)
		if err != nil || b.Tokens() != 10 {
			t.Fatalf("NewTokenBucket(%+v) = %v, %v; want 10 tokens", cfg, b, err)
		}
	}
}

// Regression: NewTokenBucket(0.0004, 0.1) passed the range check but
// stored 0 thousandths, which the zero-value logic read as the default of
// 10 tokens. Values that round below one thousandth are errors; the
// smallest that do not are kept as they are.
func TestNewTokenBucketBelowOneThousandth(t *testing.T) {
	for _, cfg := range []retry.TokenBucketConfig{
		{MaxTokens: 0.0004}, {MaxTokens: 1e-300}, {TokenRatio: 0.0004}, {TokenRatio: 1e-9},
	} {
		if b, err := retry.NewTokenBucket(cfg); !errors.Is(err, retry.ErrInvalid) || b != nil {
			t.Errorf("NewTokenBucket(%+v) = %v, %v; want ErrInvalid", cfg, b, err)
		}
	}
	b, err := retry.NewTokenBucket(retry.TokenBucketConfig{MaxTokens: 0.0006, TokenRatio: 0.0006})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Tokens(); got != 0.001 {
		t.Fatalf("MaxTokens 0.0006: the bucket holds %v tokens, want 0.001", got)
	}
	b.Result(false)
	if got := b.Tokens(); got != 0 {
		t.Fatalf("after a failure: %v tokens, want 0", got)
	}
	b.Result(true)
	if got := b.Tokens(); got != 0.001 {
		t.Fatalf("a success gave back %v tokens, want 0.001", got)
	}
}

func TestRatioBudget(t *testing.T) {
	mock := newStepClock()
	b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.1, MinPerSecond: retry.None, Clock: mock})
	if err != nil {
		t.Fatal(err)
	}
	if b.Extra() {
		t.Fatal("no first attempts yet, but an extra was allowed")
	}
	for range 100 {
		b.First()
	}
	for i := range 10 {
		if !b.Extra() {
			t.Fatalf("extra %d of 10 refused", i+1)
		}
	}
	if b.Extra() {
		t.Fatal("an 11th extra for 100 first attempts was allowed")
	}
	// The counts roll out of the window a slice at a time.
	mock.Add((10 * time.Second))
	if b.Extra() {
		t.Fatal("the window has passed, but old first attempts still count")
	}
	// A long idle gap: every stale bucket is ignored.
	mock.Add(1000 * time.Hour)
	b.First()
	if b.Extra() {
		t.Fatal("1 first attempt after an idle gap earns 0.1 extras, not 1")
	}
}

func TestRatioBudgetMinPerSecond(t *testing.T) {
	mock := newStepClock()
	b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: retry.None, MinPerSecond: 2, Window: 5 * time.Second, Clock: mock})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		b.First() // earns nothing with Ratio None
	}
	for i := range 10 {
		if !b.Extra() {
			t.Fatalf("extra %d of the minimum 10 refused", i+1)
		}
	}
	if b.Extra() {
		t.Fatal("more than MinPerSecond·Window extras allowed")
	}
	mock.Add(5 * time.Second)
	if !b.Extra() {
		t.Fatal("the minimum did not come back once the window passed")
	}
}

// A refused retry ends the call at once, with the last error and a reason
// the caller can tell apart.
func TestBudgetRefusalStopsRetry(t *testing.T) {
	var b retry.TokenBucket
	for range 5 {
		b.Result(false) // at half: no more extras
	}
	clk := newStepClock()
	fn, calls := failing(10, errTransient)
	err := retry.Do(context.Background(), &retry.Policy{MaxAttempts: 4, Budget: &b,
		Backoff: retry.Constant{Interval: time.Second}, Clock: clk}, fn)
	if !errors.Is(err, retry.ErrBudgetExhausted) || !errors.Is(err, errTransient) {
		t.Fatalf("err = %v", err)
	}
	if *calls != 1 || len(clk.Waits()) != 0 {
		t.Fatalf("calls = %d, waits = %v; want 1 call and no wait", *calls, clk.Waits())
	}
}

// The bucket learns from the calls: failures drain it, successes refill it,
// and errors that are not retryable count as neither.
func TestBudgetCountsOutcomes(t *testing.T) {
	var b retry.TokenBucket
	p := &retry.Policy{MaxAttempts: 3, Budget: &b, Backoff: retry.Constant{}}
	fn, _ := failing(2, errTransient)
	if err := retry.Do(context.Background(), p, fn); err != nil {
		t.Fatal(err)
	}
	if got := b.Tokens(); math.Abs(got-8.1) > 1e-9 {
		t.Fatalf("after 2 failures and 1 success: %v tokens, want 8.1", got)
	}
	_ = retry.Do(context.Background(), p, func(context.Context) error { return retry.Permanent(errTransient) })
	if got := b.Tokens(); math.Abs(got-8.1) > 1e-9 {
		t.Fatalf("a permanent error changed the tokens to %v", got)
	}
}

func TestBudgetSharedConcurrent(t *testing.T) {
	mock := newStepClock()
	rb, _ := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.5, Clock: mock})
	for _, b := range []retry.Budget{&retry.TokenBucket{}, rb} {
		p := &retry.Policy{MaxAttempts: 3, Budget: b, Backoff: retry.Constant{}}
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				fn, _ := failing(i%3, errTransient)
				err := retry.Do(context.Background(), p, fn)
				if err != nil && !errors.Is(err, retry.ErrBudgetExhausted) {
					t.Errorf("goroutine %d: %v", i, err)
				}
			})
		}
		wg.Wait()
	}
}

func TestMarkAttempts(t *testing.T) {
	var seen []retry.Attempt
	fn := func(ctx context.Context) error {
		a, ok := retry.AttemptFrom(ctx)
		if !ok {
			t.Error("attempt not marked")
		}
		seen = append(seen, a)
		if len(seen) < 3 {
			return errTransient
		}
		return nil
	}
	if err := retry.Do(context.Background(), &retry.Policy{MarkAttempts: true, Backoff: retry.Constant{}}, fn); err != nil {
		t.Fatal(err)
	}
	want := []retry.Attempt{{Number: 1}, {Number: 2}, {Number: 3}}
	if len(seen) != 3 || seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] {
		t.Fatalf("attempts = %v, want %v", seen, want)
	}
	_ = retry.Do(context.Background(), nil, func(ctx context.Context) error {
		if _, ok := retry.AttemptFrom(ctx); ok {
			t.Error("marked without MarkAttempts")
		}
		return nil
	})
}

// The zero RatioBudget (which used to refuse every extra attempt) has the
// documented defaults: a floor of 10 extras a second and 0.2 per first
// attempt, over a 10s window.
func TestRatioBudgetZeroValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b retry.RatioBudget
		extras := func() int {
			n := 0
			for b.Extra() {
				n++
			}
			return n
		}
		if n := extras(); n != 100 {
			t.Fatalf("with no first attempt: %d extras, want the floor of 10/s over 10s, 100", n)
		}
		for range 1000 {
			b.First()
		}
		if n := extras(); n != 200 {
			t.Fatalf("after 1000 first attempts: %d more extras, want 0.2 each, 200", n)
		}
		time.Sleep(10 * time.Second)
		if n := extras(); n != 100 {
			t.Fatalf("once the window has passed: %d extras, want 100", n)
		}
		// Used as a Policy's Budget, it lets a failing call retry.
		var fresh retry.RatioBudget
		fn, calls := failing(2, errTransient)
		if err := retry.Do(context.Background(), &retry.Policy{Budget: &fresh, Backoff: retry.Constant{}}, fn); err != nil || *calls != 3 {
			t.Fatalf("err = %v after %d calls; want success at the third", err, *calls)
		}
	})
}

// RatioBudgetConfig's None turns off the ratio or the floor, which a zero
// field cannot (it means the default); both None refuse every extra.
func TestRatioBudgetNone(t *testing.T) {
	for _, tt := range []struct {
		cfg  retry.RatioBudgetConfig
		want int // extras allowed after 100 first attempts
	}{
		{retry.RatioBudgetConfig{}, 100 + 20},
		{retry.RatioBudgetConfig{MinPerSecond: retry.None}, 20},
		{retry.RatioBudgetConfig{Ratio: retry.None}, 100},
		{retry.RatioBudgetConfig{Ratio: retry.None, MinPerSecond: retry.None}, 0},
		{retry.RatioBudgetConfig{Ratio: 0.5, MinPerSecond: 1}, 10 + 50},
	} {
		tt.cfg.Clock = newStepClock()
		b, err := retry.NewRatioBudget(tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		for range 100 {
			b.First()
		}
		n := 0
		for b.Extra() {
			n++
		}
		if n != tt.want {
			t.Errorf("%+v: %d extras after 100 first attempts, want %d", tt.cfg, n, tt.want)
		}
	}
}

// Regression: epochs came from UnixNano, so a clock before 1970 gave a
// negative bucket index and a panic (and the year 1 overflowed UnixNano).
func TestRatioBudgetClockBefore1970(t *testing.T) {
	for _, start := range []time.Time{
		time.Date(1960, 6, 1, 0, 0, 0, 0, time.UTC),
		{}, // year 1: the zero time
	} {
		clk := stepclock.New(start)
		b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.5, MinPerSecond: retry.None, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			b.First()
			clk.Add(137 * time.Millisecond)
		}
		for i := range 5 {
			if !b.Extra() {
				t.Fatalf("start %v: extra %d of 5 refused", start, i+1)
			}
		}
		if b.Extra() {
			t.Fatalf("start %v: a 6th extra for 10 first attempts at 0.5", start)
		}
	}
}

// Regression: a clock that goes backwards must never index out of range
// nor forget the counts: time stands still for the budget until the clock
// catches up.
func TestRatioBudgetClockGoesBack(t *testing.T) {
	clk := newStepClock()
	b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.5, MinPerSecond: retry.None, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		b.First()
	}
	clk.Add(3 * time.Second) // a later slice of the same window
	for range 6 {
		b.First()
	}
	for i, back := range []time.Duration{1500 * time.Millisecond, time.Hour, 1<<63 - 1} {
		clk.Add(-back)
		if !b.Extra() {
			t.Fatalf("back by %v: extra %d of 5 refused", back, i+1)
		}
		clk.Add(back)
	}
	for i := 4; i <= 5; i++ {
		if !b.Extra() {
			t.Fatalf("extra %d of 5 refused", i)
		}
	}
	if b.Extra() {
		t.Fatal("a 6th extra for 10 first attempts at 0.5")
	}
	clk.Add(-time.Hour)
	if b.Extra() {
		t.Fatal("a 6th extra once the clock went back")
	}
	// Once the clock passes the latest time seen, counts leave the window
	// as usual.
	clk.Add(time.Hour + (10 * time.Second))
	b.First()
	if b.Extra() {
		t.Fatal("the window has passed, but old first attempts still count")
	}
}

// As Policy.Budget's doc says: Extra is asked before the wait, so a retry
// whose wait is cancelled has already been charged to a RatioBudget.
func TestBudgetChargedBeforeWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// MinPerSecond·Window = 1: one extra attempt in the window.
		b, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: retry.None, MinPerSecond: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		p := &retry.Policy{Budget: b, Backoff: retry.Constant{Interval: time.Second}}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(500*time.Millisecond, cancel)
		fn, calls := failing(5, errTransient)
		if err := retry.Do(ctx, p, fn); !errors.Is(err, context.Canceled) || *calls != 1 {
			t.Fatalf("cancelled during the wait: err = %v after %d calls", err, *calls)
		}
		fn, calls = failing(5, errTransient)
		if err := retry.Do(context.Background(), p, fn); !errors.Is(err, retry.ErrBudgetExhausted) || *calls != 1 {
			t.Fatalf("err = %v after %d calls; the cancelled retry should have used the budget", err, *calls)
		}
	})
}

// TokenBucket's doc: retries stop once more than TokenRatio/(1+TokenRatio)
// of the attempts fail (1 in 11 with the defaults). A stream of outcomes
// with its failures spread evenly, 2% below that share, keeps the bucket
// near full; 2% above it, the bucket empties and refuses every extra
// attempt.
func TestTokenBucketThreshold(t *testing.T) {
	for _, ratio := range []float64{0.1, 0.25, 0.5} {
		threshold := ratio / (1 + ratio)
		for _, f := range []float64{threshold * 0.98, threshold * 1.02} {
			b, err := retry.NewTokenBucket(retry.TokenBucketConfig{TokenRatio: ratio})
			if err != nil {
				t.Fatal(err)
			}
			const n = 20000
			refused, lowest := 0, b.Tokens()
			for i := range n {
				fail := math.Floor(float64(i+1)*f) > math.Floor(float64(i)*f)
				b.Result(!fail)
				if i >= n/2 { // the steady state
					if !b.Extra() {
						refused++
					}
					lowest = min(lowest, b.Tokens())
				}
			}
			if f < threshold {
				if refused != 0 || lowest < 9 {
					t.Errorf("ratio %v, failure share %.4f (below %.4f): %d of %d extras refused, lowest %v tokens; want none refused, at least 9",
						ratio, f, threshold, refused, n/2, lowest)
				}
				continue
			}
			if refused != n/2 || b.Tokens() > 1 {
				t.Errorf("ratio %v, failure share %.4f (above %.4f): %d of %d extras refused, %v tokens left; want all refused, at most 1",
					ratio, f, threshold, refused, n/2, b.Tokens())
			}
		}
	}
}

// BenchmarkBudget is the cost of a budget's decision for one retry
// (First, Extra, Result), against a plain mutex lock and unlock.
func BenchmarkBudget(b *testing.B) {
	b.Run("mutex", func(b *testing.B) {
		var mu sync.Mutex
		n := 0
		for b.Loop() {
			mu.Lock()
			n++
			mu.Unlock()
		}
	})
	ratio, err := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 1, MinPerSecond: retry.None})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		budget retry.Budget
	}{{"token-bucket", new(retry.TokenBucket)}, {"ratio-zero", new(retry.RatioBudget)}, {"ratio", ratio}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.budget.First()
				bc.budget.Extra()
				bc.budget.Result(true)
			}
		})
	}
}
