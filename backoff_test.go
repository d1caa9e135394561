package retry_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// strategies builds each strategy of the package from raw fuzz input.
func strategies(base, hi time.Duration, mult, spread float64) []struct {
	b   retry.Backoff
	cap time.Duration
} {
	// A zero Max means max(10s, Base) when Base is set.
	c := hi
	if hi <= 0 {
		c = max((10 * time.Second), base)
	}
	jitters := []retry.Jitter{retry.NoJitter, retry.FullJitter, retry.EqualJitter, retry.Spread(spread)}
	var out []struct {
		b   retry.Backoff
		cap time.Duration
	}
	add := func(b retry.Backoff, cap time.Duration) {
		out = append(out, struct {
			b   retry.Backoff
			cap time.Duration
		}{b, cap})
	}
	for _, j := range jitters {
		add(retry.Exponential{Base: base, Max: hi, Multiplier: mult, Jitter: j}, c)
		add(retry.Linear{Step: base, Max: hi, Jitter: j}, c)
		cc := time.Duration(math.MaxInt64)
		if j == retry.NoJitter || j == retry.FullJitter || j == retry.EqualJitter {
			cc = max(base, 0)
		}
		add(retry.Constant{Interval: base, Jitter: j}, cc)
	}
	add(retry.DecorrelatedJitter{Base: base, Max: hi}, c)
	return out
}

// FuzzBackoff: for every attempt, input and random draw, no panic and
// 0 ≤ delay ≤ cap; without jitter the delay never decreases.
func FuzzBackoff(f *testing.F) {
	for _, attempt := range []int{0, -1, 1, 2, 62, 63, 64, 84, math.MaxInt} {
		f.Add(attempt, int64(time.Millisecond), int64(time.Second), 2.0, 0.5, 0.2, int64(0))
	}
	f.Add(84, int64(1), int64(math.MaxInt64), 2.0, 0.999, 1.0, int64(math.MaxInt64))
	f.Add(math.MaxInt, int64(math.MaxInt64), int64(math.MaxInt64), 1e308, 0.5, 0.5, int64(math.MaxInt64))
	f.Add(10, int64(0), int64(0), math.NaN(), math.NaN(), math.NaN(), int64(-1))
	f.Add(10, int64(-5), int64(-5), math.Inf(1), math.Inf(-1), math.Inf(1), int64(math.MinInt64))
	f.Add(3, int64(time.Second), int64(time.Millisecond), 0.5, 2.0, -1.0, int64(time.Hour))
	f.Fuzz(func(t *testing.T, attempt int, base, hi int64, mult, u, spread float64, prev int64) {
		for _, s := range strategies(time.Duration(base), time.Duration(hi), mult, spread) {
			d := s.b.Delay(attempt, time.Duration(prev), u)
			if d < 0 {
				t.Fatalf("%#v.Delay(%d, %d, %v) = %v < 0", s.b, attempt, prev, u, d)
			}
			valid := s.b.(interface{ Validate() error }).Validate() == nil
			if valid && d > s.cap {
				t.Fatalf("%#v.Delay(%d, %d, %v) = %v > cap %v", s.b, attempt, prev, u, d, s.cap)
			}
		}
		// Monotonic before jitter.
		if attempt < math.MaxInt && attempt > 0 {
			for _, b := range []retry.Backoff{
				retry.Exponential{Base: time.Duration(base), Max: time.Duration(hi), Multiplier: mult},
				retry.Linear{Step: time.Duration(base), Max: time.Duration(hi)},
			} {
				if a, c := b.Delay(attempt, 0, u), b.Delay(attempt+1, 0, u); c < a {
					t.Fatalf("%#v: delay fell from %v to %v at attempt %d", b, a, c, attempt+1)
				}
			}
		}
	})
}

// Every attempt number up to MaxInt stays within [0, cap]: the overflows
// seen in the wild (negative at attempt 84, zero at 64) cannot happen.
func TestBackoffHugeAttempts(t *testing.T) {
	e := retry.Exponential{Base: time.Second, Max: time.Hour}
	prev := time.Duration(0)
	for _, n := range []int{1, 10, 30, 62, 63, 64, 84, 1000, math.MaxInt32, math.MaxInt - 1, math.MaxInt} {
		d := e.Delay(n, 0, 0)
		if d < prev || d > time.Hour {
			t.Fatalf("attempt %d: %v (previous %v)", n, d, prev)
		}
		prev = d
	}
	if d := e.Delay(math.MaxInt, 0, 0); d != time.Hour {
		t.Errorf("attempt MaxInt: %v, want the cap", d)
	}
	l := retry.Linear{Step: time.Duration(math.MaxInt64 / 2), Max: time.Duration(math.MaxInt64)}
	if d := l.Delay(math.MaxInt, 0, 0); d != time.Duration(math.MaxInt64) {
		t.Errorf("linear at MaxInt: %v", d)
	}
}

func TestJitterBounds(t *testing.T) {
	const d = 8 * time.Second
	b := func(j retry.Jitter) retry.Backoff { return retry.Constant{Interval: d, Jitter: j} }
	tests := []struct {
		j      retry.Jitter
		lo, hi time.Duration
	}{
		{retry.NoJitter, d, d},
		{retry.FullJitter, 0, d},
		{retry.EqualJitter, d / 2, d},
		{retry.Spread(0.25), 6 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		for _, u := range []float64{0, 0.1, 0.5, 0.999999, 1} {
			if got := b(tt.j).Delay(1, 0, u); got < tt.lo || got > tt.hi {
				t.Errorf("%+v at u=%v: %v not in [%v, %v]", tt.j, u, got, tt.lo, tt.hi)
			}
		}
		if got := b(tt.j).Delay(1, 0, 0); got != tt.lo {
			t.Errorf("%+v at u=0: %v, want %v", tt.j, got, tt.lo)
		}
	}
}

func TestDecorrelatedJitter(t *testing.T) {
	dj := retry.DecorrelatedJitter{Base: time.Second, Max: 10 * time.Second}
	tests := []struct {
		prev time.Duration
		u    float64
		want time.Duration
	}{
		{0, 0, time.Second},
		{0, 1, 3 * time.Second},
		{2 * time.Second, 0.5, 3500 * time.Millisecond},
		{5 * time.Second, 1, 10 * time.Second}, // capped
		{time.Hour, 0, time.Second},
	}
	for _, tt := range tests {
		if got := dj.Delay(7, tt.prev, tt.u); got != tt.want {
			t.Errorf("Delay(prev %v, u %v) = %v, want %v", tt.prev, tt.u, got, tt.want)
		}
	}
}

// The zero values are usable and documented.
func TestBackoffZeroValues(t *testing.T) {
	if d := (retry.Constant{}).Delay(3, 0, 0.5); d != 0 {
		t.Errorf("Constant{}: %v, want 0", d)
	}
	if d := (retry.Linear{}).Delay(3, 0, 0.5); d != 3*(100*time.Millisecond) {
		t.Errorf("Linear{}: %v", d)
	}
	if d := (retry.Exponential{}).Delay(3, 0, 0.5); d != 4*(100*time.Millisecond) {
		t.Errorf("Exponential{}: %v", d)
	}
	if d := (retry.Exponential{}).Delay(100, 0, 0.5); d != (10 * time.Second) {
		t.Errorf("Exponential{} at 100: %v", d)
	}
}

// Regression: a zero Base (or Step) meant 100ms even when Max was
// set below it, and a zero Max meant 10s even when Base was set
// above it, so Exponential{Max: 50ms} and Linear{Step: 20s} were invalid.
// Now the default gives way to the field that is set.
func TestBackoffDefaultsYieldToSetFields(t *testing.T) {
	tests := []struct {
		name string
		b    retry.Backoff
		n    int
		prev time.Duration
		u    float64
		want time.Duration
	}{
		{"exponential zero base, small max", retry.Exponential{Max: 50 * time.Millisecond}, 1, 0, 0, 50 * time.Millisecond},
		{"exponential zero base, max above default", retry.Exponential{Max: time.Hour}, 1, 0, 0, (100 * time.Millisecond)},
		{"exponential zero max, big base", retry.Exponential{Base: 20 * time.Second}, 1, 0, 0, 20 * time.Second},
		{"exponential zero max, big base, capped at base", retry.Exponential{Base: 20 * time.Second}, 5, 0, 0, 20 * time.Second},
		{"exponential zero max, small base", retry.Exponential{Base: time.Second}, 10, 0, 0, (10 * time.Second)},
		{"linear zero step, small max", retry.Linear{Max: 20 * time.Millisecond}, 3, 0, 0, 20 * time.Millisecond},
		{"linear zero max, big step", retry.Linear{Step: 20 * time.Second}, 1, 0, 0, 20 * time.Second},
		{"linear zero max, big step, capped at step", retry.Linear{Step: 20 * time.Second}, 3, 0, 0, 20 * time.Second},
		{"decorrelated zero base, small max", retry.DecorrelatedJitter{Max: 30 * time.Millisecond}, 1, 0, 0, 30 * time.Millisecond},
		{"decorrelated zero max, big base", retry.DecorrelatedJitter{Base: time.Minute}, 1, time.Minute, 1, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.b.(interface{ Validate() error }).Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := tt.b.Delay(tt.n, tt.prev, tt.u); got != tt.want {
				t.Errorf("Delay(%d, %v, %v) = %v, want %v", tt.n, tt.prev, tt.u, got, tt.want)
			}
		})
	}
	// Only explicit values conflict.
	for _, b := range []interface{ Validate() error }{
		retry.Exponential{Base: time.Second, Max: time.Millisecond},
		retry.Linear{Step: time.Second, Max: time.Millisecond},
		retry.DecorrelatedJitter{Base: time.Second, Max: time.Millisecond},
	} {
		if err := b.Validate(); !errors.Is(err, retry.ErrInvalid) || !strings.Contains(err.Error(), "above Max") {
			t.Errorf("%#v.Validate() = %v, want ErrInvalid: above Max", b, err)
		}
	}
}

// The jitters are constants, and no bad Spread turns into another jitter.
func TestJitterValues(t *testing.T) {
	for _, tc := range []struct {
		j     retry.Jitter
		valid bool
		str   string
	}{
		{retry.NoJitter, true, "NoJitter"},
		{retry.FullJitter, true, "FullJitter"},
		{retry.EqualJitter, true, "EqualJitter"},
		{retry.Spread(0.2), true, "Spread(0.2)"},
		{retry.Spread(1), true, "Spread(1)"},
		{retry.Spread(0), true, "NoJitter"},
		{retry.Spread(-1), false, "Jitter(NaN)"},
		{retry.Spread(2), false, "Jitter(-2)"},
		{retry.Spread(math.NaN()), false, "Jitter(NaN)"},
		{retry.Spread(1e-300), true, "Spread(1e-300)"},
		{retry.Jitter(1), false, "Jitter(1)"}, // a plain number is no spread
		{retry.Jitter(0.2), false, "Jitter(0.2)"},
		{retry.Jitter(4), false, "Jitter(4)"},
		{retry.Jitter(math.Inf(1)), false, "Jitter(+Inf)"},
	} {
		err := tc.j.Validate()
		if (err == nil) != tc.valid || (err != nil && !errors.Is(err, retry.ErrInvalid)) {
			t.Errorf("%v.Validate() = %v, want valid %v", tc.j, err, tc.valid)
		}
		if got := tc.j.String(); got != tc.str {
			t.Errorf("String() = %q, want %q", got, tc.str)
		}
		if err := (retry.Exponential{Jitter: tc.j}).Validate(); (err == nil) != tc.valid {
			t.Errorf("Exponential{Jitter: %v}.Validate() = %v", tc.j, err)
		}
	}
	if retry.Spread(-2) == retry.FullJitter || retry.Spread(-3) == retry.EqualJitter {
		t.Error("a negative Spread became another jitter")
	}
}
