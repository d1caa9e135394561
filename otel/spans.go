package otel

import (
	"context"

	"github.com/retrykit/retry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Attribute keys of the span events only: their values are exact, since a
// span event makes no series.
const (
	keyDuration = attribute.Key("retry.duration") // seconds
	keyDelay    = attribute.Key("retry.delay")    // seconds
	keyRunning  = attribute.Key("retry.running")
	keyAttempts = attribute.Key("retry.attempts")
	keyHedges   = attribute.Key("retry.hedges")
	keyWinner   = attribute.Key("retry.winner")
	keyFrom     = attribute.Key("retry.breaker.from")
	keyManual   = attribute.Key("retry.breaker.manual")
	keyForced   = attribute.Key("retry.breaker.forced")
	keyWait     = attribute.Key("retry.breaker.wait") // seconds
	keyError    = attribute.Key("error.message")
)

// event adds the event name to the span of ctx, with the attributes that
// attrs appends, if the span is recording: attrs is not called otherwise.
func event(ctx context.Context, name string, attrs func([]attribute.KeyValue) []attribute.KeyValue) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.AddEvent(name, trace.WithAttributes(attrs(make([]attribute.KeyValue, 0, 8))...))
}

// named appends k with value v, if v is not empty.
func named(a []attribute.KeyValue, k attribute.Key, v string) []attribute.KeyValue {
	if v == "" {
		return a
	}
	return append(a, k.String(v))
}

// withErr appends error.message, if there is an error.
func withErr(a []attribute.KeyValue, err error) []attribute.KeyValue {
	if err == nil {
		return a
	}
	return append(a, keyError.String(err.Error()))
}

func attemptEvent(ctx context.Context, e retry.AttemptEvent) {
	event(ctx, "retry.attempt", func(a []attribute.KeyValue) []attribute.KeyValue {
		a = append(named(a, keyPolicy, e.Name), keyAttempt.Int(e.Attempt), keyDuration.Float64(e.Duration.Seconds()))
		if e.Hedge {
			a = append(a, hedgeTrue)
		}
		return withErr(a, e.Err)
	})
}

func retryEvent(ctx context.Context, e retry.RetryEvent) {
	event(ctx, "retry.retry", func(a []attribute.KeyValue) []attribute.KeyValue {
		a = append(named(a, keyPolicy, e.Name), keyAttempt.Int(e.Attempt), keyDelay.Float64(e.Delay.Seconds()))
		return withErr(a, e.Err)
	})
}

func hedgeEvent(ctx context.Context, e retry.HedgeEvent) {
	event(ctx, "retry.hedge", func(a []attribute.KeyValue) []attribute.KeyValue {
		a = append(named(a, keyPolicy, e.Name), keyAttempt.Int(e.Attempt), keyRunning.Int(e.Running),
			keyDelay.Float64(e.Delay.Seconds()))
		return withErr(a, e.Err)
	})
}

func doneEvent(ctx context.Context, e retry.CallEvent) {
	event(ctx, "retry.done", func(a []attribute.KeyValue) []attribute.KeyValue {
		a = append(named(a, keyPolicy, e.Name), keyOutcome.String(e.Outcome()), keyAttempts.Int(e.Attempts),
			keyDuration.Float64(e.Duration.Seconds()))
		if e.Hedges > 0 {
			a = append(a, keyHedges.Int(e.Hedges))
		}
		if e.Winner > 0 {
			a = append(a, keyWinner.Int(e.Winner))
		}
		return withErr(a, e.Err)
	})
}

func budgetEvent(ctx context.Context, e retry.BudgetEvent) {
	event(ctx, "retry.budget.refused", func(a []attribute.KeyValue) []attribute.KeyValue {
		a = named(named(a, keyPolicy, e.Name), keyBudget, e.Budget)
		return append(a, keyAttempt.Int(e.Attempt))
	})
}

func breakerChangeEvent(ctx context.Context, e retry.BreakerChange) {
	event(ctx, "retry.breaker.change", func(a []attribute.KeyValue) []attribute.KeyValue {
		a = append(named(a, keyBreaker, e.Name), keyFrom.String(e.From.String()), state(e.To),
			keyReason.String(e.Reason.String()))
		if e.Manual {
			a = append(a, keyManual.Bool(true))
		}
		if e.Forced {
			a = append(a, keyForced.Bool(true))
		}
		return a
	})
}

func breakerRejectEvent(ctx context.Context, e retry.BreakerReject) {
	event(ctx, "retry.breaker.reject", func(a []attribute.KeyValue) []attribute.KeyValue {
		a = append(named(a, keyBreaker, e.Name), keyReason.String(rejection(e.Err)))
		if e.Err != nil && e.Err.Wait > 0 {
			a = append(a, keyWait.Float64(e.Err.Wait.Seconds()))
		}
		return a
	})
}
