package httpx

import (
	"context"
	"net/http"

	"github.com/retrykit/retry"
)

// overrideKey is the context key of a request's *override.
type overrideKey struct{}

// override is what a request's context says about its policies. It is
// never changed once in a context: each function makes a new one.
type override struct {
	retry      *retry.Policy // with setRetry: WithPolicy's, nil being invalid
	hedge      *retry.HedgePolicy
	setRetry   bool
	setHedge   bool // WithHedge's (nil being invalid) or NoHedge's
	noHedge    bool
	oneAttempt bool // NoRetry: the policy in force, with MaxAttempts 1
}

// WithPolicy returns a copy of ctx that makes a Transport retry a request
// made with it under p, in place of Config.Retry: one shared client can
// then serve health checks (NoRetry) and bulk calls (more attempts, say).
// As for Config.Retry, p's Retryable, AttemptTimeout and SplitDeadline must
// be unset (the Config's own fields apply), and Config.Budget, if set,
// replaces p.Budget. A hedged request (see Config.Hedge and WithHedge)
// makes each of p's attempts a round of copies. The Transport reads *p for
// each request.
//
// WithPolicy, NoRetry, WithHedge and NoHedge combine: the latest applied
// wins for what it sets. Every other field of the Transport's Config
// (Budget, Breaker, Retryable, AttemptTimeout, SplitDeadline,
// MaxReplayBytes, OnAttempt...) still applies. The Transport checks these
// policies as New checks Config.Retry and Config.Hedge: a nil or invalid
// one fails the request with an error wrapping ErrInvalid, and nothing is
// sent. A request whose context carries none of them costs the Transport
// one context lookup; one that does costs a few small allocations.
func WithPolicy(ctx context.Context, p *retry.Policy) context.Context {
	return withOverride(ctx, func(o *override) { o.retry, o.setRetry, o.oneAttempt = p, true, false })
}

// NoRetry returns a copy of ctx that makes a Transport send a request
// made with it once: one attempt, not hedged, as a health check wants.
// The policy otherwise in force (Config.Retry's or WithPolicy's) still
// gives its name, clock and budget, and its MaxElapsed still bounds the
// attempt; the breaker, if any, is still asked. A later WithHedge hedges
// the one attempt; a later WithPolicy brings retries back, still not
// hedged. See WithPolicy.
func NoRetry(ctx context.Context) context.Context {
	return withOverride(ctx, func(o *override) {
		o.oneAttempt = true
		o.hedge, o.setHedge, o.noHedge = nil, true, true
	})
}

// WithHedge returns a copy of ctx that makes a Transport hedge a request
// made with it under h, in place of Config.Hedge (set or not), on the
// same terms: only requests that are Idempotent and whose bodies are
// independent are hedged, and h's Retryable and OnDiscard must be unset.
// A nil h is invalid: NoHedge turns hedging off. See WithPolicy.
func WithHedge(ctx context.Context, h *retry.HedgePolicy) context.Context {
	return withOverride(ctx, func(o *override) { o.hedge, o.setHedge, o.noHedge = h, true, false })
}

// NoHedge returns a copy of ctx that makes a Transport send a request made
// with it one attempt at a time, whatever Config.Hedge says. Retries are
// left as they are. See WithPolicy.
func NoHedge(ctx context.Context) context.Context {
	return withOverride(ctx, func(o *override) { o.hedge, o.setHedge, o.noHedge = nil, true, true })
}

// withOverride returns a child of ctx whose override is a copy of ctx's
// (or a zero one) changed by set.
func withOverride(ctx context.Context, set func(*override)) context.Context {
	var o override
	if old, ok := ctx.Value(overrideKey{}).(*override); ok {
		o = *old
	}
	set(&o)
	return context.WithValue(ctx, overrideKey{}, &o)
}

// forRequest returns the Transport that sends req: t itself, or if req's
// context carries policies of its own, a Transport made for req alone from
// t's Config and those policies.
func (t *Transport) forRequest(req *http.Request) (*Transport, error) {
	o, ok := req.Context().Value(overrideKey{}).(*override)
	if !ok {
		return t, nil
	}
	cfg := t.cfg
	if o.setRetry {
		// A later NoRetry makes one attempt of it: no count to share.
		if err := checkPolicy(o.retry, cfg.SplitDeadline && !o.oneAttempt); err != nil {
			return nil, err
		}
		cfg.Retry = o.retry
	}
	if o.oneAttempt {
		var once retry.Policy
		if cfg.Retry != nil {
			once = *cfg.Retry
		}
		once.MaxAttempts = 1
		cfg.Retry = &once
	}
	if o.setHedge {
		if !o.noHedge {
			if err := checkHedge(o.hedge); err != nil {
				return nil, err
			}
		}
		cfg.Hedge = o.hedge
	}
	d := new(Transport)
	d.setup(cfg)
	d.once.Do(func() {}) // set up: as New's
	return d, nil
}

// checkPolicy reports a WithPolicy policy that Config.Validate would
// refuse as Config.Retry, naming WithPolicy.
func checkPolicy(p *retry.Policy, splitDeadline bool) error {
	switch {
	case p == nil:
		return invalid("WithPolicy: nil *retry.Policy")
	case p.Retryable != nil:
		return invalid("WithPolicy: the policy's Retryable must be unset: Config.Retryable classifies")
	case p.AttemptTimeout != 0:
		return invalid("WithPolicy: the policy's AttemptTimeout must be unset: " +
			"it would cancel a response before its body is read (Config.AttemptTimeout applies)")
	case p.SplitDeadline:
		return invalid("WithPolicy: the policy's SplitDeadline must be unset: " +
			"it would cancel a response before its body is read (Config.SplitDeadline applies)")
	case splitDeadline && p.MaxAttempts == retry.Unlimited:
		return invalid("WithPolicy: Config.SplitDeadline shares the time among a count of attempts, and the policy's MaxAttempts is Unlimited")
	}
	if err := p.Validate(); err != nil {
		return &fieldError{"WithPolicy", err}
	}
	return nil
}

// checkHedge reports a WithHedge policy that Config.Validate would refuse
// as Config.Hedge, naming WithHedge.
func checkHedge(h *retry.HedgePolicy) error {
	switch {
	case h == nil:
		return invalid("WithHedge: nil *retry.HedgePolicy (use NoHedge)")
	case h.Retryable != nil:
		return invalid("WithHedge: the policy's Retryable must be unset: Config.Retryable classifies")
	case h.OnDiscard != nil:
		return invalid("WithHedge: the policy's OnDiscard must be unset: the Transport discards")
	}
	if err := h.Validate(); err != nil {
		return &fieldError{"WithHedge", err}
	}
	return nil
}
