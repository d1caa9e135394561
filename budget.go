package retry

import "errors"

// ErrBudgetExhausted is the Reason of a call that stopped because its
// Budget refused a retry. In Hedge, a refusal starts no further copy, and
// the call ends with ErrBudgetExhausted once the attempts running have
// failed.
var ErrBudgetExhausted = errors.New("retry: budget exhausted")

// Budget limits the extra attempts, retries and hedges, that calls may
// make, so that retries cannot multiply the load on a dependency that is
// already failing. Create one per dependency and share it between any
// number of policies and goroutines; implementations must be safe for
// concurrent use.
//
// A first attempt is never refused.
type Budget interface {
	// First records that a call made its first attempt.
	First()
	// Extra reports whether one more attempt (a retry or a hedge) may
	// start now. If it returns true the attempt is counted as made.
	Extra() bool
	// Result records how an attempt ended: ok is false for an error that
	// counts as a failure (see Policy.Retryable), true for a success.
	Result(ok bool)
}
