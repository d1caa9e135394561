package grpcx

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/retrykit/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// unaryCall is one unary call through the Interceptor.
type unaryCall struct {
	ic         *Interceptor
	name       string
	req, reply any
	cc         *grpc.ClientConn
	invoker    grpc.UnaryInvoker
	breaker    *retry.Breaker

	// Of retried, not hedged, calls: the options of every attempt (the
	// caller's and ours) and the attempts made.
	opts            []grpc.CallOption
	header, trailer metadata.MD
	n               int

	// Bound once per pooled value, so that a call allocates neither.
	attemptFn, invokeFn func(context.Context) (struct{}, error)
}

// calls recycles the unaryCall of retried calls, whose attempts all end
// before Retry returns. Hedged calls are not recycled: a losing attempt
// may still run after the call.
var calls = sync.Pool{New: func() any {
	c := new(unaryCall)
	c.attemptFn, c.invokeFn = c.attempt, c.invoke
	return c
}}

func newCall() *unaryCall { return calls.Get().(*unaryCall) }

// recycle clears what c holds of the call and puts it back in the pool.
func (c *unaryCall) recycle() {
	clear(c.opts)
	attempt, invoke, opts := c.attemptFn, c.invokeFn, c.opts[:0]
	*c = unaryCall{attemptFn: attempt, invokeFn: invoke, opts: opts}
	calls.Put(c)
}

// retried makes the call with retries, one attempt at a time. Every
// attempt unmarshals into the caller's reply and sets the caller's
// Header and Trailer options: the last attempt's stay.
func (c *unaryCall) retried(ctx context.Context, p *retry.Policy, opts []grpc.CallOption) error {
	c.opts = append(append(c.opts[:0], opts...), grpc.Header(&c.header), grpc.Trailer(&c.trailer))
	_, err := retry.Retry(ctx, p, c.attemptFn)
	c.recycle()
	return statusOf(err)
}

func (c *unaryCall) attempt(ctx context.Context) (struct{}, error) {
	c.n++
	if c.n > 1 {
		ctx = withPreviousAttempts(ctx, c.n-1)
	}
	c.header, c.trailer = nil, nil
	if c.breaker != nil {
		return retry.Guard(ctx, c.breaker, c.invokeFn)
	}
	return c.invoke(ctx)
}

// invoke makes one attempt and marks its error with the server's pushback,
// which the breaker also reads (for how long to stay open).
func (c *unaryCall) invoke(ctx context.Context) (struct{}, error) {
	err := c.invoker(ctx, c.name, c.req, c.reply, c.cc, c.opts...)
	return struct{}{}, c.ic.failed(ctx, err, c.header, c.trailer, c.cc, c.name)
}

// deadlineGrace is how close to the attempt's deadline a server's
// DEADLINE_EXCEEDED is taken as that deadline's: the server times the
// deadline it was sent on its own clock, and may end the call a moment
// before the client's timer fires.
const deadlineGrace = 10 * time.Millisecond

// failed marks the error of an attempt: with the server's pushback, and as
// Permanent if grpc-go has retried the call itself already, or if the
// server sent its headers (header is not nil) before it failed: the call
// is then committed (gRFC A6; grpc-go retries only trailers-only answers).
//
// A DEADLINE_EXCEEDED that comes within deadlineGrace of ctx's deadline
// waits for it, so that the retry loop tells the attempt's own time limit
// (retried) from the caller's deadline (not retried) by which one ended.
func (ic *Interceptor) failed(ctx context.Context, err error, header, trailer metadata.MD, cc *grpc.ClientConn, name string) error {
	if err == nil {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && ctx.Err() == nil && Code(err) == codes.DeadlineExceeded && time.Until(dl) <= deadlineGrace {
		<-ctx.Done()
	}
	err = WithPushback(err, trailer)
	if header != nil || ic.builtin(cc, name) {
		return retry.Permanent(err)
	}
	return err
}

func withPreviousAttempts(ctx context.Context, n int) context.Context {
	return metadata.AppendToOutgoingContext(ctx, PreviousAttemptsKey, strconv.Itoa(n))
}

func errorsIsAttemptTimeout(err error) bool { return errors.Is(err, retry.ErrAttemptTimeout) }

// statusOf returns err as the caller of a gRPC method expects it: an error
// whose status (status.FromError, status.Code) says how the call ended.
// When the call stopped for the caller's context, a breaker's rejection or
// a bad setup (an invalid budget, say: INTERNAL), that is the code; otherwise the last attempt's status, found
// through err's tree. err itself, a *retry.Error, stays reachable with
// errors.As.
func statusOf(err error) error {
	if err == nil {
		return nil
	}
	var reason, last error = err, nil
	if re, ok := errors.AsType[*retry.Error](err); ok {
		reason, last = re.Reason, re.Last
	}
	var code codes.Code
	switch {
	case errors.Is(reason, context.Canceled):
		code = codes.Canceled
	case errors.Is(reason, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.As(reason, new(*retry.BreakerError)):
		code = codes.Unavailable
	case errors.Is(err, retry.ErrInvalid):
		code = codes.Internal // the client's setup, not the request, is wrong
	default:
		// A hedged call's Last joins the errors of its attempts in the
		// order they failed: the status is the last one's.
		if joined, ok := last.(interface{ Unwrap() []error }); ok {
			errs := joined.Unwrap()
			for i := len(errs) - 1; i >= 0; i-- {
				if st, ok := status.FromError(errs[i]); ok && errs[i] != nil {
					return &statusError{err: err, code: st.Code(), status: st}
				}
			}
		}
		var s interface{ GRPCStatus() *status.Status }
		if errors.As(err, &s) {
			return err
		}
		code = codes.Unknown
		if errors.As(err, new(*retry.BreakerError)) {
			code = codes.Unavailable // no attempt answered: a breaker refused them
		}
	}
	return &statusError{err: err, code: code}
}

// statusError gives err the gRPC code that says how the call ended, and
// the status of the attempt it comes from, if any (for its details).
type statusError struct {
	err    error
	code   codes.Code
	status *status.Status
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// GRPCStatus returns the call's status, for status.FromError and
// status.Code.
func (e *statusError) GRPCStatus() *status.Status {
	if e.status == nil {
		return status.New(e.code, e.err.Error())
	}
	p := e.status.Proto()
	p.Message = e.err.Error()
	return status.FromProto(p)
}
