package retry

import (
	"math"
	"time"
)

// Defaults of a LimiterConfig.
const (
	defaultInitialLimit  = 20
	defaultMaxLimit      = 1000
	defaultTolerance     = 1.5
	defaultLimitBackoff  = 0.9
	defaultProbeInterval = 30 * time.Second
)

// LimiterConfig sets up a Limiter. The zero value is valid; each field
// says its default.
type LimiterConfig struct {
	// InitialLimit is the limit on calls in flight before any call has
	// ended. Zero means 20, within MinLimit and MaxLimit.
	InitialLimit int
	// MinLimit and MaxLimit bound the limit. Zero means 1 and 1000.
	MinLimit, MaxLimit int

	// Tolerance is how much longer than unloaded the average call may
	// take before the limit shrinks: the limit settles where the average
	// latency of a window is about Tolerance times the no-load latency,
	// the lowest average of a window seen. Zero means 1.5; it must be at
	// least 1. Higher lets more calls queue at the dependency; lower
	// refuses calls sooner, and below what the dependency's own jitter
	// between windows needs it refuses calls it could serve.
	Tolerance float64

	// Backoff multiplies the limit after a sample window that held a
	// dropped call (see Drop), the decrease of AIMD. Zero means 0.9; it
	// must be in (0, 1).
	Backoff float64

	// Drop reports whether a call's error means the dependency is
	// overloaded, as a timeout or a server's pushback does: such calls
	// shrink the limit by Backoff. Nil means errors that match
	// context.DeadlineExceeded or carry a server's pushback (After). Other
	// errors are latency samples, but a window in which most calls failed
	// so is taken for the errors' latency, not the service's: it neither
	// sets the no-load latency nor grows the limit. If Drop panics, the
	// call's slot is freed and the panic goes on.
	Drop func(err error) bool

	// Window is the shortest span of calls whose latencies make one
	// sample of the limiter: each window ends when it has lasted Window
	// and holds at least 10 calls, and the limit changes once per window.
	// Zero means 4 times the no-load latency, at least 10ms.
	Window time.Duration

	// ProbeInterval is how often the no-load latency is measured again,
	// by halving the limit for one window, so that the limiter learns a
	// dependency that became slower (or faster) for good, and corrects a
	// no-load latency first measured under load. Zero means 30s.
	ProbeInterval time.Duration

	// MaxWaiters is the most calls that may wait for a slot at once when
	// the limit is reached; a call beyond it is refused at once with
	// ErrLimitReached. Zero means none wait.
	MaxWaiters int
	// MaxWait is the longest a call waits for a slot before it is refused
	// with ErrWaitTimeout. Zero means until the call's context ends. It
	// applies only when MaxWaiters is positive.
	MaxWait time.Duration

	// RetryAfter is the wait that a refusal suggests (ShedError.Wait).
	// Zero means the average latency of the last window, at least 1ms.
	RetryAfter time.Duration

	// Clock is the source of time for latencies and waits; nil means real
	// time.
	Clock Clock
}

// Validate reports the first invalid setting of c, wrapped around
// ErrInvalid.
func (c LimiterConfig) Validate() error {
	switch {
	case c.InitialLimit < 0:
		return invalid("LimiterConfig.InitialLimit is negative (%d)", c.InitialLimit)
	case c.MinLimit < 0:
		return invalid("LimiterConfig.MinLimit is negative (%d)", c.MinLimit)
	case c.MaxLimit < 0:
		return invalid("LimiterConfig.MaxLimit is negative (%d)", c.MaxLimit)
	case c.MaxLimit > 0 && c.MinLimit > c.MaxLimit:
		return invalid("LimiterConfig.MinLimit (%d) is above MaxLimit (%d)", c.MinLimit, c.MaxLimit)
	case c.InitialLimit > 0 && (c.InitialLimit < c.MinLimit || c.MaxLimit > 0 && c.InitialLimit > c.MaxLimit):
		return invalid("LimiterConfig.InitialLimit (%d) is outside MinLimit and MaxLimit", c.InitialLimit)
	case c.MaxLimit == 0 && c.MinLimit > defaultMaxLimit:
		return invalid("LimiterConfig.MinLimit (%d) is above the default MaxLimit (%d)", c.MinLimit, defaultMaxLimit)
	case c.MaxLimit == 0 && c.InitialLimit > defaultMaxLimit:
		return invalid("LimiterConfig.InitialLimit (%d) is above the default MaxLimit (%d)", c.InitialLimit, defaultMaxLimit)
	case c.Tolerance != 0 && !(c.Tolerance >= 1 && !math.IsInf(c.Tolerance, 1)):
		return invalid("LimiterConfig.Tolerance is %v, not a finite number of at least 1", c.Tolerance)
	case c.Backoff != 0 && !(c.Backoff > 0 && c.Backoff < 1):
		return invalid("LimiterConfig.Backoff is %v, not in (0, 1)", c.Backoff)
	case c.Window < 0:
		return invalid("LimiterConfig.Window is negative (%v)", c.Window)
	case c.ProbeInterval < 0:
		return invalid("LimiterConfig.ProbeInterval is negative (%v)", c.ProbeInterval)
	case c.MaxWaiters < 0:
		return invalid("LimiterConfig.MaxWaiters is negative (%d)", c.MaxWaiters)
	case c.MaxWait < 0:
		return invalid("LimiterConfig.MaxWait is negative (%v)", c.MaxWait)
	case c.RetryAfter < 0:
		return invalid("LimiterConfig.RetryAfter is negative (%v)", c.RetryAfter)
	}
	return validateClock("LimiterConfig", c.Clock)
}

// withDefaults returns c, valid, with its zero fields set to their
// defaults.
func (c LimiterConfig) withDefaults() LimiterConfig {
	c.MinLimit = max(c.MinLimit, 1)
	if c.MaxLimit == 0 {
		c.MaxLimit = defaultMaxLimit
	}
	if c.InitialLimit == 0 {
		c.InitialLimit = min(max(defaultInitialLimit, c.MinLimit), c.MaxLimit)
	}
	if c.Tolerance == 0 {
		c.Tolerance = defaultTolerance
	}
	if c.Backoff == 0 {
		c.Backoff = defaultLimitBackoff
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = defaultProbeInterval
	}
	return c
}
