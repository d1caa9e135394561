package retry

import (
	"context"
	"errors"
	"time"
)

// MaxHedgeAttempts is the most attempts a HedgePolicy may allow. More
// would multiply the load on a slow dependency for little gain; gRPC caps
// hedging at 5.
const MaxHedgeAttempts = 10

// Defaults of a HedgePolicy whose fields are zero.
const (
	// defaultHedgeAttempts is the number of attempts, the first included,
	// of a HedgePolicy whose MaxAttempts is zero.
	defaultHedgeAttempts = 2
	// defaultHedgeDelay is the hedge delay of a HedgePolicy with neither a
	// Delay nor a Latency tracker, and the fallback of a LatencyTracker
	// that has too few samples. It is deliberately conservative: set Delay
	// near your dependency's p95, or use a LatencyTracker.
	defaultHedgeDelay = 100 * time.Millisecond
)

// ErrHedgeLost is the cause (see context.Cause) with which Hedge cancels an
// attempt's context once another attempt has won.
var ErrHedgeLost = errors.New("retry: lost the hedge race")

// errCallEnded is the cause with which Hedge cancels the attempts still
// running when a call ends with no winner (a permanent error, a panic).
var errCallEnded = errors.New("retry: hedged call ended")

// HedgePolicy says how Hedge hedges a call: when the first attempt has not
// answered within a delay, it starts another copy and takes the first
// success. Hedge only calls that are safe to repeat (idempotent ones).
//
// The zero value (and a nil *HedgePolicy) allows 2 attempts, the second
// 100ms after the first. A HedgePolicy is read-only once in use: build it
// once and share it between any number of goroutines; it holds no per-call
// state.
type HedgePolicy struct {
	// Name, if set, identifies the policy in every event its hooks receive
	// (see Hooks), as a metric label or a log field.
	Name string

	// MaxAttempts caps the attempts of one call, the first included. Zero
	// means 2; 1 disables hedging; negative or above MaxHedgeAttempts is
	// invalid.
	MaxAttempts int

	// Delay is how long after an attempt starts the next one starts, if no
	// attempt has succeeded by then. Zero means 100ms, or the Latency
	// tracker's delay when Latency is set; there is no instant fan-out.
	// Negative is invalid, and so is a Delay together with a Latency
	// tracker.
	Delay time.Duration

	// Latency, if set, chooses the delay instead: each call hedges after
	// Latency.Delay(), a quantile of recent latencies (see LatencyTracker).
	// A call that succeeds records one sample of its first attempt, once
	// that attempt has returned: its latency if it won or succeeded anyway;
	// if it lost and failed (most likely cut short by its cancellation), the
	// time it ran plus half the delay (its real latency is unknown, only
	// longer than the time it ran). Nothing is recorded when the first
	// attempt failed before another won, or panicked, nor for a call that
	// fails. A first attempt that lost records from its own goroutine,
	// possibly after Hedge has returned.
	//
	// The first attempt is recorded, not the winner, so that the slow
	// attempts that hedging cuts short stay in the sample: the delay then
	// tracks the real quantile, and at p95 about one call in twenty hedges.
	Latency *LatencyTracker

	// Retryable, if set, says whether a failed attempt is worth another
	// one. A retryable failure starts the next attempt at once, without
	// waiting for the delay. A failure that is not retryable, or that is
	// marked with Permanent, cancels every attempt and ends the call. Nil
	// means every other error is retryable. A failure marked with
	// StopHedging, or a circuit breaker's *BreakerError, halts the call
	// instead (see Hedge), whatever Retryable says.
	Retryable func(error) bool

	// Budget, if set, limits extra attempts: the call asks Extra before
	// each attempt after the first, and a refusal halts the call (see
	// Hedge): no further attempt starts or is asked for, the attempts
	// already running are left alone, and when none is left the call
	// stops with ErrBudgetExhausted. The Budget sees each attempt's
	// outcome as Retry's would: Result(true) for the winner, Result(false)
	// once for every failure that is neither Permanent nor refused by
	// Retryable (a StopHedging one and a pushback included), nothing for a
	// breaker's rejection or a load shedder's (nothing was sent). Results
	// that come after the call was decided are not counted.
	//
	// Each Hedge call counts as a call (First). For a Hedge inside a Retry,
	// give the budget to one of the two policies, not both: each round
	// would count as a new call and earn a RatioBudget more extras, and a
	// failed round would be charged twice. (httpx, which nests them, counts
	// one budget once per attempt.)
	Budget Budget

	// MaxAfter caps the wait that a failed attempt's server asked for
	// through After before the next copy. A longer one starts no more
	// copies, as a negative one does, and the call, once nothing is left
	// running, fails with a *PushbackError as its Reason rather than stall
	// for a server-chosen time (a Retry around it then sees the request
	// and applies its own Policy.MaxAfter). Zero means 1 minute;
	// negative is invalid.
	MaxAfter time.Duration

	// OnDiscard, if set, receives each successful result that lost the race
	// (it finished after the winner was chosen), exactly once, so that it
	// can release what it holds: a body, rows, a connection. It also
	// receives, as a *PanicError, a panic in an attempt that ended after the
	// call was decided. It runs on the caller's goroutine or on the
	// attempt's, possibly after Hedge has returned and concurrently with
	// other calls: it must be safe for concurrent use, should not block,
	// and must not panic (on an attempt's goroutine nothing can recover).
	//
	// If OnDiscard is nil, a discarded value that implements io.Closer is
	// closed and any other is dropped, and such a late panic is re-raised
	// on the goroutine that finds it (which may crash the program, as any
	// unrecovered panic does) rather than be swallowed.
	OnDiscard func(any)

	// Hooks, if set, receives the events of this policy's calls (see Hooks).
	Hooks *Hooks

	// Clock is the source of time; nil means real time, which also works
	// inside a testing/synctest bubble.
	Clock Clock
}

// HedgeEvent describes an attempt that Hedge is about to start, other than
// the first.
type HedgeEvent struct {
	Name    string        // the policy's name
	Attempt int           // number of the attempt, from 2
	Running int           // attempts still running, which it joins
	Elapsed time.Duration // time since the call started
	Delay   time.Duration // the hedge delay of this call (fixed, or from the Latency tracker)
	Err     error         // the failure that started it early; nil if the delay passed
}

// Validate reports the first invalid setting of h, wrapped around
// ErrInvalid. A nil *HedgePolicy is valid. Hedge checks the same settings
// on every call, cheaply; call Validate to fail earlier.
func (h *HedgePolicy) Validate() error {
	if h == nil {
		return nil
	}
	switch {
	case h.MaxAttempts < 0:
		return invalid("HedgePolicy.MaxAttempts is negative (%d)", h.MaxAttempts)
	case h.MaxAttempts > MaxHedgeAttempts:
		return invalid("HedgePolicy.MaxAttempts is %d, above the limit of %d", h.MaxAttempts, MaxHedgeAttempts)
	case h.Delay < 0:
		return invalid("HedgePolicy.Delay is negative (%v)", h.Delay)
	case h.Delay > 0 && h.Latency != nil:
		return invalid("HedgePolicy has both a Delay (%v) and a Latency tracker; set one", h.Delay)
	case h.MaxAfter < 0:
		return invalid("HedgePolicy.MaxAfter is negative (%v)", h.MaxAfter)
	}
	if err := validateClock("HedgePolicy", h.Clock); err != nil {
		return err
	}
	return validateBudget("HedgePolicy", h.Budget)
}

func (h *HedgePolicy) maxAttempts() int {
	if h.MaxAttempts == 0 {
		return defaultHedgeAttempts
	}
	return h.MaxAttempts
}

// delay is the hedge delay of one call.
func (h *HedgePolicy) delay() time.Duration {
	if h.Latency != nil {
		return h.Latency.Delay()
	}
	return orDefault(h.Delay, defaultHedgeDelay)
}

// Hedge calls fn and, if no attempt has succeeded within the hedge delay,
// calls it again concurrently, up to h.MaxAttempts attempts in all, and
// returns the first success. A nil h means the zero HedgePolicy. Hedge only
// calls that are safe to repeat.
//
// Attempt 1 starts at once; each further attempt starts when the delay has
// passed since the previous one started, or at once when an attempt fails
// with a retryable error. A failure marked with After (server pushback)
// holds the next attempt for the wait the server asked for instead. Each
// attempt gets its own child of ctx, marked with its Attempt (see
// AttemptFrom).
//
// Some failures halt the call, the third outcome of gRPC's hedging besides
// "go on" and "stop": no further attempt starts, but the attempts already
// running go on, and one of them may still win. They are a failure marked
// with StopHedging (a server that sheds load), a circuit breaker's
// *BreakerError (a refused copy says nothing about the others: the primary
// may be the breaker's probe), the Budget refusing an attempt, and pushback
// with a negative wait, one longer than h.MaxAfter, or one that would pass
// ctx's deadline.
//
// Hedge returns as soon as an attempt succeeds. It then cancels every other
// attempt with the cause ErrHedgeLost and hands any success that comes later
// to h.OnDiscard; it does not wait for them. The winner's own context is
// cancelled when Hedge returns, so use Hedge for values that are complete
// when fn returns; for values still tied to the attempt's context, such as a
// response body being read, use HedgeWithRelease.
//
// On failure v is T's zero value and the error is a *Error. Its Reason is
// ErrNotRetryable when an attempt failed permanently (which cancels the
// others and returns at once), or the context's error when ctx is done (no
// attempt starts after that, and the running ones are cancelled). Otherwise
// the call ends when its last running attempt fails and no other may start,
// and the Reason says why none may: ErrExhausted when every allowed attempt
// has started or a StopHedging failure halted the call, the *BreakerError
// when a breaker's rejection did and was the last attempt to end (a copy
// refused while the breaker's probe ran is stale once the probe has failed:
// then ErrExhausted), ErrBudgetExhausted when the Budget did, and for
// pushback ErrNotRetryable (a negative wait), a *PushbackError (a wait
// longer than h.MaxAfter) or ErrDeadline (a wait past ctx's deadline); the
// first such reason, if several. Its Last joins the errors of every attempt
// that failed, so errors.Is and errors.As reach each; its message, on one
// line, joins theirs with "; ". Invalid input (nil ctx or fn, an invalid h)
// returns an error wrapping ErrInvalid without calling fn.
//
// A panic in fn is recovered in the attempt's goroutine and raised again in
// the caller's goroutine, after the other attempts have been cancelled, as a
// *PanicError: its Value is the value passed to panic and its Stack the
// attempt goroutine's stack, which the crash report of an unrecovered panic
// then shows (the caller's own stack says nothing of where fn panicked). A
// caller that recovers it reads Value for the original. runtime.Goexit in fn
// is passed on as it is. Hedge uses one goroutine per attempt, and none
// outlives the call by more than fn takes to honour its cancellation.
//
// h.Hooks, if set, sees the call (see Hooks): OnHedge before each attempt
// after the first, OnAttempt as each attempt ends, OnBudgetRefused, and
// OnDone once as the call ends, bad input included. A hook that panics
// ends the call as a panic in fn does: no attempt is left running and no
// value undisposed.
func Hedge[T any](ctx context.Context, h *HedgePolicy, fn func(context.Context) (T, error)) (T, error) {
	v, cancel, err := hedge(ctx, fn, h)
	if cancel != nil {
		cancel(nil)
	}
	return v, err
}

// HedgeWithRelease is Hedge for results that stay tied to the winning
// attempt's context after fn returns, such as an HTTP response whose body
// is read later. The winner's context stays alive until the caller calls
// release, which it must do once done with v (httpx calls it from the
// body's Close). release is never nil and may be called any number of
// times; after an error it does nothing.
func HedgeWithRelease[T any](ctx context.Context, h *HedgePolicy, fn func(context.Context) (T, error)) (v T, release func(), err error) {
	v, cancel, err := hedge(ctx, fn, h)
	if cancel == nil {
		return v, noRelease, err
	}
	return v, func() { cancel(nil) }, err
}

func noRelease() {}

// hedge runs the call and returns the result and, on success, the cancel
// function of the winner's context, which the caller must call.
func hedge[T any](ctx context.Context, fn func(context.Context) (T, error), h *HedgePolicy) (T, context.CancelCauseFunc, error) {
	var zero T
	if fn == nil || ctx == nil || h != nil && (h.MaxAttempts < 0 || h.Delay < 0 || h.MaxAfter < 0 ||
		h.MaxAttempts > MaxHedgeAttempts || h.Delay > 0 && h.Latency != nil ||
		h.Budget != nil && validateBudget("HedgePolicy", h.Budget) != nil ||
		h.Clock != nil && validateClock("HedgePolicy", h.Clock) != nil) {
		var err error
		switch {
		case fn == nil:
			err = invalid("nil function")
		case ctx == nil:
			err = invalid("nil Context")
		default:
			err = h.Validate()
		}
		if h != nil && h.Hooks != nil && h.Hooks.OnDone != nil {
			h.Hooks.OnDone(orBackground(ctx), CallEvent{Name: h.Name, Err: err})
		}
		return zero, nil, err
	}
	if h == nil {
		h = &zeroHedgePolicy
	}
	c := &hedgeCall[T]{h: h, fn: fn, max: h.maxAttempts(), ctx: ctx}
	c.results = make(chan int, c.max) // one result per attempt: a send never blocks
	return c.run(ctx)
}

var zeroHedgePolicy HedgePolicy
