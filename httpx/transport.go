package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/retrykit/retry"
)

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
// response, body intact, and a nil error, as net/http's contract says.
// Otherwise, on failure, it returns only an error, never both: a
// *retry.Error that wraps the last attempt's error. Two cases differ. A
// body too large to keep for a resend (see Config.MaxReplayBytes) gets one
// attempt, whose failure is a bare *NotReplayableError if it would have
// been retried, or else the attempt's own error. Bad input (a nil or
// malformed request, a body not of its declared length, an invalid budget)
// is an error wrapping ErrInvalid, and nothing is sent.
//
// A Transport is safe for concurrent use. Create it with New, or use the
// zero value: it is ready to use and behaves as New(Config{}), sending
// through http.DefaultTransport with retry's zero Policy. A Transport must
// not be copied after first use.
//
// net/http's own Transport may also resend a replayable request once after
// a kept-alive connection fails before the response (see the
// http.Transport doc), so a server may see more requests than attempts.
type Transport struct {
	once    sync.Once // sets the fields below: in New, or on a zero Transport's first use
	cfg     Config
	policy  retry.Policy      // cfg.Retry, with a Hooks.OnRetry that drains discarded responses
	hedge   retry.HedgePolicy // cfg.Hedge, with our Retryable and OnDiscard
	watched bool              // a hook reads the request from its context (see RequestFrom)
}

var _ http.RoundTripper = (*Transport)(nil)

// ErrInvalid is wrapped by errors that report a bad Config or request.
// It matches retry.ErrInvalid too, so one errors.Is finds bad input from
// either package.
var ErrInvalid error = invalidError{}

type invalidError struct{}

func (invalidError) Error() string        { return "httpx: invalid argument" }
func (invalidError) Is(target error) bool { return target == retry.ErrInvalid }

// fieldError is the error of a Config field that holds a policy of package
// retry that is invalid: err, which wraps retry.ErrInvalid, named after the
// field, in one line without the core's own prefix.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string {
	return ErrInvalid.Error() + ": " + e.field + ": " + strings.TrimPrefix(e.err.Error(), retry.ErrInvalid.Error()+": ")
}
func (e *fieldError) Unwrap() []error { return []error{ErrInvalid, e.err} }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// New returns a Transport that uses a copy of cfg, or the error of
// cfg.Validate.
func New(cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := new(Transport)
	t.once.Do(func() { t.setup(cfg) })
	return t, nil
}

// init makes a zero Transport the Transport of New(Config{}), on first
// use.
func (t *Transport) init() {
	t.once.Do(func() { t.setup(Config{}) })
}

// setup fills in the defaults of cfg, which Validate has accepted, and
// the policies that the calls use.
func (t *Transport) setup(cfg Config) {
	if cfg.Base == nil {
		cfg.Base = http.DefaultTransport
	}
	cfg.MaxReplayBytes = orDefault(cfg.MaxReplayBytes, defaultMaxReplayBytes)
	cfg.MaxDrainBytes = orDefault(cfg.MaxDrainBytes, defaultMaxDrainBytes)
	cfg.DrainTimeout = orDefault(cfg.DrainTimeout, defaultDrainTimeout)
	if cfg.Retryable == nil {
		cfg.Retryable = DefaultRetryable
	}
	t.cfg = cfg
	if cfg.Retry != nil {
		t.policy = *cfg.Retry
	}
	if cfg.Hedge != nil {
		t.hedge = *cfg.Hedge
		t.hedge.OnDiscard = func(v any) {
			switch v := v.(type) {
			case *http.Response:
				// Maybe on the caller's goroutine (a loser queued as the
				// winner came): the caller does not wait for its body.
				go discard(v, t.cfg.MaxDrainBytes, t.cfg.DrainTimeout)
			case *retry.PanicError:
				panic(v) // a late panic of the base transport: never swallowed
			}
		}
	}
	t.policy.Hooks = t.retryHooks(t.policy.Hooks)
	t.watched = cfg.watches()
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
	t.init()
	if c, ok := t.cfg.Base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip sends req, retrying as the Config says. See Transport.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.init()
	err := t.checkRequest(req)
	if err == nil {
		t, err = t.forRequest(req) // the request's own policies, if any: see WithPolicy
	}
	if err != nil {
		if req != nil && req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	idempotent := Idempotent(req)
	if t.cfg.Hedge != nil && idempotent {
		c := &call{t: t, req: req, idempotent: true}
		c.ctx = c.context()
		return t.hedgedTrip(c)
	}
	c := &call{t: t, req: req, idempotent: idempotent || t.cfg.RetryNonIdempotent}
	c.ctx = c.context()
	return t.plainTrip(c)
}

// plainTrip and hedgedTrip differ only in the attempt they retry. They are
// two functions so that a call that is not hedged stays on the stack:
// hedging hands c to other goroutines, and escape analysis would move
// every call to the heap if one function did both.
func (t *Transport) plainTrip(c *call) (*http.Response, error) {
	if err := c.body.init(c.req, t.cfg.MaxReplayBytes, false); err != nil {
		return nil, c.unsent(err)
	}
	defer c.body.release()
	if !c.body.replayable() {
		return c.once()
	}
	p := &t.policy
	if t.cfg.Budget != nil {
		perRequest := *p // on the stack: Retry keeps no reference
		perRequest.Budget = t.cfg.Budget(c.req)
		if err := checkBudget(perRequest.Budget); err != nil {
			return nil, c.unsent(err) // httpx's ErrInvalid, as the other paths say it
		}
		p = &perRequest
	}
	resp, err := c.retry(p)
	return c.result(resp, err)
}

// retry runs the retry loop of attempts made one at a time. If a hook of
// the loop panics (the Budget, OnRetry) after an attempt handed it a
// response, that response is closed as the panic goes by.
func (c *call) retry(p *retry.Policy) (*http.Response, error) {
	returned := false
	defer func() {
		if !returned && c.latest != nil {
			c.latest.Body.Close()
		}
	}()
	resp, err := retry.Retry(c.ctx, p, c.attempt)
	returned = true
	return resp, err
}

func (t *Transport) hedgedTrip(c *call) (*http.Response, error) {
	if err := c.body.init(c.req, t.cfg.MaxReplayBytes, true); err != nil {
		return nil, c.unsent(err)
	}
	defer c.body.release()
	if !c.body.replayable() {
		return c.once()
	}
	// Config.Budget, when set, replaces both policies' budgets, even
	// with none (nil).
	b := t.policy.Budget
	switch {
	case t.cfg.Budget != nil:
		b = t.cfg.Budget(c.req)
	case b == nil:
		b = t.hedge.Budget
	}
	if err := checkBudget(b); err != nil {
		return nil, c.unsent(err)
	}
	if !c.body.independent() {
		// The caller's GetBody may share one reader between its bodies:
		// copies must not read it at once, so attempts go one at a time.
		c.policy = t.policy
		c.policy.Budget = b
		resp, err := c.retry(&c.policy)
		return c.result(resp, err)
	}
	c.hedging = true
	c.held = &heldResponses{}
	defer c.finish(nil) // after result's own; also if a panic goes through
	c.policy, c.hedge = t.policy, t.hedge
	// One budget for the whole call, counted once per attempt: the retry
	// loop only asks it before a new round; the rounds count the first
	// attempt once, every other attempt as an extra, and every outcome.
	c.policy.Budget, c.hedge.Budget = nil, nil
	if b != nil {
		c.policy.Budget = roundGate{b}
		c.hedge.Budget = &callBudget{Budget: b}
	}
	resp, err := retry.Retry(c.ctx, &c.policy, c.hedged)
	return c.result(resp, err)
}

// unsent reports to the Retry hooks' OnDone, if set, a request that ends
// before its first attempt (its body could not be read, its budget is
// invalid), as the retry loop reports a context already done or bad
// input: a call with no attempt. It returns err.
func (c *call) unsent(err error) error {
	if h := c.t.policy.Hooks; h.OnDone != nil {
		h.OnDone(c.ctx, retry.CallEvent{Name: c.t.policy.Name, Err: err})
	}
	return err
}

// checkBudget reports a budget that the retry loop would refuse (a nil
// *retry.TokenBucket, say), for the paths that use it outside the loop.
func checkBudget(b retry.Budget) error {
	if b == nil {
		return nil
	}
	if err := (&retry.HedgePolicy{Budget: b}).Validate(); err != nil {
		return fmt.Errorf("%w: the budget of the request: %w", ErrInvalid, err)
	}
	return nil
}

// result turns the outcome of the retry loop into RoundTrip's: when
// attempts ran out on a retryable status, the last response is the answer.
// Every other response held by a failed attempt is drained and closed.
func (c *call) result(resp *http.Response, err error) (*http.Response, error) {
	if err == nil {
		c.finish(nil)
		return c.body.seal(resp), nil
	}
	if h, ok := errors.AsType[*heldEvent](err); ok {
		reported := false
		defer func() {
			if !reported { // OnAttempt panicked: nothing is returned
				discardAll(err, nil)
			}
		}()
		h.report(c.ctx, c.t.cfg.OnAttempt, 0) // the last attempt: no wait follows
		reported = true
	}
	var kept *statusError
	if se := lastStatusError(err); se != nil && c.req.Context().Err() == nil && se.keep() {
		kept = se
	}
	if !c.hedging {
		discardAll(err, kept) // a hedged call's are all held: finish drains them
	}
	c.finish(kept)
	if kept != nil {
		return c.body.seal(kept.resp), nil
	}
	c.body.seal(nil)
	return nil, c.flatten(err)
}

// flatten returns the error of a hedged call that gave up as one
// *retry.Error with the call's real attempt count: the last round's own
// *retry.Error gives its attempts' errors to it. An error of the base
// transport's, a *retry.Error or not, is left as it is.
func (c *call) flatten(err error) error {
	e, ok := err.(*retry.Error)
	if !ok || !c.hedging {
		return err
	}
	flat := *e
	flat.Attempts = int(c.attempts.Load())
	if round, ok := e.Last.(*retry.Error); ok {
		flat.Last = round.Last
	}
	return &flat
}

func (t *Transport) checkRequest(req *http.Request) error {
	switch {
	case req == nil:
		return invalid("nil Request")
	case req.URL == nil:
		return invalid("nil Request.URL")
	case req.Header == nil:
		return invalid("nil Request.Header")
	case req.Method != "" && !validToken(req.Method):
		return invalid("invalid method %q", req.Method)
	}
	// net/http refuses these too, but in words a server's malformed
	// response could share: checked here, a bad request never reaches the
	// breaker or the base transport.
	for _, h := range [2]struct {
		kind   string
		fields http.Header
	}{{"header", req.Header}, {"trailer", req.Trailer}} {
		for k, vv := range h.fields {
			if !validToken(k) {
				return invalid("invalid %s field name %q", h.kind, k)
			}
			for _, v := range vv {
				if !validHeaderValue(v) {
					return invalid("invalid %s field value for %q", h.kind, k)
				}
			}
		}
	}
	return nil
}

// call is the state of one RoundTrip.
type call struct {
	t          *Transport
	req        *http.Request
	ctx        context.Context // of the retry loop and the hooks (see context)
	body       replay
	idempotent bool
	attempts   atomic.Int32 // attempts started; hedged ones run at once
	rounds     atomic.Int32 // hedged rounds started
	hedging    bool         // attempts may run at once
	// latest is the response of the latest attempt made one at a time,
	// handed to the retry loop (as the answer or inside its error).
	latest *http.Response

	// The policies of a call that is hedged or sent one attempt at a time
	// in place of hedging, with the request's budget.
	policy retry.Policy
	hedge  retry.HedgePolicy

	held *heldResponses // when hedging
}

// heldResponses are the responses held by the failed attempts of a hedged
// call, drained and closed when the call ends (but the one returned);
// ended is set then, and a response that comes later is drained at once.
// It is apart from call so that a call that is not hedged needs no lock
// and stays on the stack.
type heldResponses struct {
	mu    sync.Mutex
	list  []*statusError
	ended bool
}

// attempt is the function that retry.Retry calls when attempts run one
// at a time: it sends one attempt and tells the retry loop whether its
// outcome is worth another. The attempt's AttemptEvent goes with its error
// until the retry loop has chosen the wait (see heldEvent).
func (c *call) attempt(ctx context.Context) (*http.Response, error) {
	resp, err, ev := c.guarded(ctx, int(c.attempts.Add(1)), false)
	handed := false
	defer closeUnhanded(resp, &handed) // Retryable or OnAttempt may panic
	resp, err = c.classify(resp, err)
	if ev != nil {
		if err == nil {
			c.t.cfg.OnAttempt(ctx, *ev)
		} else {
			err = &heldEvent{err: err, ev: ev}
		}
	}
	handed = true
	c.latest = resp
	return resp, err
}

// closeUnhanded closes resp's body if the attempt did not get to hand it
// on (deferred): a callback that panics must not leak the response the
// attempt holds, nor its connection.
func closeUnhanded(resp *http.Response, handed *bool) {
	if !*handed && resp != nil {
		resp.Body.Close()
	}
}

// classify turns an attempt's outcome into what the retry loop needs: an
// answer, a retryable error, or a Permanent one. A breaker's rejection is
// left to the retry loop: the request was not sent.
func (c *call) classify(resp *http.Response, err error) (*http.Response, error) {
	if err != nil {
		if _, ok := errors.AsType[*retry.BreakerError](err); ok {
			return nil, err
		}
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
	se := &statusError{resp: resp, cfg: &c.t.cfg}
	if c.hedging && !c.hold(se) {
		se.discard() // the call has ended: no one will read it
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := retryAfter(resp, c.t.now()); ok {
			return retry.After(se, d)
		}
	}
	return se
}

func (c *call) retryable(resp *http.Response, err error) bool {
	return c.t.retryable(c.idempotent, resp, err)
}

// retryable is call.retryable for the closures that must not capture the
// call: one that did would move every call to the heap (see plainTrip).
func (t *Transport) retryable(idempotent bool, resp *http.Response, err error) bool {
	if !t.cfg.Retryable(resp, err) {
		return false
	}
	return idempotent || notProcessed(resp, err)
}

// send makes attempt n of the request with body, through the base
// transport, and returns its event if OnAttempt wants one. hedge says
// whether another attempt was running when it started.
//
// The request's context is ctx itself when nothing can end the attempt
// before the call: no AttemptTimeout, not hedged, no Retry.MaxElapsed. Otherwise it is a child
// of the caller's context that the attempt's timeout and, for a hedged
// attempt, the end of ctx (the attempt lost, or its round ended) cancel
// only until the response headers arrive; after that the response's body
// lives until it is closed, whatever happens to the other attempts.
func (c *call) send(ctx context.Context, n int, hedge bool, body io.ReadCloser, getBody func() (io.ReadCloser, error)) (*http.Response, error, *AttemptEvent) {
	r := c.req
	timeout := c.timeout(ctx, n)
	// ctx may be c.ctx, the request's own with the request in it for the
	// hooks: the request as it is will do.
	if n > 1 || body != c.req.Body || timeout > 0 || c.hedging || c.t.cfg.AttemptHeader != "" || ctx != c.req.Context() && ctx != c.ctx {
		if timeout > 0 || c.hedging || c.endsFirst(ctx) {
			return c.sendWatched(ctx, n, hedge, timeout, body, getBody)
		}
		r = c.request(ctx, n, body, getBody)
	}
	start := c.start()
	resp, err := c.roundTrip(r)
	return resp, err, c.event(n, hedge, resp, err, start)
}

// endsFirst reports whether the attempt's context ctx can end before the
// caller's: retry.Policy.MaxElapsed bounds each attempt, and the retry
// loop cancels an attempt's context when it returns, before the body is
// read.
func (c *call) endsFirst(ctx context.Context) bool {
	return ctx.Done() != c.req.Context().Done()
}

// request is the request of attempt n: the caller's, with its own context,
// body and attempt header.
func (c *call) request(ctx context.Context, n int, body io.ReadCloser, getBody func() (io.ReadCloser, error)) *http.Request {
	r := c.req.WithContext(ctx)
	r.Body, r.GetBody = body, getBody
	if c.body.length >= 0 {
		r.ContentLength = c.body.length
	}
	if c.t.cfg.AttemptHeader != "" {
		r.Header = c.req.Header.Clone()
		r.Header.Set(c.t.cfg.AttemptHeader, strconv.Itoa(n))
	}
	return r
}

// roundTrip calls the base transport, and makes a nil Body of a response
// an empty one (http.Client tolerates it, and fakes often leave it nil).
func (c *call) roundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.t.cfg.Base.RoundTrip(r)
	switch {
	case err != nil:
		return nil, err
	case resp == nil:
		return nil, fmt.Errorf("httpx: %T returned a nil *http.Response and a nil error", c.t.cfg.Base)
	case resp.Body == nil:
		resp.Body = http.NoBody
	}
	return resp, nil
}

// timeout is the limit on attempt n's wait for response headers: the
// AttemptTimeout, or with SplitDeadline an equal share of the time left
// before ctx's deadline (the caller's, or the end of Retry.MaxElapsed)
// among the attempts still allowed, whichever is less.
// A hedged call shares the time among its rounds, whose copies each get
// their round's share. An attempt that could not be followed by another
// (a body sent once, a request whose timeout would not be retried) gets
// no share: there is no later attempt to keep time for.
func (c *call) timeout(ctx context.Context, n int) time.Duration {
	d := c.t.cfg.AttemptTimeout
	if !c.t.cfg.SplitDeadline || !c.idempotent || !c.body.replayable() {
		return d
	}
	if c.hedging {
		n = int(c.rounds.Load())
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return d
	}
	attempts := c.t.policy.MaxAttempts // not retry.Unlimited: New refuses it with SplitDeadline
	if attempts == 0 {
		attempts = 3 // a zero Policy.MaxAttempts
	}
	left := attempts - n + 1 // this one and those that may follow it
	if left <= 1 {
		return d // the last: the caller's own deadline bounds it
	}
	share := max(time.Until(dl)/time.Duration(left), 1)
	if d > 0 {
		return min(d, share)
	}
	return share
}

// sendWatched sends attempt n on a context that a timeout (if positive)
// and the end of ctx (if it can end first) cancel until the response
// headers arrive, and that otherwise lives until the response's body is closed.
func (c *call) sendWatched(ctx context.Context, n int, hedge bool, timeout time.Duration, body io.ReadCloser, getBody func() (io.ReadCloser, error)) (*http.Response, error, *AttemptEvent) {
	parent := c.req.Context()
	if a, ok := retry.AttemptFrom(ctx); ok {
		parent = retry.WithAttempt(parent, a) // as a base transport would see it unwatched
	}
	rctx, cancel := context.WithCancelCause(parent)
	r := c.request(rctx, n, body, getBody)
	start := c.start()
	// The headers, the timer and ctx race: whichever sets state first
	// wins, so a response that arrived in time is never cancelled under
	// its reader.
	const (
		pending = iota
		answered
		stopped
	)
	var state atomic.Int32
	stopWith := func(cause error) {
		if state.CompareAndSwap(pending, stopped) {
			cancel(cause)
		}
	}
	var timer *time.Timer
	if timeout > 0 {
		// A caller's deadline at or before the timeout wins the tie, as in
		// the retry loop: it is no attempt timeout.
		if dl, ok := c.req.Context().Deadline(); !ok || time.Now().Add(timeout).Before(dl) {
			timer = time.AfterFunc(timeout, func() { stopWith(errAttemptTimeout) })
		}
	}
	unwatch := func() bool { return true }
	if c.hedging || c.endsFirst(ctx) {
		unwatch = context.AfterFunc(ctx, func() { stopWith(contextError(ctx)) })
	}
	resp, err := c.roundTrip(r)
	lost := !state.CompareAndSwap(pending, answered)
	if timer != nil {
		timer.Stop()
	}
	unwatch()
	if lost {
		// The timer or ctx won, and cancels rctx right after: wait for
		// it, so that its cause is set. A response that came meanwhile
		// is being cancelled under its reader: drop it.
		<-rctx.Done()
		if err == nil {
			discard(resp, c.t.cfg.MaxDrainBytes, c.t.cfg.DrainTimeout)
			resp, err = nil, context.Cause(rctx)
		}
	}
	if err != nil {
		cause := context.Cause(rctx)
		cancel(nil)
		if cause == errAttemptTimeout {
			// Not the base transport's error, which may be the
			// context.Canceled of our own cancel (HTTP/2): that would
			// read as the caller's cancellation. If the caller's
			// deadline passed meanwhile, the retry loop reports it.
			err = &attemptTimeoutError{timeout: timeout}
		}
		return nil, err, c.event(n, hedge, nil, err, start)
	}
	resp.Body = wrapBody(resp.Body, func() { cancel(nil) })
	return resp, nil, c.event(n, hedge, resp, nil, start)
}

// start returns the time an attempt starts, if OnAttempt needs it.
func (c *call) start() time.Time {
	if c.t.cfg.OnAttempt == nil {
		return time.Time{}
	}
	return time.Now()
}

// event is attempt n's AttemptEvent, or nil if OnAttempt is not set.
func (c *call) event(n int, hedge bool, resp *http.Response, err error, start time.Time) *AttemptEvent {
	if c.t.cfg.OnAttempt == nil {
		return nil
	}
	e := &AttemptEvent{Request: c.req, Attempt: n, Err: err, Duration: time.Since(start), Replayable: c.body.replayable(), Hedge: hedge}
	if resp != nil {
		e.StatusCode = resp.StatusCode
	}
	return e
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
func (h *heldEvent) report(ctx context.Context, onAttempt func(context.Context, AttemptEvent), delay time.Duration) {
	if !h.reported {
		h.reported = true
		h.ev.Delay = delay
		onAttempt(ctx, *h.ev)
	}
}

// once sends a request whose body cannot be replayed: one attempt, no
// retries. It still asks the breaker, and its budget counts it as the
// retry loop would: an answer as a success, a retryable failure as a
// failure. The hooks of Config.Retry see it as a call of one attempt
// (see onceObserved).
func (c *call) once() (*http.Response, error) {
	if h := c.t.policy.Hooks; h.OnAttempt != nil || h.OnDone != nil {
		return c.onceObserved()
	}
	return c.sendOnce()
}

// onceObserved is once for a Transport whose Retry hooks watch calls or
// attempts: the attempt runs as the one attempt of a retry loop with
// those hooks, so that OnAttempt and OnDone see it, on the context that
// carries the request, exactly once however it ends (a panic included).
// They receive the error that RoundTrip returns. The hooks change
// nothing of what is sent or returned: their context carries the
// request's values but not its end, so the attempt is made even if the
// request's context is done, as it is without hooks.
func (c *call) onceObserved() (*http.Response, error) {
	user := c.t.policy.Hooks
	// OnDone escapes to the heap with what it captures: the Transport,
	// not the call, which would move every call there too.
	t, idempotent := c.t, c.idempotent
	var resp *http.Response
	var sent error
	ran := false
	hooks := &retry.Hooks{OnAttempt: user.OnAttempt}
	if user.OnDone != nil {
		hooks.OnDone = func(ctx context.Context, e retry.CallEvent) {
			if _, panicked := e.Err.(*retry.PanicError); ran && !panicked {
				e.Err = sent // the error RoundTrip returns, not the loop's
				if sent == nil && resp != nil && t.retryable(idempotent, resp, nil) {
					// A status worth a retry that could not have one: the
					// call failed, as one whose retries ran out does.
					se := &statusError{resp: resp, cfg: &t.cfg}
					se.state.Store(2) // kept: the caller reads it
					e.Err = &retry.Error{Attempts: e.Attempts, Reason: retry.ErrExhausted, Last: se}
					e.Winner = 0
				}
			}
			user.OnDone(ctx, e)
		}
	}
	p := &retry.Policy{Name: c.t.policy.Name, MaxAttempts: 1, Hooks: hooks, Clock: c.t.policy.Clock,
		MarkAttempts: c.t.policy.MarkAttempts} // OnAttempt's context as in the retry loop
	returned := false
	defer func() {
		if !returned && resp != nil { // OnAttempt panicked
			resp.Body.Close()
		}
	}()
	_, err := retry.Retry(context.WithoutCancel(c.ctx), p, func(context.Context) (*http.Response, error) {
		ran = true
		resp, sent = c.sendOnce()
		return resp, sent
	})
	returned = true
	if !ran { // an invalid Clock, which Config.Validate refuses
		c.body.seal(nil)
		return nil, err
	}
	return resp, sent
}

// sendOnce sends the one attempt of once.
func (c *call) sendOnce() (*http.Response, error) {
	b := c.t.policy.Budget
	if c.t.cfg.Budget != nil {
		b = c.t.cfg.Budget(c.req)
	}
	if err := checkBudget(b); err != nil {
		return nil, err
	}
	if b != nil {
		b.First()
	}
	n := int(c.attempts.Add(1))
	var resp *http.Response
	var err error
	var ev *AttemptEvent
	if d := c.t.policy.MaxElapsed; d > 0 {
		// Retry.MaxElapsed bounds the call, its one attempt included, on
		// Retry.Clock: until the response headers, as for an attempt of
		// the retry loop, which makes the limit.
		limit := &retry.Policy{MaxAttempts: 1, MaxElapsed: d, Clock: c.t.policy.Clock}
		resp, err = retry.Retry(c.ctx, limit, func(ctx context.Context) (*http.Response, error) {
			var err error
			resp, err, ev = c.guarded(ctx, n, false)
			return resp, err
		})
		if errors.Is(err, retry.ErrElapsed) {
			if ev != nil {
				c.t.cfg.OnAttempt(c.ctx, *ev)
			}
			if b != nil {
				b.Result(false) // a timeout, as any attempt's
			}
			c.body.seal(nil)
			return nil, err // not the body's fault: nothing could be retried
		}
		if e, ok := err.(*retry.Error); ok && e.Last != nil {
			err = e.Last // the attempt's own error, as without the limit
		}
	} else {
		resp, err, ev = c.guarded(c.ctx, n, false) // c.ctx: the request's, for the breaker's hooks
	}
	handed := false
	defer closeUnhanded(resp, &handed) // OnAttempt, Retryable or the Budget may panic
	if ev != nil {
		c.t.cfg.OnAttempt(c.ctx, *ev)
	}
	_, rejected := errors.AsType[*retry.BreakerError](err)
	retryable := !rejected && c.req.Context().Err() == nil && c.retryable(resp, err)
	if b != nil && !rejected && c.req.Context().Err() == nil && (err == nil || retryable) {
		b.Result(!retryable)
	}
	handed = true
	if err != nil && retryable {
		c.body.seal(nil)
		return nil, &NotReplayableError{Err: err, reason: c.body.reason}
	}
	if err != nil {
		err = withContext(c.req.Context(), err)
	}
	return c.body.seal(resp), err // a retryable status too: with no retry, it is the answer
}

// withContext makes err, an attempt's error once ctx may be done, match
// both ctx's error and its cause: net/http's HTTP/1 returns the cause
// alone, HTTP/2 the error alone.
func withContext(ctx context.Context, err error) error {
	cerr := ctx.Err()
	switch cause := context.Cause(ctx); {
	case cerr == nil:
		return err
	case !errors.Is(err, cerr):
		return fmt.Errorf("%w: %w", contextError(ctx), err)
	case cause != cerr && !errors.Is(err, cause):
		return fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// statusError is the error of an attempt answered with a retryable status.
// It holds the response: discarded before the next attempt, or returned
// when there is none.
type statusError struct {
	resp *http.Response
	cfg  *Config
	// state is 0 while held, then 1 once discarded or 2 once kept (to be
	// returned): the first of the two wins.
	state atomic.Int32
}

func (e *statusError) Error() string { return "httpx: " + e.resp.Status }

// discard drains and closes the response, unless it was kept.
func (e *statusError) discard() {
	if e.state.CompareAndSwap(0, 1) {
		discard(e.resp, e.cfg.MaxDrainBytes, e.cfg.DrainTimeout)
	}
}

// keep reports whether the response can be returned: it was not discarded.
func (e *statusError) keep() bool { return e.state.CompareAndSwap(0, 2) || e.state.Load() == 2 }

// hold records a response held by a failed hedged attempt, to be drained
// when the call ends; it reports false if the call has ended already.
func (c *call) hold(se *statusError) bool {
	h := c.held
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return false
	}
	h.list = append(h.list, se)
	return true
}

// finish ends the call: every response held by a failed attempt but kept
// is drained and closed.
//
// The draining goes on in its own goroutine, bounded by DrainTimeout: the
// caller of a hedged call, which hedges to save time, does not wait for
// a loser's slow body.
func (c *call) finish(kept *statusError) {
	h := c.held
	if h == nil {
		return
	}
	h.mu.Lock()
	h.ended = true
	list := h.list
	h.list = nil
	h.mu.Unlock()
	if len(list) == 0 || len(list) == 1 && list[0] == kept {
		return
	}
	go func() {
		for _, se := range list {
			if se != kept {
				se.discard()
			}
		}
	}()
}

var errAttemptTimeout = errors.New("httpx: attempt timed out waiting for response headers")

// attemptTimeoutError is the error of an attempt cut by Config.AttemptTimeout
// (or its SplitDeadline share). It matches retry.ErrAttemptTimeout, as an
// attempt cut by the core's Policy.AttemptTimeout does, and so
// context.DeadlineExceeded.
type attemptTimeoutError struct{ timeout time.Duration }

func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("httpx: no response headers within the attempt timeout of %v", e.timeout)
}
func (e *attemptTimeoutError) Unwrap() []error {
	return []error{errAttemptTimeout, retry.ErrAttemptTimeout}
}
func (e *attemptTimeoutError) Timeout() bool { return true }

func orDefault[N int64 | time.Duration](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}

// validToken reports whether s is an RFC 9110 token, as header names and
// methods must be.
func validToken(s string) bool {
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

// validHeaderValue reports whether v holds no control character but tab.
func validHeaderValue(v string) bool {
	for i := range len(v) {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
