package retry

import (
	"errors"
	"time"
)

// Reasons a Breaker rejects a call, found in BreakerError.Reason and with
// errors.Is.
var (
	// ErrBreakerOpen: the breaker is open and the time for the next probe has not
	// come.
	ErrBreakerOpen = errors.New("circuit breaker is open")
	// ErrTooManyProbes: the breaker is half-open and every probe slot is
	// taken.
	ErrTooManyProbes = errors.New("circuit breaker is half-open and its probe slots are taken")
	// ErrBreakerThrottled: adaptive throttling shed the call.
	ErrBreakerThrottled = errors.New("circuit breaker throttled the call")
)

// BreakerError is the error of a call that a Breaker did not let through;
// the call was not made. errors.Is matches its Reason.
//
// A rejection stops a retry loop that wraps the breaker (see Guard) at
// once, whatever its Reason: failing fast is what a breaker is for. With
// Policy.WaitForProbe, a rejection by an open breaker instead makes the
// loop wait until Until and try again. In a hedged call a rejection starts
// no further copies but leaves the attempts already running alone (see
// Hedge): a refused copy says nothing about them. The breaker's wait is
// never reported as server pushback: RequestedDelay finds nothing in a
// BreakerError.
type BreakerError struct {
	Reason error // ErrBreakerOpen, ErrTooManyProbes or ErrBreakerThrottled
	// Until, for ErrBreakerOpen, is when the open breaker lets the next
	// probe through, and Wait how long that was after the rejection. For
	// ErrTooManyProbes and ErrBreakerThrottled both are zero: the breaker
	// cannot tell when a call will pass (a slot frees when a probe ends;
	// the throttle is random), and Retry never waits on these rejections.
	// Nor for a breaker forced open until told otherwise (see
	// Breaker.ForceOpen): both are zero there too.
	Until time.Time
	Wait  time.Duration
}

// Error returns the Reason's message, with the wait before the next probe
// when the breaker is open: "circuit breaker is open, next probe in 30s".
func (e *BreakerError) Error() string {
	if e == nil || e.Reason == nil {
		return "circuit breaker rejected the call"
	}
	if e.Wait > 0 {
		return e.Reason.Error() + ", next probe in " + roughly(e.Wait).String()
	}
	return e.Reason.Error()
}

// roughly rounds d to three significant digits for a message, rounding
// up so that a wait never reads as over before it is: 29.9999991s reads
// 30s, 1.23456s 1.24s, 850.2ms 851ms.
func roughly(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for u := time.Duration(1000); u <= d/100; u *= 10 {
		unit = u
	}
	if r := d % unit; r != 0 {
		d += unit - r
	}
	return d
}

// Unwrap returns the Reason.
func (e *BreakerError) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Reason
}

func rejectOpen(until, now time.Time) *BreakerError {
	return &BreakerError{Reason: ErrBreakerOpen, Until: until, Wait: max(until.Sub(now), 0)}
}

func rejectProbes() *BreakerError {
	return &BreakerError{Reason: ErrTooManyProbes}
}

func rejectThrottled() *BreakerError {
	return &BreakerError{Reason: ErrBreakerThrottled}
}
