package grpcx

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/retrykit/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// Interceptor holds the unary and stream client interceptors of a Config:
// pass its Unary and Stream methods to grpc.WithChainUnaryInterceptor and
// grpc.WithChainStreamInterceptor.
//
// An Interceptor is safe for concurrent use and may serve any number of
// connections. Create it with New, or use the zero value: it behaves as
// New(Config{}). It must not be copied after first use.
type Interceptor struct {
	once     sync.Once
	cfg      Config
	fallback method
	methods  map[string]*method
}

// method is a Method ready for calls: its policies hold the Retryable of
// its codes, set once.
type method struct {
	codes     []codes.Code
	policy    retry.Policy
	hedge     *retry.HedgePolicy
	maxReplay int
}

var (
	_ grpc.UnaryClientInterceptor  = (*Interceptor)(nil).Unary
	_ grpc.StreamClientInterceptor = (*Interceptor)(nil).Stream
)

// New returns an Interceptor that uses a copy of cfg, or the error of
// cfg.Validate.
func New(cfg Config) (*Interceptor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ic := new(Interceptor)
	ic.once.Do(func() { ic.setup(cfg) })
	return ic, nil
}

// DialOptions returns the options that install ic on a connection: its
// unary and stream interceptors.
func (ic *Interceptor) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(ic.Unary), grpc.WithChainStreamInterceptor(ic.Stream)}
}

func (ic *Interceptor) init() {
	ic.once.Do(func() { ic.setup(Config{}) })
}

func (ic *Interceptor) setup(cfg Config) {
	ic.cfg = cfg
	ic.fallback = newMethod(cfg.Default)
	ic.methods = make(map[string]*method, len(cfg.Methods))
	for name, m := range cfg.Methods {
		mm := newMethod(m)
		ic.methods[name] = &mm
	}
}

func newMethod(m Method) method {
	out := method{codes: m.Codes, maxReplay: m.MaxReplayBytes}
	if out.codes == nil {
		out.codes = []codes.Code{codes.Unavailable}
	} else {
		out.codes = slices.Clone(out.codes) // the caller's slice may change
	}
	if out.maxReplay == 0 {
		out.maxReplay = defaultMaxReplayBytes
	}
	cs := out.codes
	retryable := func(err error) bool { return retryableError(err, cs) }
	if m.Retry != nil {
		out.policy = *m.Retry
	}
	out.policy.Retryable = retryable
	if m.Hedge != nil {
		h := *m.Hedge
		h.Retryable = retryable
		out.hedge = &h
	}
	return out
}

// retryableError: one of the codes, or an attempt that ran out of its own
// time.
func retryableError(err error, codes []codes.Code) bool {
	return Retryable(err, codes) || errorsIsAttemptTimeout(err)
}

// lookup finds the method's settings: its own, its service's, or the
// default.
func (ic *Interceptor) lookup(name string) *method {
	if len(ic.methods) > 0 {
		if m, ok := ic.methods[name]; ok {
			return m
		}
		if i := strings.LastIndexByte(name, '/'); i > 0 {
			if m, ok := ic.methods[name[:i+1]]; ok {
				return m
			}
		}
	}
	return &ic.fallback
}

// builtin reports whether grpc-go retries method on cc itself, and grpcx
// should leave it to. Before the connection's first call has gone out,
// its service config is not known yet: builtin is then false.
func (ic *Interceptor) builtin(cc *grpc.ClientConn, name string) bool {
	return ic.cfg.BuiltinRetries == DeferToBuiltin && cc != nil && cc.GetMethodConfig(name).RetryPolicy != nil
}

func (ic *Interceptor) breaker(target, name string) *retry.Breaker {
	if ic.cfg.Breaker == nil {
		return nil
	}
	return ic.cfg.Breaker(target, name)
}

func target(cc *grpc.ClientConn) string {
	if cc == nil {
		return ""
	}
	return cc.Target()
}

// Unary is the unary client interceptor (grpc.UnaryClientInterceptor): it
// retries or hedges the call as its Method says, asking the breaker before
// every attempt. An attempt whose server sent its headers before failing
// is not retried: the call is committed (gRFC A6), as in grpc-go. The
// caller's grpc.OnFinish options run once, when the call ends. See the
// package documentation.
func (ic *Interceptor) Unary(ctx context.Context, name string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if slices.IndexFunc(opts, isOnFinish) >= 0 {
		return ic.unaryOnFinish(ctx, name, req, reply, cc, invoker, opts)
	}
	return ic.unary(ctx, name, req, reply, cc, invoker, opts)
}

func isOnFinish(o grpc.CallOption) bool {
	_, ok := o.(grpc.OnFinishCallOption)
	return ok
}

// unaryOnFinish makes a call with grpc.OnFinish options: grpc-go calls
// them once per call, so they are taken off the attempts and called once,
// with the call's error, when it ends.
func (ic *Interceptor) unaryOnFinish(ctx context.Context, name string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	rest, finish := takeOnFinish(opts)
	err := ic.unary(ctx, name, req, reply, cc, invoker, rest)
	for _, f := range finish {
		f(err)
	}
	return err
}

// takeOnFinish splits the grpc.OnFinish options off opts; finish is nil
// if there are none, and opts is then returned as it is.
func takeOnFinish(opts []grpc.CallOption) (rest []grpc.CallOption, finish []func(error)) {
	if slices.IndexFunc(opts, isOnFinish) < 0 {
		return opts, nil
	}
	rest = make([]grpc.CallOption, 0, len(opts))
	for _, o := range opts {
		if f, ok := o.(grpc.OnFinishCallOption); ok {
			finish = append(finish, f.OnFinish)
		} else {
			rest = append(rest, o)
		}
	}
	return rest, finish
}

func (ic *Interceptor) unary(ctx context.Context, name string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	ic.init()
	m := ic.lookup(name)
	tgt := target(cc)
	c := newCall()
	c.ic, c.name, c.req, c.reply, c.cc, c.invoker = ic, name, req, reply, cc, invoker
	c.breaker = ic.breaker(tgt, name)
	// A hedged method that grpc-go retries is made once: every copy would
	// be retried beneath. Others find out when an attempt fails (see
	// invoke): the service config is known once a call has gone out.
	if m.hedge != nil && !ic.builtin(cc, name) {
		if msg, ok := protoReply(reply); ok {
			h := *m.hedge
			if ic.cfg.Budget != nil {
				h.Budget = ic.cfg.Budget(tgt, name)
			}
			return c.hedged(ctx, &h, msg, opts)
		}
	}
	p := &m.policy
	if ic.cfg.Budget != nil || m.hedge != nil {
		perCall := *p // on the stack: Retry keeps no reference
		if ic.cfg.Budget != nil {
			perCall.Budget = ic.cfg.Budget(tgt, name)
		}
		if m.hedge != nil {
			perCall.MaxAttempts = 1
		}
		p = &perCall
	}
	return c.retried(ctx, p, opts)
}
