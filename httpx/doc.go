// Package httpx makes net/http calls resilient, correctly: a
// http.RoundTripper that retries (and hedges) requests without the traps
// that the usual retry loops fall into.
//
//	client, err := httpx.NewClient(httpx.Config{
//		Retry: &retry.Policy{MaxAttempts: 4},
//	})
//	resp, err := client.Post(url, "application/json", body) // retried only if that is safe
//
// The zero Transport is ready to use as well, and behaves as New(Config{}):
// &http.Client{Transport: new(httpx.Transport)} retries with retry's zero
// Policy through http.DefaultTransport. Config.Validate reports a bad
// Config, naming the field, and New returns its error.
//
// What it gets right:
//
//   - Every attempt sends the whole request body, and nothing else: from
//     GetBody when the request has one, one attempt at a time (a GetBody
//     that rewinds one shared file is safe: no Read of an earlier attempt
//     can touch the reader once it is rewound, nor any Read of the call
//     once it has failed or its response has been closed), otherwise from
//     a copy kept
//     in memory up to Config.MaxReplayBytes. A larger body is sent once and
//     not retried, never truncated. A body shorter or longer than its
//     declared ContentLength is an error, over HTTP/1.1 and HTTP/2 alike.
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
// Optionally, Config.Hedge hedges idempotent requests whose bodies are
// independent (never a plain POST); a 429, 503, 409 or a breaker's
// rejection stops a round from sending more copies but never cancels the
// attempts running. Config.Breaker puts a circuit breaker per host in
// front of every attempt (see Breakers): only what says something about
// the server counts (not the caller's cancellation, a lost hedge, or a
// request net/http refuses), and a rejection ends the call unless the
// policy's WaitForProbe is set. Config.Budget caps the extra attempts per
// host (see PerHost, a map bounded by PerHostConfig that keeps a sick
// host's open breaker), and a hedged call charges it as a sequential one
// would. Config.OnAttempt reports every attempt with its status or error
// and the wait chosen after it. A request's context may carry its own
// policies (WithPolicy, NoRetry, WithHedge, NoHedge), so one client
// serves health checks and bulk calls alike.
//
// For servers, Shed is middleware that sheds load through a retry.Limiter
// or retry.Bulkhead, answering a refused request with 503 and a
// Retry-After that this package's clients honour.
package httpx
