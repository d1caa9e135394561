package retry

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every error that reports bad input: a nil
// function or context, a negative duration or count, a NaN multiplier. Such
// an error comes back from Validate, from a constructor, or from a call
// before anything runs; the one exception is a negative delay returned by
// a Backoff, found only when a wait needs it (see Retry).
var ErrInvalid = errors.New("retry: invalid argument")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Reasons a call gives up, found in Error.Reason and with errors.Is.
var (
	// ErrExhausted: every allowed attempt failed. In Hedge, also: an
	// attempt's failure marked with StopHedging halted the call, and the
	// attempts still running then failed.
	ErrExhausted = errors.New("retry: attempts exhausted")
	// ErrNotRetryable: the last error was marked with Permanent, or
	// Policy.Retryable refused it, or a server asked not to retry (After with
	// a negative delay).
	ErrNotRetryable = errors.New("retry: error is not retryable")
	// ErrElapsed: the call reached the end of Policy.MaxElapsed, which cut
	// an attempt short, or the next wait would have ended at or after it.
	// It matches context.DeadlineExceeded, as every time limit of a call
	// does (see Policy.MaxElapsed).
	ErrElapsed error = elapsedError{}
	// ErrDeadline: the next wait would end at or past the context's
	// deadline, so it was not started. It matches
	// context.DeadlineExceeded too.
	ErrDeadline error = deadlineError{}
)

// ErrAttemptTimeout is matched (errors.Is) by the error of an attempt
// whose own time limit ran out, Policy.AttemptTimeout or its share under
// SplitDeadline, while the caller's context was still live: the caller's
// own deadline never makes it match. Such an attempt is retried. It
// matches context.DeadlineExceeded too, as the attempt's context expired;
// the attempt's message says how long it had:
// "retry: attempt timed out after 2s".
var ErrAttemptTimeout error = attemptTimeout{}

type attemptTimeout struct{}

func (attemptTimeout) Error() string        { return "retry: attempt timed out" }
func (attemptTimeout) Is(target error) bool { return target == context.DeadlineExceeded }
func (attemptTimeout) Timeout() bool        { return true }

// attemptTimeoutError is the error of an attempt that ran out of its own
// time: fn's error, err, marked with ErrAttemptTimeout and the limit.
type attemptTimeoutError struct {
	err   error
	limit time.Duration
}

func (e *attemptTimeoutError) Error() string {
	var b strings.Builder
	b.WriteString("retry: ")
	e.write(&b)
	return b.String()
}

// write writes the message without its package prefix; the context's own
// error, which fn returns as a rule, says nothing more.
func (e *attemptTimeoutError) write(b *strings.Builder) {
	b.WriteString("attempt timed out after ")
	b.WriteString(e.limit.String())
	if e.err != context.DeadlineExceeded {
		b.WriteString(": ")
		writeCause(b, e.err, ErrAttemptTimeout) // a nested call reads as one part
	}
}

func (e *attemptTimeoutError) Unwrap() []error { return []error{ErrAttemptTimeout, e.err} }
func (e *attemptTimeoutError) Timeout() bool   { return true }

type elapsedError struct{}

func (elapsedError) Error() string        { return "retry: max elapsed time reached" }
func (elapsedError) Timeout() bool        { return true }
func (elapsedError) Is(target error) bool { return target == context.DeadlineExceeded }

type deadlineError struct{}

func (deadlineError) Error() string {
	return "retry: next wait would pass the context deadline"
}
func (deadlineError) Is(target error) bool { return target == context.DeadlineExceeded }

// Error is the error of a call that gave up. Reason says why: one of the
// Err* reasons of this package, a context error, a *PushbackError (the
// server asked for a longer wait than allowed), or a *BreakerError (a
// circuit breaker refused an attempt; see Guard). Last is the error of the
// last attempt; errors.Is and errors.As reach both.
type Error struct {
	Attempts int   // attempts started, the first included
	Reason   error // why no further attempt was made; never nil in errors this package returns
	Last     error // error of the last attempt; nil if none finished

	hedged bool // made by Hedge: the attempts ran side by side
}

// Error returns a one-line message that says why the call stopped, after
// how many attempts, and what the last attempt's error was:
//
//	retry: gave up after 3 attempts (attempts exhausted): connection refused
//	retry: gave up after 2 hedged attempts (attempts exhausted): 503; 503
//	retry: error is not retryable: not found
//	retry: no attempt made (context canceled)
//
// A call that stopped at its first attempt for a reason that no count of
// attempts would change (Permanent, Retryable, a breaker's rejection, a
// pushback too long) reads as that reason alone. The errors of a Hedge's
// attempts are joined with "; ". The error of a nested call (a Hedge as a
// Retry's attempt) reads as one part of the message, without its own
// "retry: gave up".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("retry: ")
	e.write(&b, nil)
	return b.String()
}

// write writes e's message without its package prefix. outer is the Reason
// of the call that e is the last attempt of, or nil if e is not nested:
// what outer says is not said again.
func (e *Error) write(b *strings.Builder, outer error) {
	reason := "no reason given" // a hand-built Error
	if e.Reason != nil {
		var r strings.Builder
		oneLine(&r, strings.TrimPrefix(e.Reason.Error(), "retry: "))
		reason = r.String()
	}
	showReason := true
	switch {
	case e.Attempts == 0:
		b.WriteString("no attempt made")
	case e.Attempts == 1 && outer == nil && stopsAtOnce(e.Reason):
		b.WriteString(reason)
		showReason = false
	case outer != nil:
		b.WriteString(strconv.Itoa(e.Attempts))
		b.WriteString(e.attempts())
		b.WriteString(" failed")
		showReason = e.Reason != nil && e.Reason != ErrExhausted && !sameError(e.Reason, outer)
	default:
		b.WriteString("gave up after ")
		b.WriteString(strconv.Itoa(e.Attempts))
		b.WriteString(e.attempts())
	}
	if showReason {
		b.WriteString(" (")
		b.WriteString(reason)
		b.WriteString(")")
	}
	if e.Last != nil && !sameError(e.Last, e.Reason) {
		b.WriteString(": ")
		writeCause(b, e.Last, e.Reason)
	}
}

// attempts is the noun of e's count, with a leading space.
func (e *Error) attempts() string {
	switch {
	case e.hedged && e.Attempts == 1:
		return " hedged attempt"
	case e.hedged:
		return " hedged attempts"
	case e.Attempts == 1:
		return " attempt"
	}
	return " attempts"
}

// stopsAtOnce reports whether reason stops a call whatever its count of
// attempts.
func stopsAtOnce(reason error) bool {
	switch reason.(type) {
	case *BreakerError, *PushbackError:
		return true
	}
	return reason == ErrNotRetryable
}

// writeCause writes the message of an attempt's error, err, of a call that
// stopped for reason: this package's errors without their prefix, so
// that the line says "retry:" once.
func writeCause(b *strings.Builder, err, reason error) {
	switch err := err.(type) {
	case *Error:
		err.write(b, reason)
	case *attemptErrors:
		for i, e := range err.errs {
			if i > 0 {
				b.WriteString("; ")
			}
			writeCause(b, e, reason)
		}
	case *attemptTimeoutError:
		err.write(b)
	default:
		oneLine(b, err.Error())
	}
}

// oneLine writes msg with its line breaks as "; " between the lines that
// have text, so that a message of this package stays on one line whatever
// the errors it quotes hold (an errors.Join, a multi-line cause).
func oneLine(b *strings.Builder, msg string) {
	if !strings.ContainsAny(msg, "\r\n") {
		b.WriteString(msg)
		return
	}
	first := true
	for line := range strings.FieldsFuncSeq(msg, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if !first {
			b.WriteString("; ")
		}
		b.WriteString(line)
		first = false
	}
}

// sameError reports whether a and b are the same error value, without the
// panic of == on two errors of one type that cannot be compared.
func sameError(a, b error) bool {
	if t := reflect.TypeOf(a); t == nil || t != reflect.TypeOf(b) || !t.Comparable() {
		return false
	}
	return a == b
}

// attemptErrors are the errors of the attempts of a Hedge that failed, in
// the order they failed. Its message joins theirs with "; ", on one line;
// errors.Is and errors.As reach each.
type attemptErrors struct{ errs []error }

func (e *attemptErrors) Error() string {
	var b strings.Builder
	writeCause(&b, e, nil)
	return b.String()
}

func (e *attemptErrors) Unwrap() []error { return e.errs }

// joinErrors returns the one error of errs, or all of them joined.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil // no attempt finished: Last is nil
	case 1:
		return errs[0]
	}
	return &attemptErrors{errs}
}

// Unwrap returns the reason and the last attempt's error, leaving out
// either one if it is nil.
func (e *Error) Unwrap() []error {
	switch {
	case e.Reason == nil && e.Last == nil:
		return nil
	case e.Reason == nil:
		return []error{e.Last}
	case e.Last == nil:
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Last}
}

// Timeout reports whether the call ran out of time: whether anything in
// e's tree, the Reason or the last attempt's error, is
// context.DeadlineExceeded (ErrDeadline and ErrAttemptTimeout are) or has
// a Timeout method that reports true, as ErrElapsed, net.Error and
// os.ErrDeadlineExceeded do.
//
// It lets (*url.Error).Timeout, which only asks the error it wraps, see
// through a *Error: after http.Client wraps the error of a call whose
// attempts all timed out, urlErr.Timeout() is true.
func (e *Error) Timeout() bool {
	for _, err := range [2]error{e.Reason, e.Last} {
		if err != nil && (errors.Is(err, context.DeadlineExceeded) || hasTimeout(err)) {
			return true
		}
	}
	return false
}

// hasTimeout walks err's tree looking for an error whose Timeout method
// reports true.
func hasTimeout(err error) bool {
	for err != nil {
		if t, ok := err.(interface{ Timeout() bool }); ok && t.Timeout() {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, err := range u.Unwrap() {
				if hasTimeout(err) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// ctxReason is the reason to report when ctx is done: its error, and the
// cause given to cancel when that says more.
func ctxReason(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// Permanent marks err as not worth retrying: Retry and Hedge stop at once
// and return it inside their *Error. The mark changes nothing else: the
// message is err's and errors.Is and errors.As still reach err.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func isPermanent(err error) bool {
	_, ok := errors.AsType[*permanentError](err)
	return ok
}

// StopHedging marks err as a reason for Hedge to start no further copies
// of the call while the attempts already running go on, as gRPC's hedging
// does when a server pushes back: a hedged attempt answered "overloaded"
// should not cancel a primary that may still succeed. When no attempt is
// left running the call fails with ErrExhausted. The mark takes precedence
// over HedgePolicy.Retryable; Permanent takes precedence over it. The
// Budget counts the failure as any other. Retry ignores the mark. The mark
// changes nothing else about err. StopHedging(nil) is nil.
func StopHedging(err error) error {
	if err == nil {
		return nil
	}
	return &stopHedgingError{err}
}

type stopHedgingError struct{ err error }

func (e *stopHedgingError) Error() string { return e.err.Error() }
func (e *stopHedgingError) Unwrap() error { return e.err }

func stopsHedging(err error) bool {
	_, ok := errors.AsType[*stopHedgingError](err)
	return ok
}

// After marks err with the delay that the server asked for before the next
// attempt, such as an HTTP Retry-After or a gRPC pushback. That delay is
// used instead of the backoff for that one wait, within Policy.MaxAfter. A
// negative d means the server asked not to be retried at all, and the call
// stops with ErrNotRetryable. After(nil, d) is nil.
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &afterError{err, d}
}

type afterError struct {
	err   error
	delay time.Duration
}

func (e *afterError) Error() string { return e.err.Error() }
func (e *afterError) Unwrap() error { return e.err }

// RequestedDelay reports the delay that After attached to err, if any.
func RequestedDelay(err error) (time.Duration, bool) {
	if a, ok := errors.AsType[*afterError](err); ok {
		return a.delay, true
	}
	return 0, false
}

// PushbackError is the Reason of a call that stopped because the server
// asked for a longer wait than the policy allows (Policy.MaxAfter or
// HedgePolicy.MaxAfter). It stops rather than stall for a server-chosen
// time.
type PushbackError struct {
	Requested time.Duration // what the server asked for
	Limit     time.Duration // the policy's MaxAfter
}

// Error says what the server asked for and the limit it passed.
func (e *PushbackError) Error() string {
	return fmt.Sprintf("retry: server asked to wait %v, more than the limit of %v", e.Requested, e.Limit)
}
