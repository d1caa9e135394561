package httpx

import (
	"context"
	"errors"
	"net/http"

	"github.com/retrykit/retry"
)

type requestKey struct{}

// RequestFrom returns the request that a hook's context belongs to. The
// Transport gives every hook it runs for a request (Config.OnAttempt, and
// the Hooks of Config.Retry and Config.Hedge) a context that carries the
// caller's request, so that a metric can be labelled with its method and
// host: read it, do not change it. The Hooks of the request's breaker
// (Config.Breaker) get the request's context too, which carries it when
// one of those hooks is set. It returns false for any other context.
//
// Only a Transport with hooks pays for it: one small allocation per
// request.
func RequestFrom(ctx context.Context) (*http.Request, bool) {
	r, ok := ctx.Value(requestKey{}).(*http.Request)
	return r, ok
}

// watches reports whether cfg has a hook that receives a context, which
// must then carry the request (see RequestFrom).
func (c *Config) watches() bool {
	return c.OnAttempt != nil || c.Retry != nil && c.Retry.Hooks != nil || c.Hedge != nil && c.Hedge.Hooks != nil
}

// context is the context of a call's retry loop and hooks: the request's,
// carrying the request itself when a hook may read it.
func (c *call) context() context.Context {
	if c.t.watched {
		return context.WithValue(c.req.Context(), requestKey{}, c.req)
	}
	return c.req.Context()
}

// retryHooks returns the Hooks of the Transport's retry loop: the
// caller's (from Config.Retry), with an OnRetry that first drains and
// closes the responses discarded before the wait, so their connections
// go back to the pool, and reports the held AttemptEvent with its wait.
func (t *Transport) retryHooks(user *retry.Hooks) *retry.Hooks {
	var h retry.Hooks
	if user != nil {
		h = *user
	}
	onRetry := h.OnRetry
	h.OnRetry = func(ctx context.Context, e retry.RetryEvent) {
		discardAll(e.Err, nil)
		if held, ok := errors.AsType[*heldEvent](e.Err); ok {
			held.report(ctx, t.cfg.OnAttempt, e.Delay)
		}
		if onRetry != nil {
			onRetry(ctx, e)
		}
	}
	return &h
}
