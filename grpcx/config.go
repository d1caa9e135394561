package grpcx

import (
	"fmt"
	"strings"

	"github.com/retrykit/retry"
	"google.golang.org/grpc/codes"
)

// defaultMaxReplayBytes is grpc-go's own per-call retry buffer.
const defaultMaxReplayBytes = 256 << 10

// Config configures an Interceptor. The zero Config retries every method
// up to 3 times on UNAVAILABLE, with retry's zero Policy, and hedges none.
type Config struct {
	// Default is the Method of every method that Methods does not name.
	Default Method

	// Methods holds the Method of particular methods, keyed as a service
	// config's methodConfig names them: "/pkg.Service/Method" for one
	// method, "/pkg.Service/" for every method of a service. An exact name
	// is looked up first, then its service, then Default.
	Methods map[string]Method

	// Breaker, if set, returns the circuit breaker of a call (nil for
	// none), such as BreakersPerTarget's For. Every attempt asks it first;
	// an open breaker fails the call at once with UNAVAILABLE, unless the
	// Method's Retry has WaitForProbe.
	Breaker func(target, method string) *retry.Breaker

	// Budget, if set, returns the retry budget of a call (nil for none),
	// such as a PerTarget's For. It replaces the Budget of the Method's
	// Retry or Hedge policy, so that one budget per target keeps a failing
	// target from using up the retries of the healthy ones.
	Budget func(target, method string) retry.Budget

	// BuiltinRetries says what to do with a method that the connection's
	// service config gives a retryPolicy. The zero value, DeferToBuiltin,
	// leaves retrying it to grpc-go.
	BuiltinRetries BuiltinRetries
}

// BuiltinRetries says how the Interceptor shares retrying with grpc-go's
// service-config retries, so that the two never multiply.
type BuiltinRetries uint8

const (
	// DeferToBuiltin leaves a method that the service config gives a
	// retryPolicy to grpc-go: grpcx neither hedges it nor retries an
	// attempt of it that failed (ClientConn.GetMethodConfig is read then,
	// when the config is known: a connection learns it with its first
	// call). The breaker and the budget still see every call.
	DeferToBuiltin BuiltinRetries = iota
	// BuiltinDisabled says that the connection was made with
	// grpc.WithDisableRetry, under which grpc-go ignores every retryPolicy:
	// grpcx retries and hedges every method as configured. grpc-go does not
	// tell an interceptor whether its retries are disabled: without
	// WithDisableRetry, attempts multiply.
	BuiltinDisabled
)

// Method says how the calls of one method are retried or hedged. Its zero
// value retries UNAVAILABLE up to 3 times, with retry's zero Policy.
type Method struct {
	// Retry is the retry policy: MaxAttempts, Backoff, AttemptTimeout (a
	// deadline of each attempt of a unary call), MaxAfter (the longest
	// pushback honoured: a longer one stops the call), Budget. Nil means
	// retry's zero Policy; MaxAttempts 1 turns retries off. Its Retryable
	// must be unset: Codes classifies.
	Retry *retry.Policy

	// Codes are the codes worth another attempt. Nil means DefaultCodes
	// (UNAVAILABLE). An attempt that ran out of its own AttemptTimeout is
	// retried whatever its code; the caller's own deadline or cancellation
	// never is.
	Codes []codes.Code

	// Hedge, if set, hedges the unary calls of the method, which must be
	// safe to repeat, instead of retrying them: Retry must then be nil.
	// Each attempt receives its own fresh reply, and the winner's is
	// copied into the caller's; the caller's grpc.Header, grpc.Trailer and
	// grpc.Peer options see only the winner's. A failure with one of Codes
	// starts the next copy at once; a pushback holds it for the wait asked
	// (a negative one starts no more copies); any other code cancels every
	// copy. Its Retryable and OnDiscard must be unset. Only replies that
	// are proto messages can be hedged; any other call is made once.
	// Streams are never hedged: a stream of a hedged method is made once.
	Hedge *retry.HedgePolicy

	// MaxReplayBytes caps the messages a stream keeps to send again on a
	// retry; a stream that sends more is committed: no longer retried.
	// Zero means 256 KiB, grpc-go's own buffer; negative turns stream
	// retries off.
	MaxReplayBytes int
}

// ErrInvalid is wrapped by the errors that report a bad Config. It matches
// retry.ErrInvalid too.
var ErrInvalid error = invalidError{}

type invalidError struct{}

func (invalidError) Error() string        { return "grpcx: invalid argument" }
func (invalidError) Is(target error) bool { return target == retry.ErrInvalid }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Validate reports the first invalid setting of c, wrapped around
// ErrInvalid: an invalid policy, a policy field that the Interceptor sets
// itself, Retry and Hedge both set, or a key of Methods that is not a
// method or service name.
func (c Config) Validate() error {
	if err := c.Default.validate("Config.Default"); err != nil {
		return err
	}
	for name, m := range c.Methods {
		if !strings.HasPrefix(name, "/") || strings.Count(name, "/") != 2 || name == "//" {
			return invalid("Config.Methods: %q is neither \"/pkg.Service/Method\" nor \"/pkg.Service/\"", name)
		}
		if err := m.validate(fmt.Sprintf("Config.Methods[%q]", name)); err != nil {
			return err
		}
	}
	if c.BuiltinRetries > BuiltinDisabled {
		return invalid("Config.BuiltinRetries is %d, not one of this package's", c.BuiltinRetries)
	}
	return nil
}

func (m *Method) validate(field string) error {
	if m.Retry != nil {
		if err := m.Retry.Validate(); err != nil {
			return fmt.Errorf("%w: %s.Retry: %w", ErrInvalid, field, err)
		}
		if m.Retry.Retryable != nil {
			return invalid("%s: set Codes, not Retry.Retryable", field)
		}
	}
	if m.Hedge != nil {
		if err := m.Hedge.Validate(); err != nil {
			return fmt.Errorf("%w: %s.Hedge: %w", ErrInvalid, field, err)
		}
		switch {
		case m.Retry != nil:
			return invalid("%s: Retry and Hedge are both set; a method is retried or hedged", field)
		case m.Hedge.Retryable != nil:
			return invalid("%s: set Codes, not Hedge.Retryable", field)
		case m.Hedge.OnDiscard != nil:
			return invalid("%s: Hedge.OnDiscard is set; the Interceptor discards lost replies itself", field)
		}
	}
	for _, c := range m.Codes {
		if c == codes.OK || c > codes.Unauthenticated {
			return invalid("%s.Codes: %v is not a failure code", field, c)
		}
	}
	return nil
}
