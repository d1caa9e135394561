// Package retry makes calls to a dependency that may fail or stall
// resilient: retries with backoff, hedged requests, circuit breakers and
// retry budgets, and load shedding (a bulkhead, an adaptive concurrency
// limiter), for any func(context.Context) (T, error). Package httpx
// applies them to net/http, and the nested module grpcx to gRPC; the
// nested module otel reports them to OpenTelemetry.
//
// Every entry point takes the context, then a policy, then the function:
//
//	err := retry.Do(ctx, nil, ping) // 3 attempts, exponential backoff with full jitter
//
//	var policy = retry.Must(&retry.Policy{ // a bad literal panics at start-up
//		MaxAttempts: 5,
//		Backoff:     retry.Exponential{Base: 50 * time.Millisecond, Max: 2 * time.Second, Jitter: retry.FullJitter},
//	})
//	user, err := retry.Retry(ctx, policy, fetchUser)
//
// A call ends with the result, or with an error that says on one line why
// it stopped and after how many attempts (see [Error]). errors.Is and
// errors.As reach the last attempt's error and any context error; an
// attempt that ran out of its own time limit matches [ErrAttemptTimeout],
// the caller's deadline never does.
//
// # Which to use
//
// Retry, with [Retry] or [Do], when failures are brief: a dropped
// connection, a 503, a timeout. Mark errors that will not go away with
// [Permanent], and retry only calls that are safe to repeat. To bound a
// call by time rather than by count, set [Policy.MaxElapsed], which bounds
// the attempts too, and MaxAttempts: [Unlimited].
//
// Hedge, with [Hedge], when a call is slow rather than failing: a copy
// sent after a delay, such as the p95 of recent latencies (see
// [LatencyTracker]), cuts the tail latency for a little more load. Hedge
// only idempotent calls.
//
// Break, with [Guard] and a [Breaker], when a dependency is down or
// overloaded: an open breaker fails calls at once instead of letting every
// caller wait and add to the load, and lets a probe through now and then.
//
// Budget, with a [TokenBucket] or a [RatioBudget] as the policy's
// [Budget], whenever many calls retry the same dependency: retries
// multiply the load when it is weakest, and a budget caps the extra
// attempts of all of them together.
//
// Shed load, with [Admit] and a [Limiter] (a limit found from latency and
// errors) or a [Bulkhead] (a fixed one), when a dependency slows down
// under load or a server must not take more than it can serve: calls past
// the limit are refused at once, or after a bounded wait, with a
// [ShedError] that retry loops treat as pushback.
//
// Nest them with the retry loop outside. Give the budget to the retry
// policy, shared by every call to the dependency. Put the breaker inside
// the loop, so that every attempt (and every hedged copy) asks it, and the
// hedge between them:
//
//	user, err := retry.Retry(ctx, policy, func(ctx context.Context) (User, error) {
//		return retry.Hedge(ctx, hedging, func(ctx context.Context) (User, error) {
//			return retry.Guard(ctx, breaker, fetchUser)
//		})
//	})
//
// A rejection by the breaker ends the loop at once: failing fast is what a
// breaker is for. Set [Policy.WaitForProbe] to wait for the breaker's next
// probe instead. For HTTP, package httpx nests them this way. A limiter
// goes inside the retry loop and outside the breaker, so that the
// breaker's fast rejections are no samples for it:
//
//	v, err := retry.Retry(ctx, policy, func(ctx context.Context) (T, error) {
//		return retry.Admit(ctx, limiter, func(ctx context.Context) (T, error) {
//			return retry.Guard(ctx, breaker, fn)
//		})
//	})
//
// # Observing calls
//
// A policy's or a breaker's [Hooks] report every attempt, retry, hedge,
// budget refusal, finished call, breaker rejection and change of state,
// with the call's context and the policy's or breaker's Name, for metrics
// and traces; [LogHooks] logs them through a *slog.Logger, the nested
// module otel exports them to OpenTelemetry, and [JoinHooks] does both.
//
// # Zero values and constructors
//
// Every zero value is ready to use with its documented defaults; a nil
// policy means the zero one. Every shared stateful type ([Breaker],
// [TokenBucket], [RatioBudget], [LatencyTracker], [Limiter], [Bulkhead])
// has NewX(XConfig) (*X, error), and its zero value behaves as NewX(XConfig{}); it must not be
// copied after first use. Every config and policy has Validate, which names
// the first bad field in an error wrapping [ErrInvalid]; a constructor
// returns exactly that error, and [Must] turns an invalid package-level
// value into a panic at program start. A zero field always means its
// default; where zero is also a meaningful setting, a named value says it
// ([None] turns off a RatioBudget's ratio or floor). Policies are
// read-only once in use: build them once and share them between goroutines.
//
// Time comes from a [Clock], so timing can be tested without sleeping; a
// nil Clock means real time. The package keeps no global settings or
// registries.
package retry
