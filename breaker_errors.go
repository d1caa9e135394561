package retry

import (
	"errors"
	"time"
)

// Reasons a Breaker rejects a call, found in RejectedError.Reason and with
// errors.Is.
var (
	// ErrOpen: the breaker is open and the time for the next probe has not
	// come.
	ErrOpen = errors.New("retry: circuit breaker is open")
	// ErrTooManyProbes: the breaker is half-open and every probe slot is
	// taken.
	ErrTooManyProbes = errors.New("retry: circuit breaker is half-open and its probe slots are taken")
	// ErrThrottled: adaptive throttling shed the call.
	ErrThrottled = errors.New("retry: circuit breaker throttled the call")
)

// RejectedError is the error of a call that a Breaker did not let through;
// the call was not made. errors.Is matches its Reason.
//
// A rejection stops a retry loop that wraps the breaker (see Guard) at
// once, whatever its Reason: failing fast is what a breaker is for. With
// Policy.WaitForProbe, a rejection by an open breaker instead makes the
// loop wait until Until and try again. In a hedged call a rejection starts
// no further copies but leaves the attempts already running alone (see
// Hedge): a refused copy says nothing about them. The breaker's wait is
// never reported as server pushback: RequestedDelay finds nothing in a
// RejectedError.
type RejectedError struct {
	Reason error // ErrOpen, ErrTooManyProbes or ErrThrottled
	State  State // the state that rejected the call
	// Until, for ErrOpen, is when the open breaker lets the next probe
	// through. For ErrTooManyProbes and ErrThrottled the breaker cannot
	// tell when a call will pass (a slot frees when a probe ends; the
	// throttle is random), so Until is the time of the rejection and Wait
	// is zero: it is no promise that a call made then will be let
	// through, and Retry never waits on these rejections.
	Until time.Time
	// Wait is Until minus the time of the rejection; zero unless open.
	Wait time.Duration
}

// Error returns the Reason's message, with the wait before the next probe
// when the breaker is open.
func (e *RejectedError) Error() string {
	if e.Wait > 0 {
		return e.Reason.Error() + " (next probe in " + e.Wait.String() + ")"
	}
	return e.Reason.Error()
}

// Unwrap returns the Reason.
func (e *RejectedError) Unwrap() error { return e.Reason }

func rejectOpen(until, now time.Time) *RejectedError {
	return &RejectedError{Reason: ErrOpen, State: StateOpen, Until: until, Wait: max(until.Sub(now), 0)}
}

func rejectProbes(now time.Time) *RejectedError {
	return &RejectedError{Reason: ErrTooManyProbes, State: StateHalfOpen, Until: now}
}

func rejectThrottled(now time.Time) *RejectedError {
	return &RejectedError{Reason: ErrThrottled, State: StateClosed, Until: now}
}
