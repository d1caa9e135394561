package grpcx

import (
	"context"
	"errors"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/retrykit/retry"
)

// ShedUnary returns a unary server interceptor that sheds load: a call
// reaches its handler only once a admits it (a *retry.Limiter, which finds
// the limit from the handlers' latency and errors, or a *retry.Bulkhead, a
// fixed limit). A refused call ends with RESOURCE_EXHAUSTED and a
// grpc-retry-pushback-ms trailer holding the refusal's suggested wait, so
// that clients that honour pushback (this package's Interceptor, grpc-go's
// own retry) wait before trying again. Clients retry RESOURCE_EXHAUSTED
// only if told to: list it in Method.Codes, or in the retryPolicy's
// retryableStatusCodes.
//
// With a Limiter, each call that the handler served is a sample: its time
// in the handler, and how it ended. RESOURCE_EXHAUSTED and UNAVAILABLE
// (the handler shedding load itself or passing on pushback) and
// DEADLINE_EXCEEDED count as drops; other errors as failures; a call that
// the client cancelled, or whose handler panicked, is no sample. A call
// whose client left while it waited for a slot ends with its context's
// status and never reaches the handler.
//
// A nil Admitter, or a nil *retry.Limiter or *retry.Bulkhead in it, is an
// error wrapping ErrInvalid.
func ShedUnary(a retry.Admitter) (grpc.UnaryServerInterceptor, error) {
	switch v := a.(type) {
	case nil:
		return nil, invalid("ShedUnary: nil Admitter")
	case *retry.Limiter:
		if v == nil {
			return nil, invalid("ShedUnary: nil *retry.Limiter")
		}
	case *retry.Bulkhead:
		if v == nil {
			return nil, invalid("ShedUnary: nil *retry.Bulkhead")
		}
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p, err := a.Acquire(ctx)
		if err != nil {
			return nil, refusal(ctx, err)
		}
		if ctx.Err() != nil { // the client left as the slot came
			p.Done(context.Canceled)
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		finished := false
		defer func() {
			if !finished { // the handler panicked: no sample
				p.Done(context.Canceled)
			}
		}()
		resp, err := handler(ctx, req)
		finished = true
		p.Done(sample(ctx, err))
		return resp, err
	}, nil
}

// refusal is the status of a call that the admitter did not let through.
func refusal(ctx context.Context, err error) error {
	se, ok := errors.AsType[*retry.ShedError](err)
	if !ok { // the context ended while the call waited
		return status.FromContextError(err).Err()
	}
	ms := max(se.Wait.Milliseconds(), 1)
	grpc.SetTrailer(ctx, metadata.Pairs(PushbackKey, strconv.FormatInt(ms, 10)))
	return status.Error(codes.ResourceExhausted, se.Error())
}

// sample is the outcome a served call reports to the admitter (see
// ShedUnary).
func sample(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return context.Canceled
	}
	if err == nil {
		return nil
	}
	switch status.Code(err) {
	case codes.Canceled:
		return context.Canceled
	case codes.ResourceExhausted, codes.Unavailable:
		return retry.After(err, 0)
	case codes.DeadlineExceeded:
		return errors.Join(err, context.DeadlineExceeded)
	}
	return err
}
