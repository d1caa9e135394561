package retry

import "context"

// Validate reports the first invalid setting of p, its Backoff included,
// wrapped around ErrInvalid. A nil *Policy is valid.
//
// Retry and Do check the same before the first attempt of every call, and
// return the error without calling fn. Call Validate, or Must, to fail
// earlier: at start-up, or in a test.
func (p *Policy) Validate() error {
	if err := p.validateSettings(); err != nil || p == nil {
		return err
	}
	return validateBackoff(p.Backoff)
}

func (p *Policy) validateSettings() error {
	if p == nil {
		return nil
	}
	switch {
	case p.MaxAttempts < 0 && p.MaxAttempts != Unlimited:
		return invalid("Policy.MaxAttempts is negative (%d) and not Unlimited", p.MaxAttempts)
	case p.MaxElapsed < 0:
		return invalid("Policy.MaxElapsed is negative (%v)", p.MaxElapsed)
	case p.AttemptTimeout < 0:
		return invalid("Policy.AttemptTimeout is negative (%v)", p.AttemptTimeout)
	case p.MaxAfter < 0:
		return invalid("Policy.MaxAfter is negative (%v)", p.MaxAfter)
	case p.SplitDeadline && p.MaxAttempts == Unlimited:
		return invalid("Policy.SplitDeadline shares the time among a count of attempts, and MaxAttempts is Unlimited")
	}
	if err := validateClock("Policy", p.Clock); err != nil {
		return err
	}
	return validateBudget("Policy", p.Budget)
}

// validateBudget reports a Budget that holds a nil pointer (or other nil
// value), whose methods would panic.
func validateBudget(owner string, b Budget) error {
	switch b := b.(type) {
	case *TokenBucket:
		if b == nil {
			return invalid("%s.Budget is a nil *TokenBucket", owner)
		}
	case *RatioBudget:
		if b == nil {
			return invalid("%s.Budget is a nil *RatioBudget", owner)
		}
	case nil:
	default:
		if nilValue(b) {
			return invalid("%s.Budget is a nil %T", owner, b)
		}
	}
	return nil
}

// validateBackoff validates a Backoff by its Validate method, if it has
// one (this package's strategies do), after the nil values behind it that
// would panic.
func validateBackoff(b Backoff) error {
	switch b := b.(type) {
	case nil:
		return nil
	case BackoffFunc:
		if b == nil {
			return invalid("Policy.Backoff is a nil BackoffFunc")
		}
		return nil
	case *BackoffFunc:
		if b == nil || *b == nil {
			return invalid("Policy.Backoff is a nil *BackoffFunc or points to a nil one")
		}
		return nil
	// Nil pointers to the strategies would panic in Validate and Delay.
	case *Exponential:
		return validatePtr(b)
	case *Constant:
		return validatePtr(b)
	case *Linear:
		return validatePtr(b)
	case *DecorrelatedJitter:
		return validatePtr(b)
	case interface{ Validate() error }:
		return b.Validate()
	}
	return nil
}

func validatePtr[T interface{ Validate() error }](b *T) error {
	if b == nil {
		return invalid("Policy.Backoff is a nil %T", b)
	}
	return (*b).Validate()
}

// knownValid reports whether b is nil or one of this package's strategies
// with valid fields, without an interface method call. False says
// nothing: b may still be valid, as check finds out.
func knownValid(b Backoff) bool {
	switch b := b.(type) {
	case nil:
		return true
	case Exponential:
		return b.valid()
	case Constant:
		return b.valid()
	case Linear:
		return b.valid()
	case DecorrelatedJitter:
		return b.valid()
	}
	return false
}

// check validates the arguments of a call and p's settings in full, and
// stops a call whose context is already done; Retry and Do call it when
// Policy.fast cannot vouch for them.
func (p *Policy) check(ctx context.Context, nilFn bool) error {
	switch {
	case nilFn:
		return invalid("nil function")
	case ctx == nil:
		return invalid("nil Context")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return &Error{Attempts: 0, Reason: ctxReason(ctx)}
	}
	return nil
}
