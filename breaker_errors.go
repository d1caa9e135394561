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
// It tells Retry how to go on when the retry loop wraps the breaker, as it
// should (see Guard): a rejection by an open breaker carries its Wait as if
// marked with After, so the loop waits until the next probe may start (or
// stops, if that is longer than Policy.MaxAfter or the context's deadline
// allows); the other rejections are marked Permanent, so the loop stops at
// once. Either way a rejection is never retried in a tight loop.
type RejectedError struct {
	Reason error // ErrOpen, ErrTooManyProbes or ErrThrottled
	State  State // the state that rejected the call
	// Until, for ErrOpen, is when the open breaker lets the next probe
	// through. For ErrTooManyProbes and ErrThrottled the breaker cannot
	// tell when a call will pass (a slot frees when a probe ends; the
	// throttle is random), so Until is the time of the rejection and Wait
	// is zero: it is no promise that a call made then will be let
	// through, and Retry stops on these rejections anyway.
	Until time.Time
	// Wait is Until minus the time of the rejection; zero unless open.
	Wait time.Duration
	mark error // After(Reason, Wait) or Permanent(Reason), for Retry
}

func (e *RejectedError) Error() string {
	if e.Wait > 0 {
		return e.Reason.Error() + " (next probe in " + e.Wait.String() + ")"
	}
	return e.Reason.Error()
}

// Unwrap returns the Reason, and the mark that Retry reads.
func (e *RejectedError) Unwrap() []error { return []error{e.Reason, e.mark} }

// permanentRejections are the marks of the rejections other than ErrOpen;
// they hold no per-call data.
var (
	permanentProbes    = Permanent(ErrTooManyProbes)
	permanentThrottled = Permanent(ErrThrottled)
)

func rejectOpen(until, now time.Time) *RejectedError {
	wait := max(until.Sub(now), 0)
	return &RejectedError{Reason: ErrOpen, State: StateOpen, Until: until, Wait: wait, mark: After(ErrOpen, wait)}
}

func rejectProbes(now time.Time) *RejectedError {
	return &RejectedError{Reason: ErrTooManyProbes, State: StateHalfOpen, Until: now, mark: permanentProbes}
}

func rejectThrottled(now time.Time) *RejectedError {
	return &RejectedError{Reason: ErrThrottled, State: StateClosed, Until: now, mark: permanentThrottled}
}
