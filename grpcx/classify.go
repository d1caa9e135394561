package grpcx

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/retrykit/retry"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata keys of gRFC A6.
const (
	// PushbackKey is the trailer in which a server asks the client to wait
	// that many milliseconds before retrying, or, negative, not to retry.
	PushbackKey = "grpc-retry-pushback-ms"
	// PreviousAttemptsKey is the header that tells the server how many
	// attempts of the call came before this one.
	PreviousAttemptsKey = "grpc-previous-rpc-attempts"
)

// DefaultCodes are the codes retried when a Method lists none: only
// UNAVAILABLE, which gRFC A6 recommends as safe for most methods. The
// Interceptor keeps its own copy: changing this slice changes nothing.
var DefaultCodes = []codes.Code{codes.Unavailable}

// Code returns the gRPC code of err as status.Code does, found anywhere in
// err's tree (a *retry.Error wrapping a status, say). A context error that
// carries no status maps to its code.
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var s interface{ GRPCStatus() *status.Status }
	if errors.As(err, &s) {
		return s.GRPCStatus().Code()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	}
	return codes.Unknown
}

// Retryable reports whether err's code is one of retryable. A nil err is
// not retryable.
func Retryable(err error, retryable []codes.Code) bool {
	return err != nil && slices.Contains(retryable, Code(err))
}

// Pushback reads the server's pushback in trailer: ok is false when there is
// none; otherwise d is the wait asked for, or negative when the server asked
// not to be retried: a negative or malformed value, or more than one value,
// as gRFC A6 and grpc-go read them.
func Pushback(trailer metadata.MD) (d time.Duration, ok bool) {
	v := trailer[PushbackKey]
	switch len(v) {
	case 0:
		return 0, false
	case 1:
		ms, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil || ms < 0 {
			return -1, true
		}
		if ms > int64(time.Duration(1<<63-1)/time.Millisecond) {
			ms = int64(time.Duration(1<<63-1) / time.Millisecond)
		}
		return time.Duration(ms) * time.Millisecond, true
	default:
		return -1, true
	}
}

// WithPushback marks err with the server's pushback found in trailer, if
// any, through retry.After: the retry loop then waits as the server asked,
// or stops if it asked not to be retried.
func WithPushback(err error, trailer metadata.MD) error {
	if d, ok := Pushback(trailer); ok && err != nil {
		return retry.After(err, d)
	}
	return err
}

// BreakerOutcome sorts the error of a call for a circuit breaker
// (retry.BreakerConfig.Classify): codes that say the server is unwell or
// unreachable (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL,
// UNKNOWN, DATA_LOSS) are failures, CANCELED is ignored, and any other code
// (NOT_FOUND, INVALID_ARGUMENT...) is a success: the server answered.
func BreakerOutcome(err error) retry.BreakerOutcome {
	switch Code(err) {
	case codes.OK:
		return retry.BreakerSuccess
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted,
		codes.Internal, codes.Unknown, codes.DataLoss:
		return retry.BreakerFailure
	case codes.Canceled:
		return retry.BreakerIgnored
	}
	return retry.BreakerSuccess
}
