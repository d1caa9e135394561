package retry

import (
	"context"
	"time"
)

// Hooks receives what calls and breakers do, for logs, metrics and traces.
// Give one *Hooks to any number of policies and breakers (Policy.Hooks,
// HedgePolicy.Hooks, BreakerConfig.Hooks): one line of wiring each. Every
// field is optional, and a nil field, or a nil *Hooks, costs nothing.
//
// Every hook receives the context of the call it reports on (for trace ids
// and context-aware loggers) and an event that carries the name of the
// policy, breaker or budget it comes from. Hooks may run on several
// goroutines at once: they must be safe for concurrent use, should return
// quickly, and should not panic. See LogHooks for hooks that log through
// log/slog.
type Hooks struct {
	// OnAttempt is called as each attempt ends, on the goroutine that ran
	// it, with its number, duration and error.
	OnAttempt func(ctx context.Context, e AttemptEvent)

	// OnRetry is called by Retry and Do before each wait, on the caller's
	// goroutine, with the failed attempt and the wait chosen.
	OnRetry func(ctx context.Context, e RetryEvent)

	// OnHedge is called by Hedge before each attempt after the first, on
	// the caller's goroutine.
	OnHedge func(ctx context.Context, e HedgeEvent)

	// OnDone is called once as a call of Retry, Do or Hedge ends, on the
	// caller's goroutine, with what the call did and how it ended.
	OnDone func(ctx context.Context, e CallEvent)

	// OnBudgetRefused is called when a Budget refuses an extra attempt (a
	// retry or a hedge), on the caller's goroutine.
	OnBudgetRefused func(ctx context.Context, e BudgetEvent)

	// OnBreakerChange is called after every change of a breaker's state, in
	// the order of the changes, outside the breaker's lock.
	OnBreakerChange func(ctx context.Context, e BreakerChange)

	// OnBreakerReject is called when a breaker refuses a call.
	OnBreakerReject func(ctx context.Context, e BreakerReject)
}

// AttemptEvent describes an attempt that has ended.
type AttemptEvent struct {
	Name     string        // the policy's name
	Attempt  int           // number of the attempt, from 1
	Hedge    bool          // started by Hedge while an earlier attempt was still running
	Duration time.Duration // how long it ran
	Err      error         // its error; nil if it succeeded
}

// CallEvent describes a call of Retry, Do or Hedge that has ended.
type CallEvent struct {
	Name     string        // the policy's name
	Attempts int           // attempts started, the first included
	Hedges   int           // attempts started by Hedge while another ran
	Winner   int           // number of the attempt whose result was returned; 0 if the call failed
	Duration time.Duration // from the call's start to its end
	Err      error         // the call's error (a *Error when it gave up); nil on success
}

// BudgetEvent describes an extra attempt that a Budget refused.
type BudgetEvent struct {
	Name    string // the policy's name
	Budget  string // the budget's name, if it has one
	Attempt int    // number of the attempt refused, from 2
}

// BreakerChange describes a change of a breaker's state: from what to
// what, why, and the counts of the period that ended. A manual change (see
// Breaker.ForceOpen) may leave the state as it was (From == To): it still
// starts a new period.
type BreakerChange struct {
	Name     string        // the breaker's name
	From, To BreakerState  // the states before and after
	Reason   BreakerReason // the rule or event that made the change
	Manual   bool          // made by an operator (ForceOpen, ForceClosed, Reset), not by traffic
	// Forced: the breaker now stays in state To whatever the traffic, until
	// released (see Breaker.ForceOpen and Breaker.ForceClosed).
	Forced bool
	// Until, when To is BreakerOpen, is when the breaker lets the next
	// probe through; zero if it was forced open until told otherwise.
	Until time.Time
	// Ended holds the counts of the period that ended, in state From.
	Ended BreakerCounts
}

// BreakerCounts are the counts of one period of a breaker's state (from one
// change of state to the next), as they stood when it ended. Under
// concurrent calls they may be off by the calls that were ending at that
// moment.
type BreakerCounts struct {
	// Calls counts the calls that succeeded or failed, Failures those that
	// failed and Slow those that took SlowCallThreshold or more: for a
	// closed period, those in its rolling window (all zero without one:
	// see ConsecutiveFailures); for a half-open period, the probes.
	Calls, Failures, Slow int64
	// AverageDuration is the average duration of the calls counted, if
	// the breaker measures durations.
	AverageDuration time.Duration
	// ConsecutiveFailures is the run of failures that ended a closed
	// period.
	ConsecutiveFailures int64
	// Rejected counts the calls the breaker refused during the period.
	Rejected uint64
}

// BreakerReject describes a call that a breaker refused.
type BreakerReject struct {
	Name string        // the breaker's name
	Err  *BreakerError // the refusal
}
