package retry

import (
	"math"
	"strconv"
	"time"
)

// Backoff chooses the wait before each retry. It is a pure function, so one
// value is safe to share between goroutines and calls:
//
//   - attempt is the number of the attempt that just failed, from 1;
//   - prev is the wait chosen before the previous retry (0 before the first);
//     only DecorrelatedJitter uses it;
//   - u is a uniform random number in [0, 1) for jitter, drawn from
//     Policy.Rand.
//
// The result must not be negative; the policy stops with ErrInvalid if it is.
type Backoff interface {
	Delay(attempt int, prev time.Duration, u float64) time.Duration
}

// BackoffFunc adapts a function to the Backoff interface.
type BackoffFunc func(attempt int, prev time.Duration, u float64) time.Duration

// Delay returns f(attempt, prev, u).
func (f BackoffFunc) Delay(attempt int, prev time.Duration, u float64) time.Duration {
	return f(attempt, prev, u)
}

// Defaults for zero fields of the backoff strategies. A default never
// conflicts with a field that is set: a zero Base (or Step) with Max set
// means min(defaultBase, Max), and a zero Max with Base (or Step) set means
// max(defaultMaxDelay, Base).
const (
	defaultBase     = 100 * time.Millisecond // first wait of Linear, Exponential and DecorrelatedJitter
	defaultMaxDelay = 10 * time.Second       // cap of Linear, Exponential and DecorrelatedJitter
)

const maxDuration = time.Duration(math.MaxInt64)

// Constant waits the same time before every retry. The zero value retries
// at once. With Spread jitter the wait varies around Interval, up to
// Interval·(1+spread).
type Constant struct {
	Interval time.Duration // the wait; zero retries at once
	Jitter   Jitter        // zero means NoJitter
}

// Delay returns the jittered c.Interval.
func (c Constant) Delay(_ int, _ time.Duration, u float64) time.Duration {
	d := max(c.Interval, 0)
	if c.Jitter == NoJitter {
		return d
	}
	return c.Jitter.draw(d, u, maxDuration)
}

// Validate reports a negative delay or a bad jitter.
func (c Constant) Validate() error {
	if c.valid() {
		return nil
	}
	if c.Interval < 0 {
		return invalid("Constant.Interval is negative (%v)", c.Interval)
	}
	return jitterError("Constant", c.Jitter)
}

// jitterError is the error of j as the Jitter field of a typ (if typ is
// set), if j is invalid.
func jitterError(typ string, j Jitter) error {
	if j.valid() {
		return nil
	}
	field := ""
	if typ != "" {
		field = typ + ".Jitter: "
	}
	return invalid("%s%v is not a jitter: use NoJitter, FullJitter, EqualJitter or Spread(f) with f in [0, 1]", field, j)
}

// Linear waits Step after the first failure, 2·Step after the second, and so
// on: the wait grows by a constant step, up to Max, then jitter is applied
// within [0, Max].
type Linear struct {
	Step   time.Duration // zero means 100ms, or Max if that is smaller
	Max    time.Duration // zero means 10s, or Step if that is larger; never below Step
	Jitter Jitter        // zero means NoJitter
}

// Delay returns min(attempt·Step, Max), jittered.
func (l Linear) Delay(attempt int, _ time.Duration, u float64) time.Duration {
	step, hi := bounds(l.Step, l.Max)
	d := capped(float64(step)*float64(max(attempt, 1)), hi)
	return l.Jitter.apply(d, u, hi)
}

// Validate reports negative durations, a Step set above a Max set, or a bad
// jitter.
func (l Linear) Validate() error {
	if l.valid() {
		return nil
	}
	return rangeError("Linear", "Step", l.Step, l.Max, l.Jitter)
}

// Exponential waits Base after the first failure and multiplies the wait by
// Multiplier after each further one, up to Max; then jitter is applied
// within [0, Max]. "Exponential backoff with jitter" is Exponential with
// FullJitter, EqualJitter or Spread.
type Exponential struct {
	Base       time.Duration // zero means 100ms, or Max if that is smaller
	Max        time.Duration // zero means 10s, or Base if that is larger; never below Base
	Multiplier float64       // zero means 2; otherwise at least 1
	Jitter     Jitter        // zero means NoJitter
}

// Delay returns min(Base·Multiplier^(attempt-1), Max), jittered.
func (e Exponential) Delay(attempt int, _ time.Duration, u float64) time.Duration {
	base, hi := bounds(e.Base, e.Max)
	m := e.Multiplier
	if !(m >= 1) { // zero, NaN or invalid: the default
		m = 2
	}
	// Computed in float64 and capped before converting back, so that no
	// attempt number can overflow into a negative or zero wait.
	d := capped(float64(base)*math.Pow(m, float64(max(attempt, 1)-1)), hi)
	return e.Jitter.apply(d, u, hi)
}

// Validate reports negative durations, a Base set above a Max set, a
// Multiplier below 1 or not finite, or a bad jitter.
func (e Exponential) Validate() error {
	if e.valid() {
		return nil
	}
	if !validMultiplier(e.Multiplier) {
		return invalid("Exponential.Multiplier must be at least 1 and finite, not %v", e.Multiplier)
	}
	return rangeError("Exponential", "Base", e.Base, e.Max, e.Jitter)
}

// DecorrelatedJitter is the "decorrelated jitter" of the AWS analysis
// "Exponential Backoff and Jitter": each wait is drawn uniformly from
// [Base, 3·previous wait], capped at Max. It grows about as fast as
// Exponential but spreads retries of many clients apart.
type DecorrelatedJitter struct {
	Base time.Duration // zero means 100ms, or Max if that is smaller
	Max  time.Duration // zero means 10s, or Base if that is larger; never below Base
}

// Delay returns a wait in [Base, min(3·prev, Max)].
func (dj DecorrelatedJitter) Delay(_ int, prev time.Duration, u float64) time.Duration {
	base, hi := bounds(dj.Base, dj.Max)
	base = min(base, hi) // only an invalid Base is above Max
	top := capped(3*float64(max(prev, base)), hi)
	return capped(float64(base)+unit(u)*float64(top-base), hi)
}

// Validate reports negative durations or a Base set above a Max set.
func (dj DecorrelatedJitter) Validate() error {
	if dj.valid() {
		return nil
	}
	return rangeError("DecorrelatedJitter", "Base", dj.Base, dj.Max, NoJitter)
}

// Jitter randomizes a wait so that clients that failed together do not
// retry together. Its values are the constants NoJitter (the zero value),
// FullJitter and EqualJitter, and Spread(f); Validate, and every policy's
// Validate, reports any other.
type Jitter float64

// The jitters of this package. A Spread(f) is stored as -f, exactly, so
// that a plain number (Jitter: 1, Jitter: 0.2) is no valid jitter and
// Validate reports it rather than guess what it meant.
const (
	// NoJitter keeps the wait d as it is.
	NoJitter Jitter = 0
	// FullJitter draws the wait uniformly from [0, d] (AWS "full jitter").
	FullJitter Jitter = 2
	// EqualJitter draws the wait uniformly from [d/2, d] (AWS "equal jitter").
	EqualJitter Jitter = 3
)

// Spread returns a jitter that draws the wait uniformly from
// [d·(1-f), d·(1+f)], capped at the strategy's Max: "fluctuate by a
// percentage". f must be within [0, 1]; any other f gives a Jitter that
// Validate reports (it never becomes another jitter).
func Spread(f float64) Jitter {
	switch {
	case f == 0:
		return NoJitter
	case f < 0: // -f could be another jitter
		return Jitter(math.NaN())
	}
	return Jitter(-f) // NaN stays NaN, over 1 stays over: invalid
}

// spread returns the f of Spread(f), for a j that is neither NoJitter,
// FullJitter nor EqualJitter.
func (j Jitter) spread() float64 { return -float64(j) }

// Validate reports a Jitter that is none of this package's.
func (j Jitter) Validate() error {
	if j.valid() {
		return nil
	}
	return jitterError("", j)
}

// String returns the jitter as it is written in Go: "FullJitter",
// "Spread(0.2)".
func (j Jitter) String() string {
	switch {
	case j == NoJitter:
		return "NoJitter"
	case j == FullJitter:
		return "FullJitter"
	case j == EqualJitter:
		return "EqualJitter"
	case j >= -1 && j < 0:
		return "Spread(" + strconv.FormatFloat(j.spread(), 'g', 15, 64) + ")"
	}
	return "Jitter(" + strconv.FormatFloat(float64(j), 'g', -1, 64) + ")"
}

// apply jitters d with u and keeps the result within [0, hi].
func (j Jitter) apply(d time.Duration, u float64, hi time.Duration) time.Duration {
	if j == NoJitter {
		return min(d, hi) // inlined: the cheapest wait is cheap
	}
	return j.draw(d, u, hi)
}

// draw is apply for a jitter that uses u.
func (j Jitter) draw(d time.Duration, u float64, hi time.Duration) time.Duration {
	switch {
	case j == FullJitter: // float rounding must not lift the result above d
		return capped(float64(d)*unit(u), min(d, hi))
	case j == EqualJitter:
		return capped(float64(d)/2*(1+unit(u)), min(d, hi))
	case j >= -1 && j < 0:
		f := j.spread()
		return capped(float64(d)*(1-f+2*f*unit(u)), hi)
	}
	return min(d, hi) // invalid: Validate reports it
}

// capped converts f to a Duration within [0, hi] without overflow.
func capped(f float64, hi time.Duration) time.Duration {
	if !(f < float64(hi)) { // also catches NaN and +Inf
		if f != f {
			return 0
		}
		return hi
	}
	if f <= 0 {
		return 0
	}
	return time.Duration(f)
}

// unit clamps u into [0, 1]; NaN becomes 0.
func unit(u float64) float64 {
	if u >= 0 {
		return min(u, 1)
	}
	return 0
}

// bounds returns the first wait and the cap of a strategy whose fields
// are base and hi, filling in the zero (or invalid negative) ones so that
// a default never conflicts with a field that is set.
func bounds(base, hi time.Duration) (time.Duration, time.Duration) {
	switch {
	case base <= 0 && hi <= 0:
		return defaultBase, defaultMaxDelay
	case base <= 0:
		return min(defaultBase, hi), hi
	case hi <= 0:
		return base, max(defaultMaxDelay, base)
	}
	return base, hi
}

// The valid methods hold the rules that Validate reports on, in a form
// cheap enough to inline: every call of Retry and Do checks its policy's
// Backoff with them.

func (c Constant) valid() bool { return c.Interval >= 0 && c.Jitter.valid() }

func (l Linear) valid() bool { return validRange(l.Step, l.Max) && l.Jitter.valid() }

func (e Exponential) valid() bool {
	return validMultiplier(e.Multiplier) && validRange(e.Base, e.Max) && e.Jitter.valid()
}

func (dj DecorrelatedJitter) valid() bool { return validRange(dj.Base, dj.Max) }

func (j Jitter) valid() bool {
	return j == NoJitter || j == FullJitter || j == EqualJitter || j >= -1 && j < 0
}

func validMultiplier(m float64) bool { return m == 0 || m >= 1 && m <= math.MaxFloat64 }

func validRange(base, hi time.Duration) bool {
	return base >= 0 && hi >= 0 && (base == 0 || hi == 0 || base <= hi)
}

// rangeError reports the bad base or cap of a strategy, or else its bad
// jitter.
func rangeError(typ, baseName string, base, hi time.Duration, j Jitter) error {
	switch {
	case base < 0:
		return invalid("%s.%s is negative (%v)", typ, baseName, base)
	case hi < 0:
		return invalid("%s.Max is negative (%v)", typ, hi)
	case base > 0 && hi > 0 && base > hi:
		return invalid("%s.%s (%v) is above Max (%v)", typ, baseName, base, hi)
	}
	return jitterError(typ, j)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
