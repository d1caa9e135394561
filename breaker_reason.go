package retry

import "strconv"

// BreakerReason says why a breaker changed state (see BreakerChange): the
// trip rule that fired, the probes' verdict, the end of the open time, or
// an operator's command.
type BreakerReason uint8

const (
	// ReasonConsecutiveFailures: BreakerConfig.ConsecutiveFailures calls
	// failed in a row.
	ReasonConsecutiveFailures BreakerReason = iota + 1
	// ReasonFailureRatio: the share of failures in the window reached
	// BreakerConfig.FailureRatio.
	ReasonFailureRatio
	// ReasonSlowCalls: the share of slow calls in the window reached
	// BreakerConfig.SlowCallRatio.
	ReasonSlowCalls
	// ReasonAverageDuration: the average duration of the calls in the
	// window passed BreakerConfig.MaxAverageDuration.
	ReasonAverageDuration
	// ReasonProbeFailed: a half-open probe failed, so the breaker opened
	// again.
	ReasonProbeFailed
	// ReasonProbesSucceeded: HalfOpenSuccesses probes succeeded, so the
	// breaker closed.
	ReasonProbesSucceeded
	// ReasonOpenElapsed: the open time was up and a call came, so the
	// breaker went half-open to let it through as a probe.
	ReasonOpenElapsed
	// ReasonForceOpen: an operator called Breaker.ForceOpen.
	ReasonForceOpen
	// ReasonForceClosed: an operator called Breaker.ForceClosed.
	ReasonForceClosed
	// ReasonReset: an operator called Breaker.Reset.
	ReasonReset
)

var reasonNames = [...]string{
	ReasonConsecutiveFailures: "consecutive-failures",
	ReasonFailureRatio:        "failure-ratio",
	ReasonSlowCalls:           "slow-calls",
	ReasonAverageDuration:     "average-duration",
	ReasonProbeFailed:         "probe-failed",
	ReasonProbesSucceeded:     "probes-succeeded",
	ReasonOpenElapsed:         "open-elapsed",
	ReasonForceOpen:           "force-open",
	ReasonForceClosed:         "force-closed",
	ReasonReset:               "reset",
}

// String returns the reason's name, in kebab case for log fields and metric
// labels: "consecutive-failures", "probe-failed", "force-open", and so on.
func (r BreakerReason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return "BreakerReason(" + strconv.Itoa(int(r)) + ")"
}

// manual reports whether r is an operator's command rather than traffic.
func (r BreakerReason) manual() bool { return r >= ReasonForceOpen && r <= ReasonReset }
