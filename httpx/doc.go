// Package httpx makes net/http calls resilient, correctly: a
// http.RoundTripper that retries (and hedges) requests without the traps
// that the usual retry loops fall into.
//
//	client, err := httpx.NewClient(httpx.Config{
//		Retry: &retry.Policy{MaxAttempts: 4},
//	})
//	resp, err := client.Post(url, "application/json", body) // retried only if that is safe
//
// What it gets right:
//
//   - Every attempt sends the whole request body: from GetBody when the
//     request has one, otherwise from a copy kept in memory up to
//     Config.MaxReplayBytes. A larger body is sent once and not retried,
//     never truncated.
//   - Only requests that are safe to repeat are repeated: GET, HEAD,
//     OPTIONS, TRACE, PUT, DELETE, or any request with an Idempotency-Key.
//     A plain POST is sent again only when the server cannot have acted on
//     it (the dial failed, or it answered 429 or 503).
//   - 429, 502, 503 and 504 are retried; 501 and other 4xx never are.
//     Retry-After (seconds or any HTTP-date) replaces the backoff, capped
//     by the policy and the caller's deadline.
//   - Responses that are not returned are drained (up to
//     Config.MaxDrainBytes) and closed, so their connections are reused.
//   - When retries run out on a retryable status, the last response is
//     returned with its body intact and a nil error: net/http's contract.
//     Never a response and an error together.
//   - Config.AttemptTimeout bounds the wait for response headers; the
//     body of the response returned is read through a context that lives
//     until the body is closed.
//   - The caller's request is never changed, and the base transport's
//     CloseIdleConnections is never called behind the caller's back.
//
// Certificate errors, invalid headers, unsupported schemes and the
// caller's own cancellation are never retried.
//
// Optionally, Config.Hedge hedges idempotent requests (never a plain
// POST), Config.Breaker puts a circuit breaker per host in front of every
// attempt (see Breakers), and Config.Budget caps the extra attempts per
// host (see PerHost). Config.OnAttempt reports every attempt with its
// status or error and the wait chosen after it.
package httpx
