package retry

import (
	"context"
	"time"
)

// ForceOpen opens the breaker and holds it open, whatever the traffic: it
// rejects every call with ErrBreakerOpen. With d > 0 it stays open for d,
// then lets probes through as after any open time (see Breaker), and
// traffic decides again. With d == 0 it stays open until ForceClosed or
// Reset; its rejections then have a zero Until and Wait, and a retry loop
// with Policy.WaitForProbe does not wait for them.
//
// Each call starts a new period, even in the same state, and is reported
// to OnBreakerChange as a manual change (ReasonForceOpen). Calls in flight
// when it is called are not counted. A negative d returns an error
// wrapping ErrInvalid and changes nothing.
func (b *Breaker) ForceOpen(d time.Duration) error {
	if b == nil {
		return invalid("nil *Breaker")
	}
	if d < 0 {
		return invalid("Breaker.ForceOpen: negative duration (%v)", d)
	}
	b.steer(func(now time.Time) (BreakerState, BreakerReason) {
		b.forced = forcedOpen
		b.openUntil = time.Time{}
		if d > 0 {
			b.openUntil = now.Add(d)
		}
		return BreakerOpen, ReasonForceOpen
	})
	return nil
}

// ForceClosed closes the breaker and holds it closed, whatever the traffic,
// until ForceOpen or Reset: it lets every call through (adaptive
// throttling included), counts them as usual (see Snapshot), and no trip
// rule opens it. Use it when the breaker's verdict is known to be wrong.
//
// It starts a new closed period with an empty window, and is reported to
// OnBreakerChange as a manual change (ReasonForceClosed).
func (b *Breaker) ForceClosed() error {
	if b == nil {
		return invalid("nil *Breaker")
	}
	b.steer(func(time.Time) (BreakerState, BreakerReason) {
		b.forced = forcedClosed
		return BreakerClosed, ReasonForceClosed
	})
	return nil
}

// Reset releases any force (see ForceOpen and ForceClosed) and closes the
// breaker with an empty window, as NewBreaker left it: traffic decides
// again. It is reported to OnBreakerChange as a manual change
// (ReasonReset). A nil *Breaker returns an error wrapping ErrInvalid.
func (b *Breaker) Reset() error {
	if b == nil {
		return invalid("nil *Breaker")
	}
	b.steer(func(time.Time) (BreakerState, BreakerReason) {
		b.forced = notForced
		return BreakerClosed, ReasonReset
	})
	return nil
}

// steer makes an operator's change: set, called under b.mu with the
// time, records the force and returns the state to go to and why.
func (b *Breaker) steer(set func(now time.Time) (BreakerState, BreakerReason)) {
	b.loadWord()
	now := b.now()
	b.mu.Lock()
	to, why := set(now)
	b.reopens = 0
	b.setState(context.Background(), b.word.Load(), to, why, now)
	b.mu.Unlock()
	b.notify()
}
