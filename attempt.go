package retry

import "context"

// Attempt describes the attempt of a call that a context was made for, so
// that fn can tell the callee (an attempt header, a log field).
type Attempt struct {
	Number int  // from 1
	Hedge  bool // started by Hedge while an earlier attempt was still running
}

type attemptKey struct{}

// AttemptFrom returns the Attempt that ctx was made for, and false if ctx
// carries none: Retry and Do mark the contexts of their attempts only when
// Policy.MarkAttempts is set; Hedge always marks them.
func AttemptFrom(ctx context.Context) (Attempt, bool) {
	a, ok := ctx.Value(attemptKey{}).(Attempt)
	return a, ok
}

// WithAttempt returns a copy of ctx that carries a, for AttemptFrom. Retry
// and Hedge mark the contexts they make themselves; a layer that runs an
// attempt on a context of its own, such as an HTTP request whose body
// outlives its attempt, copies the mark with it.
func WithAttempt(ctx context.Context, a Attempt) context.Context { return withAttempt(ctx, a) }

func withAttempt(ctx context.Context, a Attempt) context.Context {
	if a.Number >= 1 && a.Number < len(boxedAttempts) {
		h := 0
		if a.Hedge {
			h = 1
		}
		return context.WithValue(ctx, attemptKey{}, boxedAttempts[a.Number][h])
	}
	return context.WithValue(ctx, attemptKey{}, a)
}

// boxedAttempts holds the common Attempts already in interfaces, so that
// marking an attempt costs one allocation (the context), not two. It is
// filled once and only read.
var boxedAttempts = func() (t [17][2]any) {
	for n := range t {
		t[n] = [2]any{Attempt{Number: n}, Attempt{Number: n, Hedge: true}}
	}
	return t
}()
