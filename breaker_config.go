package retry

import (
	"context"
	"math"
	"strconv"
	"time"
)

// Defaults of a BreakerConfig whose fields are zero.
const (
	// defaultConsecutiveFailures trips a breaker that has no other trip
	// rule: five failures in a row.
	defaultConsecutiveFailures = 5
	// defaultOpenDuration is how long a breaker stays open before it lets
	// a probe through.
	defaultOpenDuration = 30 * time.Second
	// defaultWindow is the span of the rolling window of the ratio,
	// slow-call, average and adaptive rules, cut into 10 buckets.
	defaultWindow  = 10 * time.Second
	defaultBuckets = 10
	// defaultMinimumCalls is the number of calls the rolling window must
	// hold before a ratio or average rule may trip.
	defaultMinimumCalls = 10
	// defaultAdaptiveK is the K of adaptive throttling: the backend may
	// refuse up to (K-1)/K of the calls before the client sheds any.
	defaultAdaptiveK = 2.0
)

// maxBuckets bounds the memory of a time window (each bucket takes a cache
// line per stripe).
const maxBuckets = 1024

// maxWindowCalls is the largest WindowCalls: a count window takes 8 bytes
// per call, so this bounds it to 8 MiB.
const maxWindowCalls = 1 << 20

// BreakerConfig configures a Breaker. Every field is optional: a zero field
// means the documented default, and the zero BreakerConfig trips after 5
// failures in a row, stays open for 30s, then lets one probe through and
// closes when it succeeds.
//
// NewBreaker copies the config once and validates it (see Validate);
// changing it later does not change the breaker.
type BreakerConfig struct {
	// Name, if set, identifies the breaker in every event its hooks receive
	// (see Hooks), as a metric label or a log field.
	Name string

	// ConsecutiveFailures trips the breaker after that many failures in a
	// row; a success resets the count. Zero disables the rule, unless no
	// other trip rule is set (then it is 5).
	ConsecutiveFailures int

	// FailureRatio trips the breaker when at least that share of the calls
	// in the rolling window failed, once the window holds MinCalls. It must
	// be in (0, 1]; zero disables the rule.
	FailureRatio float64

	// SlowCallThreshold makes a call that takes at least that long count as
	// slow, whether it succeeds or fails. The breaker trips when at least
	// SlowCallRatio of the calls in the window were slow, once the window
	// holds MinCalls. Zero disables the rule. Only calls made while closed
	// count: a slow probe in half-open that succeeds is a success (see
	// HalfOpenSuccesses). SlowCallRatio zero means 1: every call in the
	// window was slow.
	SlowCallThreshold time.Duration
	SlowCallRatio     float64

	// MaxAverageDuration trips the breaker when the average duration of the
	// calls in the window exceeds it, once the window holds MinCalls (the
	// "average RT" rule). Zero disables the rule.
	MaxAverageDuration time.Duration

	// MinCalls is how many calls (successes and failures; ignored calls do
	// not count) the window must hold before a ratio or average rule can
	// trip. Zero means 10, or WindowCalls if that is lower.
	MinCalls int

	// Window and BucketPeriod shape the rolling window of the ratio,
	// slow-call, average and adaptive rules: the last Window of time, in
	// buckets of BucketPeriod, which must divide Window. Zero Window means
	// 10s; zero BucketPeriod means Window/10. A call is counted in the
	// bucket of the time it ends, so a call longer than the window still
	// counts.
	Window       time.Duration
	BucketPeriod time.Duration

	// WindowCalls, if set, makes the rolling window the last WindowCalls
	// calls instead of a span of time, at most 1<<20 (1048576). It excludes
	// Window and BucketPeriod.
	//
	// Window, BucketPeriod, WindowCalls and MinCalls shape the window of the
	// ratio, slow-call, average and adaptive rules: setting them without one
	// of those rules is an error, not a silent no-op.
	WindowCalls int

	// Adaptive turns on client-side adaptive throttling (Google SRE book,
	// "Handling Overload"): while closed, a call is rejected with
	// ErrBreakerThrottled with probability max(0, (requests − K·accepts) /
	// (requests + 1)), where requests counts the calls in the window that
	// succeeded or failed and accepts those that succeeded. Calls the
	// throttle rejects are not counted, so its rejections do not feed back
	// into its own statistics. AdaptiveK is K: zero means 2; it must be at
	// least 1, and setting it without Adaptive is an error. Adaptive may be
	// combined with the trip rules or used alone.
	Adaptive  bool
	AdaptiveK float64

	// OpenDuration is how long the breaker stays open before it lets a probe
	// through. Zero means 30s.
	//
	// MaxOpenDuration, if set, makes each reopening from half-open double
	// the open time, up to MaxOpenDuration; it goes back to OpenDuration
	// when the breaker closes. It must not be shorter than OpenDuration (30s
	// by default). A failure that trips the breaker and carries a delay from
	// After (a Retry-After, say) sets the open time to that delay instead,
	// capped by MaxOpenDuration (or by OpenDuration if MaxOpenDuration is
	// zero).
	OpenDuration    time.Duration
	MaxOpenDuration time.Duration

	// HalfOpenProbes caps the calls let through at once while half-open; the
	// others are rejected with ErrTooManyProbes. Zero means 1.
	// HalfOpenSuccesses is the number of successful probes that close the
	// breaker; zero means HalfOpenProbes. One failed probe reopens it. A
	// probe counts by its Classify outcome alone: the slow-call and average
	// rules apply only while closed, so a slow probe that succeeds counts as
	// a success (and if the dependency is still slow, the closed breaker
	// trips again once its window holds MinCalls).
	HalfOpenProbes    int
	HalfOpenSuccesses int

	// Classify sorts the error of a call into BreakerSuccess, BreakerFailure
	// or BreakerIgnored. Nil means: nil is a BreakerSuccess, anything else a
	// BreakerFailure. Use it to keep errors that say nothing about the
	// dependency's health (not found, bad request) from tripping the
	// breaker. If it panics, the call counts as a BreakerFailure and the
	// panic goes on.
	//
	// Outcomes that say nothing about the dependency are BreakerIgnored
	// whatever Classify says, and it is not asked: an error that matches
	// context.Canceled (the caller gave up), and, in Guard and
	// GuardFallback, any failure once the call's context was cancelled (see
	// Guard). A context deadline is classified as any other error.
	Classify func(err error) BreakerOutcome

	// Hooks, if set, receives the breaker's changes of state
	// (OnBreakerChange) and rejections (OnBreakerReject); NewBreaker reads
	// the two fields once. Every event carries Name.
	//
	// OnBreakerChange is called after every change of state, in the order
	// of the changes, outside the breaker's lock: it may call State,
	// Snapshot, or even ForceOpen. It runs on the goroutine whose call
	// caused the change, with that call's context (or on one that is
	// already delivering earlier changes), so keep it short. A change made
	// by Allow, or by an operator (ForceOpen, ForceClosed, Reset), has
	// context.Background(). If it panics, the breaker stays consistent,
	// later changes are still delivered, and the panic is raised again in
	// that goroutine.
	//
	// OnBreakerReject is called on the caller's goroutine for every call
	// the breaker refuses, with the call's context and the *BreakerError
	// it returns.
	Hooks *Hooks

	// Clock is the source of time; nil means real time.
	Clock Clock

	// Rand returns uniform random numbers in [0, 1) for adaptive throttling.
	// Nil means math/rand/v2's Float64. It must be safe for concurrent use.
	Rand func() float64
}

// BreakerOutcome is how a call counts toward a breaker's statistics.
type BreakerOutcome uint8

const (
	// BreakerSuccess counts as a healthy call; it closes a half-open breaker
	// after HalfOpenSuccesses of them.
	BreakerSuccess BreakerOutcome = iota
	// BreakerFailure counts toward the trip rules and reopens a half-open
	// breaker.
	BreakerFailure
	// BreakerIgnored counts as neither: it releases a probe slot and changes
	// nothing else.
	BreakerIgnored
)

// String returns the outcome's name.
func (o BreakerOutcome) String() string {
	switch o {
	case BreakerSuccess:
		return "success"
	case BreakerFailure:
		return "failure"
	case BreakerIgnored:
		return "ignored"
	}
	return "BreakerOutcome(" + strconv.Itoa(int(o)) + ")"
}

// defaultClassify is the Classify of a config that has none. The
// context.Canceled rule comes before it (see Breaker.classifySlow).
func defaultClassify(err error) BreakerOutcome {
	if err == nil {
		return BreakerSuccess
	}
	return BreakerFailure
}

// breakerSettings is a validated BreakerConfig with the defaults filled in.
type breakerSettings struct {
	consecutive  int64
	failureRatio float64
	slowAt       time.Duration // SlowCallThreshold; 0 = off
	slowRatio    float64
	maxAverage   time.Duration
	minCalls     int64

	windowed bool          // some rule needs the rolling window
	period   time.Duration // bucket period of a time window
	buckets  int           // of a time window
	calls    int           // size of a count window; 0 = time window
	stripes  int

	adaptive bool
	k        float64

	open, maxOpen time.Duration
	probes        int
	successes     int

	classify func(error) BreakerOutcome
	name     string
	onChange func(context.Context, BreakerChange)
	onReject func(context.Context, BreakerReject)
	clock    Clock
	rand     func() float64
}

// Validate reports the first invalid setting of c, wrapped around
// ErrInvalid and naming the field: a value out of its range, or settings
// that contradict each other or have no effect (a Window without a rule
// that uses one, say). NewBreaker returns the same error.
func (c BreakerConfig) Validate() error {
	_, err := c.settings()
	return err
}

// timed reports whether a call's duration must be measured.
func (s *breakerSettings) timed() bool { return s.slowAt > 0 || s.maxAverage > 0 }

func (c *BreakerConfig) settings() (breakerSettings, error) {
	bad := func(ratio float64) bool { return math.IsNaN(ratio) || ratio < 0 || ratio > 1 }
	if err := validateClock("BreakerConfig", c.Clock); err != nil {
		return breakerSettings{}, err
	}
	switch {
	case c.ConsecutiveFailures < 0:
		return breakerSettings{}, invalid("BreakerConfig.ConsecutiveFailures is negative (%d)", c.ConsecutiveFailures)
	case bad(c.FailureRatio):
		return breakerSettings{}, invalid("BreakerConfig.FailureRatio %v is not in (0, 1]", c.FailureRatio)
	case bad(c.SlowCallRatio):
		return breakerSettings{}, invalid("BreakerConfig.SlowCallRatio %v is not in (0, 1]", c.SlowCallRatio)
	case c.SlowCallRatio > 0 && c.SlowCallThreshold == 0:
		return breakerSettings{}, invalid("BreakerConfig.SlowCallRatio needs a SlowCallThreshold")
	case c.SlowCallThreshold < 0:
		return breakerSettings{}, invalid("BreakerConfig.SlowCallThreshold is negative (%v)", c.SlowCallThreshold)
	case c.MaxAverageDuration < 0:
		return breakerSettings{}, invalid("BreakerConfig.MaxAverageDuration is negative (%v)", c.MaxAverageDuration)
	case c.MinCalls < 0:
		return breakerSettings{}, invalid("BreakerConfig.MinCalls is negative (%d)", c.MinCalls)
	case c.Window < 0:
		return breakerSettings{}, invalid("BreakerConfig.Window is negative (%v)", c.Window)
	case c.BucketPeriod < 0:
		return breakerSettings{}, invalid("BreakerConfig.BucketPeriod is negative (%v)", c.BucketPeriod)
	case c.WindowCalls < 0:
		return breakerSettings{}, invalid("BreakerConfig.WindowCalls is negative (%d)", c.WindowCalls)
	case c.WindowCalls > maxWindowCalls:
		return breakerSettings{}, invalid("BreakerConfig.WindowCalls (%d) is more than %d", c.WindowCalls, maxWindowCalls)
	case c.WindowCalls > 0 && (c.Window != 0 || c.BucketPeriod != 0):
		return breakerSettings{}, invalid("BreakerConfig.WindowCalls excludes Window and BucketPeriod")
	case c.WindowCalls > 0 && c.MinCalls > c.WindowCalls:
		return breakerSettings{}, invalid("BreakerConfig.MinCalls (%d) exceeds WindowCalls (%d): the rules could never trip", c.MinCalls, c.WindowCalls)
	case math.IsNaN(c.AdaptiveK) || c.AdaptiveK != 0 && c.AdaptiveK < 1 || math.IsInf(c.AdaptiveK, 0):
		return breakerSettings{}, invalid("BreakerConfig.AdaptiveK %v is less than 1 or not finite", c.AdaptiveK)
	case c.AdaptiveK != 0 && !c.Adaptive:
		return breakerSettings{}, invalid("BreakerConfig.AdaptiveK has no effect without Adaptive")
	case c.OpenDuration < 0:
		return breakerSettings{}, invalid("BreakerConfig.OpenDuration is negative (%v)", c.OpenDuration)
	case c.MaxOpenDuration < 0:
		return breakerSettings{}, invalid("BreakerConfig.MaxOpenDuration is negative (%v)", c.MaxOpenDuration)
	case c.HalfOpenProbes < 0:
		return breakerSettings{}, invalid("BreakerConfig.HalfOpenProbes is negative (%d)", c.HalfOpenProbes)
	case c.HalfOpenSuccesses < 0:
		return breakerSettings{}, invalid("BreakerConfig.HalfOpenSuccesses is negative (%d)", c.HalfOpenSuccesses)
	}
	s := breakerSettings{
		consecutive:  int64(c.ConsecutiveFailures),
		failureRatio: c.FailureRatio,
		slowAt:       c.SlowCallThreshold,
		slowRatio:    c.SlowCallRatio,
		maxAverage:   c.MaxAverageDuration,
		minCalls:     int64(c.MinCalls),
		adaptive:     c.Adaptive,
		k:            c.AdaptiveK,
		open:         c.OpenDuration,
		maxOpen:      c.MaxOpenDuration,
		probes:       c.HalfOpenProbes,
		successes:    c.HalfOpenSuccesses,
		classify:     c.Classify,
		name:         c.Name,
		clock:        c.Clock,
		rand:         c.Rand,
	}
	if c.Hooks != nil {
		s.onChange, s.onReject = c.Hooks.OnBreakerChange, c.Hooks.OnBreakerReject
	}
	if s.slowAt > 0 && s.slowRatio == 0 {
		s.slowRatio = 1
	}
	s.windowed = s.failureRatio > 0 || s.slowAt > 0 || s.maxAverage > 0 || s.adaptive
	if !s.windowed {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"Window", c.Window != 0},
			{"BucketPeriod", c.BucketPeriod != 0},
			{"WindowCalls", c.WindowCalls != 0},
			{"MinCalls", c.MinCalls != 0},
		} {
			if f.set {
				return breakerSettings{}, invalid("BreakerConfig.%s has no effect without FailureRatio, SlowCallThreshold, MaxAverageDuration or Adaptive", f.name)
			}
		}
	}
	if s.consecutive == 0 && !s.windowed {
		s.consecutive = defaultConsecutiveFailures
	}
	if s.windowed {
		if err := s.window(c); err != nil {
			return breakerSettings{}, err
		}
	}
	if s.k == 0 {
		s.k = defaultAdaptiveK
	}
	if s.open == 0 {
		s.open = defaultOpenDuration
	}
	switch {
	case s.maxOpen == 0:
		s.maxOpen = s.open
	case s.maxOpen < s.open:
		return breakerSettings{}, invalid("BreakerConfig.MaxOpenDuration (%v) is shorter than OpenDuration (%v)", s.maxOpen, s.open)
	}
	if s.probes == 0 {
		s.probes = 1
	}
	if s.successes == 0 {
		s.successes = s.probes
	}
	return s, nil
}

// window fills in the shape of the rolling window.
func (s *breakerSettings) window(c *BreakerConfig) error {
	if c.WindowCalls > 0 {
		s.calls = c.WindowCalls
		if s.minCalls == 0 {
			s.minCalls = int64(min(defaultMinimumCalls, c.WindowCalls))
		}
		return nil
	}
	if s.minCalls == 0 {
		s.minCalls = defaultMinimumCalls
	}
	w, p := c.Window, c.BucketPeriod
	if w == 0 {
		w = defaultWindow
	}
	if p == 0 {
		if w%defaultBuckets != 0 {
			return invalid("BreakerConfig.Window (%v) is not a multiple of %d buckets; set BucketPeriod", w, defaultBuckets)
		}
		p = w / defaultBuckets
	}
	switch {
	case p > w || w%p != 0:
		return invalid("BreakerConfig.BucketPeriod (%v) does not divide Window (%v)", p, w)
	case w/p > maxBuckets:
		return invalid("BreakerConfig.Window (%v) has %d buckets of %v, more than %d", w, w/p, p, maxBuckets)
	}
	s.period, s.buckets = p, int(w/p)
	s.stripes = stripes()
	return nil
}
