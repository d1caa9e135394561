package otel

import (
	"context"
	"errors"
	"time"

	"github.com/retrykit/retry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// New returns hooks that record what calls, hedges, budgets and breakers do
// as metrics of c.MeterProvider and as events on the span of each hook's
// context. Give them to any number of policies and breakers: Policy.Hooks,
// HedgePolicy.Hooks, BreakerConfig.Hooks, httpx's Config.Retry.Hooks. They
// are safe for concurrent use. The instruments are created once, here; an
// error means the meter refused one of them. To log as well, wrap the
// fields of the result with those of retry.LogHooks.
//
// Metrics (durations in seconds, as OpenTelemetry's conventions ask):
//
//   - retry.calls: calls ended, by retry.outcome (CallEvent.Outcome)
//   - retry.call.duration: histogram of call durations, waits included, by retry.outcome
//   - retry.attempts: attempts ended, by retry.attempt (the number: 1 to
//     4, or 5+), retry.attempt.result (success, failure, canceled, or
//     rejected by a circuit breaker: nothing was sent) and retry.hedge
//   - retry.attempt.duration: histogram of attempt durations, by the same
//   - retry.retries: waits before another attempt, by retry.attempt (of the
//     attempt that failed)
//   - retry.hedges: attempts launched by Hedge after the first, by
//     retry.hedge.trigger (delay: the hedge delay passed; failure: an
//     attempt failed)
//   - retry.hedge.wins: hedged calls won by an attempt other than the first
//   - retry.budget.refusals: extra attempts refused, by retry.budget
//   - retry.breaker.rejections: calls refused, by retry.breaker and
//     retry.breaker.reason (open, too-many-probes, throttled)
//   - retry.breaker.transitions: changes of state, by retry.breaker,
//     retry.breaker.state (the new one) and retry.breaker.reason
//     (BreakerReason: consecutive-failures, force-open, ...)
//   - retry.breaker.state: gauge, by retry.breaker and retry.breaker.state:
//     1 for the state the breaker is in, 0 for those it left. A breaker
//     shows up once it first changes state.
//
// Every call, attempt, retry, hedge, budget and rejection metric also has
// the name of its policy (retry.policy) or breaker, and, when the hook's
// context carries an httpx request (see httpx.RequestFrom),
// http.request.method (a known method or _OTHER), server.address and, if
// the URL names one, server.port. Names of policies, breakers and budgets
// become attribute values: keep them few.
//
// Span events go on trace.SpanFromContext(ctx), when it is recording:
// retry.attempt as each attempt ends (its exact number, duration, whether
// it was a hedge, and its error), retry.retry before each wait (the
// attempt that failed, its error, retry.delay in seconds), retry.hedge,
// retry.done as the call ends (outcome, attempts, hedges, winner),
// retry.budget.refused, retry.breaker.change and retry.breaker.reject.
// The hooks add events rather than start a span per attempt: they run as
// an attempt ends, so a span of theirs could not be the parent of what
// the attempt did (an HTTP client span, say), and the span the call runs
// in already holds the attempts in order.
//
// Recording a measurement whose attributes have been seen before
// allocates nothing beyond what the MeterProvider does; a span that is
// not recording costs one check.
func New(c Config) (*retry.Hooks, error) {
	in, err := newInstruments(c.meterProvider().Meter(ScopeName))
	if err != nil {
		return nil, err
	}
	r := &recorder{in: in, spans: !c.NoSpanEvents}
	return &retry.Hooks{
		OnAttempt:       r.attempt,
		OnRetry:         r.retry,
		OnHedge:         r.hedge,
		OnDone:          r.done,
		OnBudgetRefused: r.budgetRefused,
		OnBreakerChange: r.breakerChange,
		OnBreakerReject: r.breakerReject,
	}, nil
}

// recorder records the events of New's hooks.
type recorder struct {
	in    *instruments
	cache optionCache
	spans bool
}

// Values of retry.attempt.result and retry.hedge.trigger.
var (
	resultSuccess  = keyResult.String("success")
	resultFailure  = keyResult.String("failure")
	resultCanceled = keyResult.String("canceled")
	resultRejected = keyResult.String("rejected")
	hedgeTrue      = keyHedge.Bool(true)
	hedgeFalse     = keyHedge.Bool(false)
	keyTrigger     = attribute.Key("retry.hedge.trigger")
	triggerDelay   = keyTrigger.String("delay")
	triggerFailure = keyTrigger.String("failure")
)

// count adds 1 to c, with l's attributes.
func (r *recorder) count(ctx context.Context, c metric.Int64Counter, l *labels) {
	c.Add(ctx, 1, r.cache.options(l).add...)
}

// countTimed adds 1 to c and records d in h, in seconds, with l's
// attributes.
func (r *recorder) countTimed(ctx context.Context, c metric.Int64Counter, h metric.Float64Histogram, d time.Duration, l *labels) {
	o := r.cache.options(l)
	c.Add(ctx, 1, o.add...)
	h.Record(ctx, d.Seconds(), o.record...)
}

// result is the retry.attempt.result of an attempt that ended with err.
func result(err error) attribute.KeyValue {
	switch {
	case err == nil:
		return resultSuccess
	case errors.Is(err, context.Canceled):
		return resultCanceled
	case errors.Is(err, retry.ErrBreakerOpen), errors.Is(err, retry.ErrTooManyProbes),
		errors.Is(err, retry.ErrBreakerThrottled):
		return resultRejected // a *retry.BreakerError: nothing was sent
	}
	return resultFailure
}

func (r *recorder) attempt(ctx context.Context, e retry.AttemptEvent) {
	var l labels
	l.name(keyPolicy, e.Name)
	hedge := hedgeFalse
	if e.Hedge {
		hedge = hedgeTrue
	}
	l.add(attemptBucket(e.Attempt), result(e.Err), hedge)
	l.request(ctx)
	r.countTimed(ctx, r.in.attempts, r.in.attemptDuration, e.Duration, &l)
	if r.spans {
		attemptEvent(ctx, e)
	}
}

func (r *recorder) retry(ctx context.Context, e retry.RetryEvent) {
	var l labels
	l.name(keyPolicy, e.Name)
	l.add(attemptBucket(e.Attempt))
	l.request(ctx)
	r.count(ctx, r.in.retries, &l)
	if r.spans {
		retryEvent(ctx, e)
	}
}

func (r *recorder) hedge(ctx context.Context, e retry.HedgeEvent) {
	var l labels
	l.name(keyPolicy, e.Name)
	if e.Err != nil {
		l.add(triggerFailure)
	} else {
		l.add(triggerDelay)
	}
	l.request(ctx)
	r.count(ctx, r.in.hedges, &l)
	if r.spans {
		hedgeEvent(ctx, e)
	}
}

func (r *recorder) done(ctx context.Context, e retry.CallEvent) {
	var l labels
	l.name(keyPolicy, e.Name)
	l.request(ctx)
	if e.Hedges > 0 && e.Winner > 1 {
		r.count(ctx, r.in.hedgeWins, &l)
	}
	l.add(keyOutcome.String(e.Outcome()))
	r.countTimed(ctx, r.in.calls, r.in.callDuration, e.Duration, &l)
	if r.spans {
		doneEvent(ctx, e)
	}
}

func (r *recorder) budgetRefused(ctx context.Context, e retry.BudgetEvent) {
	var l labels
	l.name(keyPolicy, e.Name)
	l.name(keyBudget, e.Budget)
	l.request(ctx)
	r.count(ctx, r.in.budgetRefusals, &l)
	if r.spans {
		budgetEvent(ctx, e)
	}
}
