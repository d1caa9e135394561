package retry

import (
	"context"
	"errors"
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
	// it, with its number, duration and error. Its ctx is the attempt's:
	// for Retry and Do the caller's, marked with the Attempt if
	// MarkAttempts is set (an attempt's time limit has ended with it); for
	// Hedge the attempt's own child of the caller's, marked with its
	// Attempt, which is cancelled if the attempt lost. A panic in it is a
	// panic of the attempt.
	OnAttempt func(ctx context.Context, e AttemptEvent)

	// OnRetry is called by Retry and Do before each wait, on the caller's
	// goroutine, with the failed attempt and the wait chosen.
	OnRetry func(ctx context.Context, e RetryEvent)

	// OnHedge is called by Hedge before each attempt after the first, on
	// the caller's goroutine.
	OnHedge func(ctx context.Context, e HedgeEvent)

	// OnDone is called exactly once for every call of Retry, Do, Hedge or
	// HedgeWithRelease, on the caller's goroutine, as the call ends, with
	// what it did and how it ended (see CallEvent.Outcome). That includes
	// calls that make no attempt: bad input (then ctx is
	// context.Background() if the call's is nil) and a context already
	// done. A call that panics (fn, or another hook) reports it before the
	// panic goes on.
	OnDone func(ctx context.Context, e CallEvent)

	// OnBudgetRefused is called when a Budget refuses an extra attempt (a
	// retry or a hedge), on the caller's goroutine. The budget's name is
	// read from its Name method, if it has one (TokenBucket and
	// RatioBudget do).
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
	Err      error         // the call's error (a *Error when it gave up, a *PanicError if it panicked); nil on success
}

// Outcomes of a call, as CallEvent.Outcome returns them: a small fixed set,
// fit for a metric label.
const (
	OutcomeSuccess      = "success"       // an attempt succeeded
	OutcomeExhausted    = "exhausted"     // ErrExhausted: every allowed attempt failed
	OutcomeNotRetryable = "not_retryable" // ErrNotRetryable: Permanent, Retryable said no, or After(err, negative)
	OutcomeBudget       = "budget"        // ErrBudgetExhausted: the Budget refused a retry or hedge
	OutcomeElapsed      = "elapsed"       // ErrElapsed: Policy.MaxElapsed ran out
	OutcomeDeadline     = "deadline"      // the context's deadline passed, or the next wait would pass it (ErrDeadline)
	OutcomeCanceled     = "canceled"      // the context was cancelled
	OutcomePushback     = "pushback"      // a *PushbackError: the server asked for too long a wait
	OutcomeBreaker      = "breaker"       // a *BreakerError: a circuit breaker refused an attempt
	OutcomeShed         = "shed"          // a *ShedError: a Bulkhead or Limiter refused the last attempt
	OutcomePanic        = "panic"         // fn or a hook panicked (or called runtime.Goexit)
	OutcomeInvalid      = "invalid"       // bad input (ErrInvalid): no attempt was made, or a Backoff returned a negative delay
	OutcomeOther        = "other"         // any other error
)

// Outcome returns how the call ended, as one of the Outcome constants.
func (e CallEvent) Outcome() string {
	if e.Err == nil {
		return OutcomeSuccess
	}
	ce, ok := e.Err.(*Error)
	if !ok {
		// Not from a retry loop that gave up: a panic, bad input, or an
		// error that a layer above reports as is (httpx's request sent
		// once), which may be the caller's context or a breaker's
		// refusal.
		switch {
		case isPanic(e.Err):
			return OutcomePanic
		case errors.Is(e.Err, ErrInvalid):
			return OutcomeInvalid
		case isShed(e.Err):
			return OutcomeShed
		case errors.Is(e.Err, context.Canceled):
			return OutcomeCanceled
		case errors.Is(e.Err, ErrBreakerOpen), errors.Is(e.Err, ErrTooManyProbes), errors.Is(e.Err, ErrBreakerThrottled):
			return OutcomeBreaker
		case errors.Is(e.Err, context.DeadlineExceeded):
			return OutcomeDeadline
		}
		return OutcomeOther
	}
	if _, pushback := ce.Reason.(*PushbackError); (ce.Reason == ErrExhausted || pushback) && isShed(ce.Last) {
		return OutcomeShed // refused by a load shedder to the end
	}
	switch r := ce.Reason; r {
	case ErrExhausted:
		return OutcomeExhausted
	case ErrNotRetryable:
		return OutcomeNotRetryable
	case ErrBudgetExhausted:
		return OutcomeBudget
	case ErrElapsed:
		return OutcomeElapsed
	case ErrDeadline:
		return OutcomeDeadline
	default:
		switch r.(type) {
		case *PushbackError:
			return OutcomePushback
		case *BreakerError:
			return OutcomeBreaker
		}
		switch {
		case errors.Is(r, context.Canceled):
			return OutcomeCanceled
		case errors.Is(r, context.DeadlineExceeded):
			return OutcomeDeadline
		case errors.Is(r, ErrInvalid):
			return OutcomeInvalid
		}
	}
	return OutcomeOther
}

func isPanic(err error) bool {
	_, ok := err.(*PanicError)
	return ok
}

// BudgetEvent describes an extra attempt that a Budget refused.
type BudgetEvent struct {
	Name    string // the policy's name
	Budget  string // the budget's name: its Name method's, if it has one
	Attempt int    // number of the attempt refused, from 2
}

// budgetName is b's name, if it has a Name method.
func budgetName(b Budget) string {
	if n, ok := b.(interface{ Name() string }); ok {
		return n.Name()
	}
	return ""
}

// refused reports to h, if it has OnBudgetRefused, that budget b refused
// attempt n of a call of the policy called name.
func (h *Hooks) refused(ctx context.Context, name string, b Budget, n int) {
	if h != nil && h.OnBudgetRefused != nil {
		h.OnBudgetRefused(ctx, BudgetEvent{Name: name, Budget: budgetName(b), Attempt: n})
	}
}

// watchesCall reports whether h wants a call's start and end, or each of
// its attempts: such a call leaves the fast path.
func (h *Hooks) watchesCall() bool {
	return h.OnDone != nil || h.OnAttempt != nil
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
