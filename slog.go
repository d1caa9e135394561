package retry

import (
	"context"
	"errors"
	"log/slog"
)

// LogHooks returns Hooks that log through l everything that calls,
// budgets and breakers report, with structured attributes, at these
// levels:
//
//   - Debug: each attempt that ends ("attempt ended"), each hedge
//     ("hedging"), each call that succeeds ("call succeeded"), each call a
//     breaker rejects ("circuit breaker rejected a call").
//   - Info: each retry ("retrying"), with the wait chosen; a breaker that
//     goes half-open or closes; a call given up because the caller
//     cancelled it ("call cancelled").
//   - Warn: a call that fails ("call failed"), an attempt a budget refuses
//     ("budget refused an attempt"), a breaker that opens ("circuit
//     breaker opened").
//
// The attributes are those of the event: name (of the policy or breaker,
// when it has one), attempt, duration, delay, err, and for a breaker
// from, to, reason, manual, forced, until and the counts of the period
// that ended (group "ended"). Each record is logged with the hook's
// context, so a handler can read a trace id from it.
//
// A nil l logs through slog.Default() at the time of each event. Give the
// result to any number of policies and breakers (Policy.Hooks,
// HedgePolicy.Hooks, BreakerConfig.Hooks); to add to it, set or wrap its
// fields. A level that l does not log costs a call of l.Enabled.
func LogHooks(l *slog.Logger) *Hooks {
	lg := hookLogger{l}
	return &Hooks{
		OnAttempt:       lg.attempt,
		OnRetry:         lg.retry,
		OnHedge:         lg.hedge,
		OnDone:          lg.done,
		OnBudgetRefused: lg.budgetRefused,
		OnBreakerChange: lg.breakerChange,
		OnBreakerReject: lg.breakerReject,
	}
}

// hookLogger logs the events of Hooks; see LogHooks.
type hookLogger struct{ l *slog.Logger }

// log logs msg at level with the attributes that attrs adds, if l logs
// that level: attrs is not called otherwise.
func (h hookLogger) log(ctx context.Context, level slog.Level, msg string, attrs func([]slog.Attr) []slog.Attr) {
	l := h.l
	if l == nil {
		l = slog.Default()
	}
	if !l.Enabled(ctx, level) {
		return
	}
	l.LogAttrs(ctx, level, msg, attrs(make([]slog.Attr, 0, 8))...)
}

// named appends the name attribute, if there is a name.
func named(a []slog.Attr, name string) []slog.Attr {
	if name == "" {
		return a
	}
	return append(a, slog.String("name", name))
}

// withErr appends the err attribute, if there is an error.
func withErr(a []slog.Attr, err error) []slog.Attr {
	if err == nil {
		return a
	}
	return append(a, slog.Any("err", err))
}

func (h hookLogger) attempt(ctx context.Context, e AttemptEvent) {
	h.log(ctx, slog.LevelDebug, "attempt ended", func(a []slog.Attr) []slog.Attr {
		a = append(named(a, e.Name), slog.Int("attempt", e.Attempt), slog.Duration("duration", e.Duration))
		if e.Hedge {
			a = append(a, slog.Bool("hedge", true))
		}
		return withErr(a, e.Err)
	})
}

func (h hookLogger) retry(ctx context.Context, e RetryEvent) {
	h.log(ctx, slog.LevelInfo, "retrying", func(a []slog.Attr) []slog.Attr {
		a = append(named(a, e.Name), slog.Int("attempt", e.Attempt), slog.Duration("delay", e.Delay))
		return withErr(a, e.Err)
	})
}

func (h hookLogger) hedge(ctx context.Context, e HedgeEvent) {
	h.log(ctx, slog.LevelDebug, "hedging", func(a []slog.Attr) []slog.Attr {
		a = append(named(a, e.Name), slog.Int("attempt", e.Attempt), slog.Int("running", e.Running),
			slog.Duration("elapsed", e.Elapsed), slog.Duration("delay", e.Delay))
		return withErr(a, e.Err)
	})
}

func (h hookLogger) done(ctx context.Context, e CallEvent) {
	level, msg := slog.LevelDebug, "call succeeded"
	switch {
	case e.Err == nil:
	case errors.Is(e.Err, context.Canceled):
		level, msg = slog.LevelInfo, "call cancelled"
	default:
		level, msg = slog.LevelWarn, "call failed"
	}
	h.log(ctx, level, msg, func(a []slog.Attr) []slog.Attr {
		a = append(named(a, e.Name), slog.Int("attempts", e.Attempts))
		if e.Hedges > 0 {
			a = append(a, slog.Int("hedges", e.Hedges))
		}
		if e.Winner > 0 {
			a = append(a, slog.Int("winner", e.Winner))
		}
		a = append(a, slog.Duration("duration", e.Duration))
		return withErr(a, e.Err)
	})
}

func (h hookLogger) budgetRefused(ctx context.Context, e BudgetEvent) {
	h.log(ctx, slog.LevelWarn, "budget refused an attempt", func(a []slog.Attr) []slog.Attr {
		a = named(a, e.Name)
		if e.Budget != "" {
			a = append(a, slog.String("budget", e.Budget))
		}
		return append(a, slog.Int("attempt", e.Attempt))
	})
}

func (h hookLogger) breakerChange(ctx context.Context, e BreakerChange) {
	level, msg := slog.LevelInfo, "circuit breaker closed"
	switch e.To {
	case BreakerOpen:
		level, msg = slog.LevelWarn, "circuit breaker opened"
	case BreakerHalfOpen:
		msg = "circuit breaker half-open"
	}
	h.log(ctx, level, msg, func(a []slog.Attr) []slog.Attr {
		a = append(named(a, e.Name), slog.String("from", e.From.String()), slog.String("to", e.To.String()),
			slog.String("reason", e.Reason.String()))
		if e.Manual {
			a = append(a, slog.Bool("manual", true))
		}
		if e.Forced {
			a = append(a, slog.Bool("forced", true))
		}
		if !e.Until.IsZero() {
			a = append(a, slog.Time("until", e.Until))
		}
		return append(a, countsAttr(e.Ended))
	})
}

// countsAttr is the group "ended": the counts of a breaker's period that
// are not zero.
func countsAttr(c BreakerCounts) slog.Attr {
	a := make([]slog.Attr, 0, 6)
	for _, f := range []struct {
		key string
		n   int64
	}{
		{"calls", c.Calls}, {"failures", c.Failures}, {"slow", c.Slow},
		{"consecutive_failures", c.ConsecutiveFailures}, {"rejected", int64(min(c.Rejected, 1<<63-1))},
	} {
		if f.n != 0 {
			a = append(a, slog.Int64(f.key, f.n))
		}
	}
	if c.AverageDuration != 0 {
		a = append(a, slog.Duration("average_duration", c.AverageDuration))
	}
	return slog.Attr{Key: "ended", Value: slog.GroupValue(a...)}
}

func (h hookLogger) breakerReject(ctx context.Context, e BreakerReject) {
	h.log(ctx, slog.LevelDebug, "circuit breaker rejected a call", func(a []slog.Attr) []slog.Attr {
		a = named(a, e.Name)
		if e.Err != nil && e.Err.Wait > 0 {
			a = append(a, slog.Duration("wait", e.Err.Wait))
		}
		return append(a, slog.Any("err", e.Err))
	})
}
