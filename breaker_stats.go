package retry

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// closedStats are the counts of one closed period of a breaker. A breaker
// that closes starts a fresh closedStats, so a call admitted in an earlier
// period can only write to that period's counts, which nobody reads any
// more.
//
// Everything here is atomic: the closed state's calls never take a lock
// unless they trip the breaker.
type closedStats struct {
	consecutive atomic.Int64
	// word is the breaker's word (generation and state) of the closed
	// period these stats count; admit hands out the stats only with it.
	word uint64
	// plain: a success needs neither the clock nor a window, only a look
	// at consecutive.
	plain bool
	// forced: an operator holds the breaker closed (see
	// Breaker.ForceClosed); the calls are counted, and trip nothing.
	forced bool
	// throttles: adaptive throttling is on, and the breaker not forced.
	throttles bool
	_         [40]byte // failures write consecutive; keep it off other fields
	// lastFailure is the latest period of a time window in which a call
	// failed, plus one, so that the throttle skips the window when no
	// failure is in it.
	lastFailure atomic.Int64
	// short: the latest check of the window found fewer than MinCalls
	// calls in it, so the call that fills it, a success included, must
	// check again.
	short atomic.Bool
	// full is the period of a time window, plus one, in which the latest
	// check found at least MinCalls calls in it. Calls leave a time window
	// as it moves, with no call to see it fall short, so the first call of
	// a later period, a success included, checks again.
	full  atomic.Int64
	_     [40]byte
	times *timeWindow // nil unless the window counts time
	calls *countWindow
}

func newClosedStats(s *breakerSettings, word uint64, forced bool) *closedStats {
	st := &closedStats{word: word, plain: !s.windowed && !s.timed(), forced: forced, throttles: s.adaptive && !forced}
	switch {
	case !s.windowed:
	case s.calls > 0:
		st.calls = newCountWindow(s.calls)
	default:
		st.times = newTimeWindow(s.period, s.buckets, s.stripes)
	}
	return st
}

// record counts a call that ended at elapsed (time since the breaker's
// base) after d, and returns the trip rule that fires, or zero.
func (st *closedStats) record(s *breakerSettings, failed bool, elapsed, d time.Duration) BreakerReason {
	var trip BreakerReason
	if s.consecutive > 0 {
		if failed {
			if st.consecutive.Add(1) >= s.consecutive {
				trip = ReasonConsecutiveFailures
			}
		} else if st.consecutive.Load() != 0 {
			st.consecutive.Store(0) // read first: a success must not write a shared line
		}
	}
	if !s.windowed {
		return trip
	}
	slow := s.slowAt > 0 && d >= s.slowAt
	var t windowTotals
	// Only a failure, a slow call or one longer than the allowed average
	// can make a rule fire, so only those read the whole window; and any
	// call while the window is short of MinCalls, since filling it can
	// make the ratios of the calls already in it count, and the first of
	// a time window's period (see full), which may find it short again.
	check := trip == 0 && (failed || slow || s.maxAverage > 0 && d > s.maxAverage || st.short.Load())
	var p int64
	if st.times != nil {
		p = st.times.periodOf(elapsed)
		check = check || trip == 0 && st.full.Load() != p+1
		st.times.add(p, failed, slow, d)
		if failed {
			st.noteFailure(p)
		}
		if check {
			t = st.times.totals(p)
		}
	} else {
		// A call replaces the oldest: one no longer than the allowed
		// average raises the average past it if it replaces a shorter one.
		if nanos, calls := st.calls.add(failed, slow, d); calls > 0 && s.maxAverage > 0 && nanos/calls > int64(s.maxAverage) {
			check = check || trip == 0
		}
		if check {
			t = st.calls.totals()
		}
	}
	if check {
		trip = s.trips(t)
		short := t.calls < s.minCalls
		if short != st.short.Load() {
			st.short.Store(short)
		}
		if st.times != nil && !short && st.full.Load() != p+1 {
			st.full.Store(p + 1)
		}
	}
	return trip
}

// noteFailure raises lastFailure to period p (plus one) unless it is
// already there or later: failures that race, or a call that read the
// clock before another and finishes after it, must not move it back.
func (st *closedStats) noteFailure(p int64) {
	for {
		last := st.lastFailure.Load()
		if last >= p+1 || st.lastFailure.CompareAndSwap(last, p+1) {
			return
		}
	}
}

// trips returns the ratio or average rule that the window's totals fire,
// or zero.
func (s *breakerSettings) trips(t windowTotals) BreakerReason {
	if t.calls < s.minCalls || t.calls == 0 {
		return 0
	}
	n := float64(t.calls)
	switch {
	case s.failureRatio > 0 && float64(t.failures) >= s.failureRatio*n:
		return ReasonFailureRatio
	case s.slowAt > 0 && float64(t.slow) >= s.slowRatio*n:
		return ReasonSlowCalls
	case s.maxAverage > 0 && t.nanos/t.calls > int64(s.maxAverage):
		return ReasonAverageDuration
	}
	return 0
}

// totals returns the window's counts at elapsed.
func (st *closedStats) totals(elapsed time.Duration) windowTotals {
	switch {
	case st.times != nil:
		return st.times.totals(st.times.periodOf(elapsed))
	case st.calls != nil:
		return st.calls.totals()
	}
	return windowTotals{}
}

// failed reports whether a call of the period may have failed in the
// window, as far as one atomic load, and no clock, can tell: while it is
// false, adaptive throttling sheds nothing (accepts = requests).
func (st *closedStats) failed() bool {
	if st.times != nil {
		return st.lastFailure.Load() != 0
	}
	return st.calls != nil && st.calls.failures.Load() != 0
}

// throttle decides whether adaptive throttling sheds a call at elapsed:
// with probability max(0, (requests − K·accepts) / (requests + 1)).
func (st *closedStats) throttle(s *breakerSettings, elapsed time.Duration) bool {
	var t windowTotals
	if st.times != nil {
		p := st.times.periodOf(elapsed)
		if last := st.lastFailure.Load(); last == 0 || last < p+1-(st.times.buckets-1) {
			return false // no failure in the window, so accepts = requests
		}
		t = st.times.totals(p)
	} else {
		t = st.calls.totals()
		if t.failures == 0 {
			return false
		}
	}
	return shed(t.calls, t.calls-t.failures, s.k, s.random())
}

// shed is the rule of client-side throttling from the Google SRE book
// ("Handling Overload"): reject with probability
// max(0, (requests − K·accepts) / (requests + 1)); r is uniform in [0, 1).
func shed(requests, accepts int64, k, r float64) bool {
	p := (float64(requests) - k*float64(accepts)) / float64(requests+1)
	return p > 0 && r < p
}

func (s *breakerSettings) random() float64 {
	if s.rand != nil {
		return s.rand()
	}
	return rand.Float64()
}
