package otel

import (
	"context"
	"errors"

	"github.com/retrykit/retry"
	"go.opentelemetry.io/otel/attribute"
)

// Values of retry.breaker.state, by retry.BreakerState.
var states = [...]attribute.KeyValue{
	retry.BreakerClosed:   keyState.String(retry.BreakerClosed.String()),
	retry.BreakerOpen:     keyState.String(retry.BreakerOpen.String()),
	retry.BreakerHalfOpen: keyState.String(retry.BreakerHalfOpen.String()),
}

func state(s retry.BreakerState) attribute.KeyValue {
	if int(s) < len(states) {
		return states[s]
	}
	return keyState.String(s.String())
}

// rejection is the retry.breaker.reason of a refusal: open,
// too-many-probes or throttled.
func rejection(e *retry.BreakerError) string {
	switch {
	case e == nil:
		return "other"
	case errors.Is(e.Reason, retry.ErrBreakerOpen):
		return "open"
	case errors.Is(e.Reason, retry.ErrTooManyProbes):
		return "too-many-probes"
	case errors.Is(e.Reason, retry.ErrBreakerThrottled):
		return "throttled"
	}
	return "other"
}

func (r *recorder) breakerChange(ctx context.Context, e retry.BreakerChange) {
	var l labels
	l.name(keyBreaker, e.Name)
	base := l
	l.add(state(e.To), keyReason.String(e.Reason.String()))
	r.count(ctx, r.in.breakerChanges, &l)
	if e.From != e.To {
		from := base
		from.add(state(e.From))
		r.in.breakerState.Record(ctx, 0, r.cache.options(&from).record...)
	}
	to := base
	to.add(state(e.To))
	r.in.breakerState.Record(ctx, 1, r.cache.options(&to).record...)
	if r.spans {
		breakerChangeEvent(ctx, e)
	}
}

func (r *recorder) breakerReject(ctx context.Context, e retry.BreakerReject) {
	var l labels
	l.name(keyBreaker, e.Name)
	l.add(keyReason.String(rejection(e.Err)))
	l.request(ctx) // a breaker's state and changes have none: ForceOpen has no request
	r.count(ctx, r.in.breakerRejects, &l)
	if r.spans {
		breakerRejectEvent(ctx, e)
	}
}
