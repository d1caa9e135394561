// Package retry runs calls that may fail through resilience policies:
// retries with backoff, hedged requests and circuit breaking.
//
// Every entry point takes any func(context.Context) (T, error) and a policy
// value. Policies are plain structs whose zero fields mean documented
// defaults; build one once, share it between goroutines, and pass nil for
// the defaults:
//
//	err := retry.Do(ctx, nil, ping) // 3 attempts, exponential backoff with full jitter
//
//	var policy = &retry.Policy{
//		MaxAttempts: 5,
//		Backoff:     retry.Exponential{Base: 50 * time.Millisecond, Max: 2 * time.Second, Jitter: retry.FullJitter},
//	}
//	user, err := retry.Retry(ctx, policy, fetchUser)
//
// A call ends with either the result or an error that says why it stopped
// and after how many attempts (see [Error]); errors.Is and errors.As reach
// the last attempt's error and any context error.
//
// Time comes from an injectable [Clock], so timing behaviour can be tested
// without sleeping; a nil Clock means real time.
//
// Nothing here keeps global state. Shared objects, such as a [Budget], are
// values the caller creates and passes in.
package retry
