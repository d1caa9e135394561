package retry

import "context"

// JoinHooks returns hooks that call, for each event, the hooks of every
// non-nil h that sets it, in order: LogHooks and a metrics exporter on one
// policy, say. A field that none of them sets stays nil, so it costs
// nothing. JoinHooks of nothing, or of nils only, returns nil.
func JoinHooks(hooks ...*Hooks) *Hooks {
	var set []*Hooks
	for _, h := range hooks {
		if h != nil {
			set = append(set, h)
		}
	}
	switch len(set) {
	case 0:
		return nil
	case 1:
		return set[0]
	}
	return &Hooks{
		OnAttempt:       join(set, func(h *Hooks) func(context.Context, AttemptEvent) { return h.OnAttempt }),
		OnRetry:         join(set, func(h *Hooks) func(context.Context, RetryEvent) { return h.OnRetry }),
		OnHedge:         join(set, func(h *Hooks) func(context.Context, HedgeEvent) { return h.OnHedge }),
		OnDone:          join(set, func(h *Hooks) func(context.Context, CallEvent) { return h.OnDone }),
		OnBudgetRefused: join(set, func(h *Hooks) func(context.Context, BudgetEvent) { return h.OnBudgetRefused }),
		OnBreakerChange: join(set, func(h *Hooks) func(context.Context, BreakerChange) { return h.OnBreakerChange }),
		OnBreakerReject: join(set, func(h *Hooks) func(context.Context, BreakerReject) { return h.OnBreakerReject }),
	}
}

// join returns a hook that calls field(h) of each h in set that has one,
// or nil if none has.
func join[E any](set []*Hooks, field func(*Hooks) func(context.Context, E)) func(context.Context, E) {
	var fns []func(context.Context, E)
	for _, h := range set {
		if f := field(h); f != nil {
			fns = append(fns, f)
		}
	}
	switch len(fns) {
	case 0:
		return nil
	case 1:
		return fns[0]
	}
	return func(ctx context.Context, e E) {
		for _, f := range fns {
			f(ctx, e)
		}
	}
}
