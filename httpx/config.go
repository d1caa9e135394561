package httpx

import (
	"context"
	"net/http"
	"reflect"
	"time"

	"github.com/retrykit/retry"
)

// Defaults of a Config whose fields are zero, as its fields' docs say.
const (
	defaultMaxReplayBytes = 1 << 20  // 1 MiB of request body kept to send again
	defaultMaxDrainBytes  = 64 << 10 // 64 KiB read from a discarded response
	defaultDrainTimeout   = time.Second
)

// Config configures a Transport. Every zero field means the default
// documented on it, and the zero Config gives the zero Transport: 3 attempts
// through http.DefaultTransport, with retry's zero Policy. New copies and
// checks the Config once (see Validate).
type Config struct {
	// Base sends each attempt. Nil means http.DefaultTransport. The
	// Transport never calls its CloseIdleConnections on its own.
	Base http.RoundTripper

	// Retry says how many attempts and how long between them. Nil means
	// retry's zero Policy: 3 attempts, exponential backoff with full jitter.
	// Its Hooks see each request as a call, with a context that carries
	// the request (see RequestFrom). A request whose body can be sent only
	// once is a call of one attempt for OnAttempt and OnDone, whose error
	// is the one RoundTrip returns (a response is a success, whatever its
	// status); the other hooks do not see it, nor do Hedge's.
	// Its Retryable, AttemptTimeout and SplitDeadline must be unset: here
	// Config.Retryable classifies and Config.AttemptTimeout bounds an
	// attempt, since a response's body is read after the attempt returns. A
	// server's Retry-After on 429 and 503 replaces the backoff for that
	// wait, within Retry.MaxAfter; a longer one ends the call with that
	// response, and so does one that would pass the caller's deadline. A
	// Retry-After of 0 or a past date retries at once. One that is not a
	// non-negative integer or an HTTP-date, or more than one, is ignored:
	// the backoff applies.
	Retry *retry.Policy

	// Retryable says whether an attempt's outcome is worth another attempt:
	// resp is nil when err is not. Nil means DefaultRetryable. Whatever it
	// says, a request that is not Idempotent is sent again only when the
	// outcome shows that the server did not act on it (a failed dial, 429,
	// 503), unless RetryNonIdempotent is set. Hedged attempts call it from
	// their own goroutines: it must then be safe for concurrent use, and
	// must not panic (see OnAttempt).
	Retryable func(resp *http.Response, err error) bool

	// RetryNonIdempotent lets POST and PATCH requests without an
	// Idempotency-Key be retried like any other.
	RetryNonIdempotent bool

	// AttemptTimeout, if positive, bounds each attempt's wait for the
	// response headers. An attempt that runs out of time is retried; its
	// error matches retry.ErrAttemptTimeout, and the caller's own deadline
	// never does. The body of the response returned is not bounded: it is
	// read through the attempt's context, which lives until the body is
	// closed.
	AttemptTimeout time.Duration

	// SplitDeadline, if set, gives each attempt at most an equal share of
	// the time left before the caller's deadline for its response headers,
	// so that a hanging first attempt cannot use up the time of the later
	// ones (AttemptTimeout, if also set, caps each share). A hedged call
	// shares the time among its rounds, each copy getting its round's share.
	// An attempt that no other could follow (a body sent once, a request
	// that is not Idempotent, whose timeout is never retried) gets no share
	// of its own: only AttemptTimeout bounds it.
	SplitDeadline bool

	// MaxReplayBytes caps the request body kept in memory to send again when
	// the request has no GetBody (or, hedged, to let copies run at once; see
	// Hedge). A larger body (or one that has no GetBody and no length, such
	// as a pipe, past that size) is sent once and not retried; a failure
	// then is a *NotReplayableError. Zero means 1 MiB. A body read into
	// memory must have its declared ContentLength: a shorter or longer one
	// is an error wrapping ErrInvalid, and nothing is sent. The caller's
	// GetBody bodies are held to the declared length too, as HTTP/1 holds
	// them (HTTP/2 would send a short one as if whole).
	MaxReplayBytes int64

	// MaxDrainBytes caps what is read from a response that is discarded
	// (retried or lost) so its connection can be reused; DrainTimeout caps
	// the time. Past either the body is closed as it is. Zero means 64 KiB
	// and 1s.
	MaxDrainBytes int64
	DrainTimeout  time.Duration

	// Hedge, if set, hedges requests that are Idempotent and whose bodies
	// are independent (never a plain POST, whatever RetryNonIdempotent
	// says): each attempt of the retry loop becomes a round of up to
	// Hedge.MaxAttempts concurrent copies, and the first answer wins. Lost
	// responses are drained and closed; every response is read through a
	// context that lives until its body is closed, so the winner's body, or
	// the last response when retries run out, comes back whole. A 429, a
	// 503, a 409 or a breaker's rejection stops the round from sending more
	// copies but lets the attempts already running finish (gRPC's hedging
	// rule); when none is left, the retry loop waits before the next round.
	// Bodies are independent when the request has none, when httpx keeps it
	// in memory (see MaxReplayBytes), or when its GetBody's body has a
	// declared ContentLength within MaxReplayBytes, which httpx then reads
	// into memory once: a caller's GetBody may rewind one shared reader (a
	// file), which copies must not read at once. Any other request is
	// retried one attempt at a time, not hedged. Hedge's Retryable and
	// OnDiscard must be unset: the Transport classifies and discards. A
	// hedged call has one budget, counted once per attempt: Config.Budget's,
	// or else Retry.Budget, or else Hedge.Budget. Hedge.Hooks see each round
	// as a call of retry.Hedge, its attempts numbered from 1, and
	// Retry.Hooks see each round as one attempt.
	Hedge *retry.HedgePolicy

	// Budget, if set, returns the retry budget for a request (nil for none),
	// such as a PerHost's, in place of Retry.Budget and Hedge.Budget: one
	// budget per host keeps a failing host from using up the retries of the
	// healthy ones.
	Budget func(req *http.Request) retry.Budget

	// Breaker, if set, returns the circuit breaker for a request (nil for
	// none), such as the PerHost of Breakers. Every attempt asks it first, a
	// body sent once included. A rejection means the request was not sent,
	// so it ends the call with the *retry.BreakerError at once, whatever the
	// method, unless Retry.WaitForProbe is set: then a rejection by an open
	// breaker makes the retry loop wait until its next probe (within
	// Retry.MaxAfter and the deadline). A rejected retry ends the call with
	// that error, not with the previous attempt's retryable response: that
	// one was drained before the wait, so that its connection went back to
	// the pool. In a hedged round a rejected copy only stops the round from
	// sending more (see Hedge). Transport errors, attempt timeouts, 5xx and
	// 429 count as failures, and a Retry-After sets how long the breaker
	// stays open. Outcomes that say nothing about the server count as
	// nothing: the caller's cancellation (with or without a cause), a hedged
	// copy cancelled because another won, a request that net/http refuses
	// before sending it, a GetBody error. A context already done asks the
	// breaker nothing.
	Breaker func(req *http.Request) *retry.Breaker

	// AttemptHeader, if set, names a header that carries the attempt number
	// (from 1) on every attempt, as gRPC's grpc-previous-rpc-attempts does.
	// Off by default.
	AttemptHeader string

	// OnAttempt, if set, is called once for each attempt, for logging and
	// metrics: for an attempt that is retried, when the retry loop has
	// chosen the wait before the next one (AttemptEvent.Delay); otherwise as
	// the attempt ends. Hedged attempts, which run at once, are reported as
	// they end, from their own goroutines: OnAttempt must then be safe for
	// concurrent use, and must not panic (a hedged attempt that ends after
	// its call has none to raise the panic in, and it crashes the program,
	// as Hedge's late panics do). Its ctx is the request's (see
	// RequestFrom), or a child of it for an attempt of its own.
	OnAttempt func(ctx context.Context, e AttemptEvent)
}

// Validate reports the first invalid field of c, wrapped around ErrInvalid
// and naming the field: a negative size or duration, a nil pointer as Base,
// an AttemptHeader that is not a header name, an invalid Retry or Hedge
// policy, or one that sets what the Transport does itself (Retry's
// Retryable, AttemptTimeout and SplitDeadline; Hedge's Retryable and
// OnDiscard).
func (c Config) Validate() error {
	if c.Base != nil {
		if v := reflect.ValueOf(c.Base); (v.Kind() == reflect.Pointer || v.Kind() == reflect.Func || v.Kind() == reflect.Map) && v.IsNil() {
			return invalid("Config.Base is a nil %T", c.Base)
		}
	}
	switch {
	case c.MaxReplayBytes < 0:
		return invalid("Config.MaxReplayBytes is negative (%d)", c.MaxReplayBytes)
	case c.MaxDrainBytes < 0:
		return invalid("Config.MaxDrainBytes is negative (%d)", c.MaxDrainBytes)
	case c.DrainTimeout < 0:
		return invalid("Config.DrainTimeout is negative (%v)", c.DrainTimeout)
	case c.AttemptTimeout < 0:
		return invalid("Config.AttemptTimeout is negative (%v)", c.AttemptTimeout)
	case c.AttemptHeader != "" && !validToken(c.AttemptHeader):
		return invalid("Config.AttemptHeader %q is not a valid header name", c.AttemptHeader)
	}
	if err := c.validateRetry(); err != nil {
		return err
	}
	return c.validateHedge()
}

func (c *Config) validateRetry() error {
	if c.Retry == nil {
		return nil
	}
	if err := c.Retry.Validate(); err != nil {
		return &fieldError{"Config.Retry", err}
	}
	switch {
	case c.Retry.Retryable != nil:
		return invalid("set Config.Retryable, not Config.Retry.Retryable")
	case c.Retry.AttemptTimeout != 0:
		return invalid("set Config.AttemptTimeout, not Config.Retry.AttemptTimeout: " +
			"it would cancel a response before its body is read")
	case c.Retry.SplitDeadline:
		return invalid("set Config.SplitDeadline, not Config.Retry.SplitDeadline: " +
			"it would cancel a response before its body is read")
	case c.SplitDeadline && c.Retry.MaxAttempts == retry.Unlimited:
		return invalid("Config.SplitDeadline shares the time among a count of attempts, and Config.Retry.MaxAttempts is Unlimited")
	}
	return nil
}

func (c *Config) validateHedge() error {
	if c.Hedge == nil {
		return nil
	}
	if err := c.Hedge.Validate(); err != nil {
		return &fieldError{"Config.Hedge", err}
	}
	switch {
	case c.Hedge.Retryable != nil:
		return invalid("set Config.Retryable, not Config.Hedge.Retryable: the Transport classifies")
	case c.Hedge.OnDiscard != nil:
		return invalid("Config.Hedge.OnDiscard must be unset: the Transport discards")
	}
	return nil
}
