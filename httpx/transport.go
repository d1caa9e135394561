package httpx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/retrykit/retry"
)

// Defaults of a Config whose fields are zero.
const (
	DefaultMaxReplayBytes = 1 << 20  // 1 MiB of request body kept to send again
	DefaultMaxDrainBytes  = 64 << 10 // 64 KiB read from a discarded response
	DefaultDrainTimeout   = time.Second
)

// Config configures a Transport. Zero fields mean the documented defaults;
// New copies and checks the Config once.
type Config struct {
	// Base sends each attempt. Nil means http.DefaultTransport. The
	// Transport never calls its CloseIdleConnections on its own.
	Base http.RoundTripper

	// Retry says how many attempts and how long between them. Nil means
	// retry's zero Policy: 3 attempts, exponential backoff with full
	// jitter. Its Retryable, AttemptTimeout and SplitDeadline must be unset:
	// here Config.Retryable classifies and Config.AttemptTimeout bounds an
	// attempt, since a response's body is read after the attempt returns.
	// A server's Retry-After on 429 and 503 replaces the backoff for that
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
	// 503), unless RetryNonIdempotent is set.
	Retryable func(resp *http.Response, err error) bool

	// RetryNonIdempotent lets POST and PATCH requests without an
	// Idempotency-Key be retried like any other.
	RetryNonIdempotent bool

	// AttemptTimeout, if positive, bounds each attempt's wait for the
	// response headers. An attempt that runs out of time is retried. The
	// body of the response returned is not bounded: it is read through the
	// attempt's context, which lives until the body is closed.
	AttemptTimeout time.Duration

	// SplitDeadline, if set, gives each attempt at most an equal share of
	// the time left before the caller's deadline for its response headers,
	// so that a hanging first attempt cannot use up the time of the later
	// ones (AttemptTimeout, if also set, caps each share).
	SplitDeadline bool

	// MaxReplayBytes caps the request body kept in memory to send again
	// when the request has no GetBody. A larger body (or one that has no
	// GetBody and no length, such as a pipe, past that size) is sent once
	// and not retried; a failure then is a *NotReplayableError. Zero
	// means DefaultMaxReplayBytes.
	MaxReplayBytes int64

	// MaxDrainBytes caps what is read from a response that is discarded
	// (retried or lost) so its connection can be reused; DrainTimeout caps
	// the time. Past either the body is closed as it is. Zero means
	// DefaultMaxDrainBytes and DefaultDrainTimeout.
	MaxDrainBytes int64
	DrainTimeout  time.Duration

	// Hedge, if set, hedges requests that are Idempotent and whose body can
	// be replayed (never a plain POST, whatever RetryNonIdempotent says):
	// each attempt of the retry loop becomes a round of up to
	// Hedge.MaxAttempts concurrent copies, and the first answer wins. Lost
	// responses are drained and closed, and the winner's body is read
	// through a context that lives until it is closed. A 429, a 503 or a
	// 409 ends the round, so that the retry loop waits before asking
	// again. Its Retryable and OnDiscard must be unset: the Transport
	// classifies and discards. A hedged call has one budget, counted once
	// per attempt: Config.Budget's, or else Retry.Budget, or else
	// Hedge.Budget.
	Hedge *retry.HedgePolicy

	// Budget, if set, returns the retry budget for a request (nil for
	// none), such as a PerHost's, in place of Retry.Budget and
	// Hedge.Budget: one budget per host keeps a failing host from using up
	// the retries of the healthy ones.
	Budget func(req *http.Request) retry.Budget

	// Breaker, if set, returns the circuit breaker for a request (nil for
	// none), such as the PerHost of Breakers. Each attempt asks it first: a rejection
	// by an open breaker makes the retry loop wait until its next probe
	// (within Retry.MaxAfter and the deadline), the other rejections end
	// the call. Transport errors, 5xx and 429 count as failures, a
	// Retry-After sets how long the breaker stays open, and the caller's
	// cancellation counts as nothing.
	Breaker func(req *http.Request) *retry.Breaker

	// AttemptHeader, if set, names a header that carries the attempt
	// number (from 1) on every attempt, as gRPC's
	// grpc-previous-rpc-attempts does. Off by default.
	AttemptHeader string

	// OnAttempt, if set, is called once for each attempt, for logging and
	// metrics: for an attempt that is retried, when the retry loop has
	// chosen the wait before the next one (AttemptEvent.Delay); otherwise
	// as the attempt ends. Hedged attempts, which run at once, are
	// reported as they end, from their own goroutines: OnAttempt must then
	// be safe for concurrent use.
	OnAttempt func(AttemptEvent)
}

// AttemptEvent describes one finished attempt.
type AttemptEvent struct {
	Request    *http.Request // the caller's request; read it, do not change it
	Attempt    int           // from 1
	StatusCode int           // 0 if Err is set
	Err        error         // the transport error, if any
	Duration   time.Duration // time to the response headers or the error
	// Replayable is false when the request's body could not be sent again,
	// so no retry was possible.
	Replayable bool
	// Hedge is true for an attempt started while another was still running.
	Hedge bool
	// Delay is the wait before the next attempt, if this one failed and
	// another follows; zero otherwise.
	Delay time.Duration
}

// Transport is an http.RoundTripper that retries requests, following the
// rules of net/http itself: every attempt sends the whole body, a request
// that is not idempotent is not sent twice unless that is safe, the
// caller's *http.Request is never changed, discarded responses are drained
// and closed so their connections are reused.
//
// When retries run out on a retryable status, RoundTrip returns the last
// response, body intact, and a nil error, as net/http's contract says; on a
// transport error it returns only the error (a *retry.Error that wraps the
// last attempt's error). It never returns both.
//
// A Transport is safe for concurrent use. Create it with New: the zero
// Transport answers every request with an ErrInvalid error.
//
// net/http's own Transport may also resend a replayable request once after
// a kept-alive connection fails before the response (see the
// http.Transport doc), so a server may see more requests than attempts.
type Transport struct {
	cfg    Config
	policy retry.Policy      // cfg.Retry, with OnRetry draining discarded responses
	hedge  retry.HedgePolicy // cfg.Hedge, with our Retryable and OnDiscard
}

var _ http.RoundTripper = (*Transport)(nil)

// ErrInvalid is wrapped by errors that report a bad Config or request.
var ErrInvalid = errors.New("httpx: invalid argument")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// New checks cfg and returns a Transport that uses a copy of it.
func New(cfg Config) (*Transport, error) {
	if cfg.Base == nil {
		cfg.Base = http.DefaultTransport
	} else if v := reflect.ValueOf(cfg.Base); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, invalid("Config.Base is a nil %T", cfg.Base)
	}
	switch {
	case cfg.MaxReplayBytes < 0:
		return nil, invalid("Config.MaxReplayBytes is negative (%d)", cfg.MaxReplayBytes)
	case cfg.MaxDrainBytes < 0:
		return nil, invalid("Config.MaxDrainBytes is negative (%d)", cfg.MaxDrainBytes)
	case cfg.DrainTimeout < 0:
		return nil, invalid("Config.DrainTimeout is negative (%v)", cfg.DrainTimeout)
	case cfg.AttemptTimeout < 0:
		return nil, invalid("Config.AttemptTimeout is negative (%v)", cfg.AttemptTimeout)
	}
	if cfg.AttemptHeader != "" && !validHeaderName(cfg.AttemptHeader) {
		return nil, invalid("Config.AttemptHeader %q is not a valid header name", cfg.AttemptHeader)
	}
	cfg.MaxReplayBytes = orDefault(cfg.MaxReplayBytes, DefaultMaxReplayBytes)
	cfg.MaxDrainBytes = orDefault(cfg.MaxDrainBytes, DefaultMaxDrainBytes)
	cfg.DrainTimeout = orDefault(cfg.DrainTimeout, DefaultDrainTimeout)
	if cfg.Retryable == nil {
		cfg.Retryable = DefaultRetryable
	}
	t := &Transport{cfg: cfg}
	if cfg.Retry != nil {
		if err := cfg.Retry.Validate(); err != nil {
			return nil, fmt.Errorf("%w: Config.Retry: %w", ErrInvalid, err)
		}
		switch {
		case cfg.Retry.Retryable != nil:
			return nil, invalid("set Config.Retryable, not Config.Retry.Retryable")
		case cfg.Retry.AttemptTimeout != 0, cfg.Retry.SplitDeadline:
			return nil, invalid("set Config.AttemptTimeout, not Config.Retry.AttemptTimeout or SplitDeadline: " +
				"they would cancel a response before its body is read")
		}
		t.policy = *cfg.Retry
	}
	if cfg.Hedge != nil {
		if err := cfg.Hedge.Validate(); err != nil {
			return nil, fmt.Errorf("%w: Config.Hedge: %w", ErrInvalid, err)
		}
		if cfg.Hedge.Retryable != nil || cfg.Hedge.OnDiscard != nil {
			return nil, invalid("Config.Hedge.Retryable and OnDiscard must be unset: the Transport classifies and discards")
		}
		t.hedge = *cfg.Hedge
		t.hedge.Retryable = func(err error) bool { return !pushedBack(err) }
		t.hedge.OnDiscard = func(v any) {
			switch v := v.(type) {
			case *http.Response:
				discard(v, t.cfg.MaxDrainBytes, t.cfg.DrainTimeout)
			case *retry.PanicError:
				panic(v) // a late panic of the base transport: never swallowed
			}
		}
	}
	onRetry := t.policy.OnRetry
	t.policy.OnRetry = func(e retry.Event) {
		// Let the connection go back to the pool before the wait.
		if se := lastStatusError(e.Err); se != nil {
			se.discard(&t.cfg)
		}
		if h, ok := errors.AsType[*heldEvent](e.Err); ok {
			h.report(t.cfg.OnAttempt, e.Delay)
		}
		if onRetry != nil {
			onRetry(e)
		}
	}
	return t, nil
}

func (t *Transport) now() time.Time {
	if t.policy.Clock != nil {
		return t.policy.Clock.Now()
	}
	return time.Now()
}

// NewClient returns an *http.Client whose Transport is New(cfg).
func NewClient(cfg Config) (*http.Client, error) {
	t, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t}, nil
}

// CloseIdleConnections closes the idle connections of the base transport,
// if it has that method. http.Client.CloseIdleConnections calls it; the
// Transport itself never does.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.cfg.Base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip sends req, retrying as the Config says. See Transport.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.checkRequest(req); err != nil {
		if req != nil && req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	idempotent := Idempotent(req)
	if t.cfg.Hedge != nil && idempotent {
		return t.hedgedTrip(&call{t: t, req: req, idempotent: true, hedging: true})
	}
	return t.plainTrip(&call{t: t, req: req, idempotent: idempotent || t.cfg.RetryNonIdempotent})
}

// plainTrip and hedgedTrip differ only in the attempt they retry. They are
// two functions so that a call that is not hedged stays on the stack:
// hedging hands c to other goroutines, and escape analysis would move
// every call to the heap if one function did both.
func (t *Transport) plainTrip(c *call) (*http.Response, error) {
	if err := c.body.init(c.req, t.cfg.MaxReplayBytes); err != nil {
		return nil, err
	}
	defer c.body.release()
	if !c.body.replayable() {
		return c.once()
	}
	p := &t.policy
	if t.cfg.Budget != nil {
		perRequest := *p // on the stack: Retry keeps no reference
		perRequest.Budget = t.cfg.Budget(c.req)
		p = &perRequest
	}
	resp, err := retry.Retry(c.req.Context(), c.attempt, p)
	return t.result(c.req, resp, err)
}

func (t *Transport) hedgedTrip(c *call) (*http.Response, error) {
	if err := c.body.init(c.req, t.cfg.MaxReplayBytes); err != nil {
		return nil, err
	}
	defer c.body.release()
	if !c.body.replayable() {
		return c.once()
	}
	c.policy, c.hedge = t.policy, t.hedge
	// One budget for the whole call, counted once per attempt: the retry
	// loop only asks it before a new round; the rounds count the first
	// attempt once, every other attempt as an extra, and every outcome.
	b := t.policy.Budget
	switch {
	case t.cfg.Budget != nil:
		b = t.cfg.Budget(c.req)
	case b == nil:
		b = t.hedge.Budget
	}
	if b != nil {
		c.policy.Budget = roundGate{b}
		c.hedge.Budget = &callBudget{Budget: b}
	}
	resp, err := retry.Retry(c.req.Context(), c.hedged, &c.policy)
	return t.result(c.req, resp, err)
}

// result turns the outcome of the retry loop into RoundTrip's: when
// attempts ran out on a retryable status, the last response is the answer.
func (t *Transport) result(req *http.Request, resp *http.Response, err error) (*http.Response, error) {
	if err == nil {
		return resp, nil
	}
	if h, ok := errors.AsType[*heldEvent](err); ok {
		h.report(t.cfg.OnAttempt, 0) // the last attempt: no wait follows
	}
	if se := lastStatusError(err); se != nil {
		if !se.discarded && req.Context().Err() == nil {
			return se.resp, nil
		}
		se.discard(&t.cfg)
	}
	return nil, err
}

func (t *Transport) checkRequest(req *http.Request) error {
	switch {
	case t.cfg.Base == nil:
		return invalid("Transport not made by New")
	case req == nil:
		return invalid("nil Request")
	case req.URL == nil:
		return invalid("nil Request.URL")
	case req.Header == nil:
		return invalid("nil Request.Header")
	}
	return nil
}

// call is the state of one RoundTrip.
type call struct {
	t          *Transport
	req        *http.Request
	body       replay
	idempotent bool
	attempts   atomic.Int32  // attempts started; hedged ones run at once
	hedging    bool          // attempts may run at once
	held       *AttemptEvent // the event of the attempt just made, in sequence

	// The policies of a hedged call, with the request's budget.
	policy retry.Policy
	hedge  retry.HedgePolicy
}

// attempt is the function that retry.Retry calls: it sends one attempt and
// tells the retry loop whether its outcome is worth another.
func (c *call) attempt(ctx context.Context) (*http.Response, error) {
	return c.settle(c.classify(c.guarded(ctx, int(c.attempts.Add(1)))))
}

// classify turns an attempt's outcome into what the retry loop needs: an
// answer, a retryable error, or a Permanent one.
func (c *call) classify(resp *http.Response, err error) (*http.Response, error) {
	if err != nil {
		if !c.retryable(nil, err) {
			return nil, retry.Permanent(err)
		}
		return nil, err
	}
	if !c.retryable(resp, nil) {
		return resp, nil // an answer, even if an unhappy one
	}
	return resp, c.statusError(resp)
}

// statusError is the error for a response with a retryable status: with
// the server's Retry-After, if it sent one that applies.
func (c *call) statusError(resp *http.Response) error {
	se := &statusError{resp: resp}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := retryAfter(resp, c.t.now()); ok {
			return retry.After(se, d)
		}
	}
	return se
}

func (c *call) retryable(resp *http.Response, err error) bool {
	if !c.t.cfg.Retryable(resp, err) {
		return false
	}
	return c.idempotent || notProcessed(resp, err)
}

// send makes attempt n of the request.
func (c *call) send(ctx context.Context, n int) (*http.Response, error) {
	body, getBody, err := c.body.body(ctx, !c.hedging)
	if err != nil {
		return nil, retry.Permanent(err) // no attempt was made; another would fail alike
	}
	r := c.req
	timeout := c.timeout(ctx, n)
	if n > 1 || body != c.req.Body || timeout > 0 || c.t.cfg.AttemptHeader != "" || ctx != c.req.Context() {
		var cancel context.CancelCauseFunc
		if timeout > 0 {
			ctx, cancel = context.WithCancelCause(ctx)
		}
		r = c.req.WithContext(ctx)
		r.Body, r.GetBody = body, getBody
		if c.body.length >= 0 {
			r.ContentLength = c.body.length
		}
		if c.t.cfg.AttemptHeader != "" {
			r.Header = c.req.Header.Clone()
			r.Header.Set(c.t.cfg.AttemptHeader, strconv.Itoa(n))
		}
		if cancel != nil {
			return c.sendTimed(r, n, timeout, cancel)
		}
	}
	start := c.start()
	resp, err := c.t.cfg.Base.RoundTrip(r)
	c.report(r, n, resp, err, start)
	return resp, err
}

// timeout is the limit on attempt n's wait for response headers: the
// AttemptTimeout, or with SplitDeadline an equal share of the time left
// before the deadline among the attempts still allowed, whichever is less.
func (c *call) timeout(ctx context.Context, n int) time.Duration {
	d := c.t.cfg.AttemptTimeout
	if !c.t.cfg.SplitDeadline {
		return d
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return d
	}
	attempts := c.t.policy.MaxAttempts
	if attempts == 0 {
		attempts = retry.DefaultMaxAttempts
	}
	share := max(time.Until(dl)/time.Duration(max(attempts-n+1, 1)), 1)
	if d > 0 {
		return min(d, share)
	}
	return share
}

// sendTimed sends r, cancelling it if its headers take longer than
// timeout, and otherwise keeping its context until the body is closed.
func (c *call) sendTimed(r *http.Request, n int, timeout time.Duration, cancel context.CancelCauseFunc) (*http.Response, error) {
	start := c.start()
	// The headers and the timer race: whichever sets state first wins, so
	// a response that arrived in time is never cancelled under its reader.
	const (
		pending = iota
		answered
		timedOut
	)
	var state atomic.Int32
	timer := time.AfterFunc(timeout, func() {
		if state.CompareAndSwap(pending, timedOut) {
			cancel(errAttemptTimeout)
		}
	})
	resp, err := c.t.cfg.Base.RoundTrip(r)
	if !state.CompareAndSwap(pending, answered) && err == nil {
		// The timer won: this response's context is being cancelled.
		discard(resp, c.t.cfg.MaxDrainBytes, c.t.cfg.DrainTimeout)
		resp, err = nil, errAttemptTimeout
	}
	timer.Stop()
	if err != nil {
		cancel(nil)
		if state.Load() == timedOut && c.req.Context().Err() == nil {
			err = &attemptTimeoutError{timeout: timeout, err: err}
		}
		c.report(r, n, nil, err, start)
		return nil, err
	}
	resp.Body = wrapBody(resp.Body, func() { cancel(nil) })
	c.report(r, n, resp, nil, start)
	return resp, nil
}

// start returns the time an attempt starts, if OnAttempt needs it.
func (c *call) start() time.Time {
	if c.t.cfg.OnAttempt == nil {
		return time.Time{}
	}
	return time.Now()
}

func (c *call) report(r *http.Request, n int, resp *http.Response, err error, start time.Time) {
	if c.t.cfg.OnAttempt == nil {
		return
	}
	a, _ := retry.AttemptFrom(r.Context())
	hedge := a.Hedge
	e := AttemptEvent{Request: c.req, Attempt: n, Err: err, Duration: time.Since(start), Replayable: c.body.replayable(), Hedge: hedge}
	if resp != nil {
		e.StatusCode = resp.StatusCode
	}
	if c.hedging || !c.body.replayable() {
		c.t.cfg.OnAttempt(e)
		return
	}
	c.held = &e // until the retry loop decides what follows
}

// settle reports the held event of an attempt that succeeded, or attaches
// it to the attempt's error, for the retry loop's OnRetry (with the wait)
// or the end of RoundTrip to report.
func (c *call) settle(resp *http.Response, err error) (*http.Response, error) {
	ev := c.held
	c.held = nil
	switch {
	case ev == nil:
	case err == nil:
		c.t.cfg.OnAttempt(*ev)
	default:
		err = &heldEvent{err: err, ev: ev}
	}
	return resp, err
}

// heldEvent carries an attempt's AttemptEvent with its error until the
// wait after it is known. It changes nothing else about the error.
type heldEvent struct {
	err      error
	ev       *AttemptEvent
	reported bool
}

func (h *heldEvent) Error() string { return h.err.Error() }
func (h *heldEvent) Unwrap() error { return h.err }

// report calls OnAttempt with the held event, once.
func (h *heldEvent) report(onAttempt func(AttemptEvent), delay time.Duration) {
	if !h.reported {
		h.reported = true
		h.ev.Delay = delay
		onAttempt(*h.ev)
	}
}

// once sends a request whose body cannot be replayed: one attempt, no
// retries.
func (c *call) once() (*http.Response, error) {
	b := c.t.policy.Budget
	if c.t.cfg.Budget != nil {
		b = c.t.cfg.Budget(c.req)
	}
	if b != nil {
		b.First()
	}
	resp, err := c.send(c.req.Context(), 1)
	if err != nil && c.req.Context().Err() == nil && c.retryable(nil, err) {
		return nil, &NotReplayableError{Reason: c.body.reason, Err: err}
	}
	return resp, err
}

// statusError is the error of an attempt answered with a retryable status.
// It holds the response: discarded before the next attempt, or returned
// when there is none.
type statusError struct {
	resp      *http.Response
	discarded bool
}

func (e *statusError) Error() string { return "httpx: " + e.resp.Status }

func (e *statusError) discard(cfg *Config) {
	if !e.discarded {
		e.discarded = true
		discard(e.resp, cfg.MaxDrainBytes, cfg.DrainTimeout)
	}
}

var errAttemptTimeout = errors.New("httpx: attempt timed out waiting for response headers")

type attemptTimeoutError struct {
	timeout time.Duration
	err     error
}

func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("httpx: no response headers within the attempt timeout of %v: %v", e.timeout, e.err)
}
func (e *attemptTimeoutError) Unwrap() error { return e.err }
func (e *attemptTimeoutError) Timeout() bool { return true }

func orDefault[N int64 | time.Duration](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}

func validHeaderName(s string) bool {
	for i := range len(s) {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return s != ""
}
