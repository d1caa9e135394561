package grpcx

import (
	"fmt"
	"sync"

	"github.com/retrykit/retry"
)

// Keyed keeps one value per target, or per target and method, made on
// first use: a circuit breaker for Config.Breaker, a budget for
// Config.Budget.
//
//	breakers, err := grpcx.BreakersPerTarget(retry.BreakerConfig{FailureRatio: 0.5})
//	budgets, err := grpcx.PerTarget(func() retry.Budget { return &retry.RatioBudget{} })
//	ic, err := grpcx.New(grpcx.Config{Breaker: breakers.For, Budget: budgets.For})
//
// A Keyed is safe for concurrent use. It keeps a value for every key it
// has seen, so give it to clients of a known set of targets and methods.
// The zero Keyed (and a nil one) makes no values: For returns T's zero
// value, which the Config reads as none.
type Keyed[T any] struct {
	newValue func() T
	byMethod bool
	mu       sync.RWMutex
	values   map[key]T
}

type key struct{ target, method string }

// PerTarget returns a Keyed that makes one value per target (the
// ClientConn's Target) with newValue. A nil newValue is an error wrapping
// ErrInvalid.
func PerTarget[T any](newValue func() T) (*Keyed[T], error) {
	if newValue == nil {
		return nil, invalid("PerTarget: nil function")
	}
	return &Keyed[T]{newValue: newValue}, nil
}

// PerMethod returns a Keyed that makes one value per target and method
// with newValue. A nil newValue is an error wrapping ErrInvalid.
func PerMethod[T any](newValue func() T) (*Keyed[T], error) {
	if newValue == nil {
		return nil, invalid("PerMethod: nil function")
	}
	return &Keyed[T]{newValue: newValue, byMethod: true}, nil
}

// BreakersPerTarget returns a Keyed of circuit breakers made from cfg, one
// per target, or the error of cfg.Validate, wrapped around ErrInvalid. A nil cfg.Classify is set to
// BreakerOutcome, so that answers such as NOT_FOUND do not trip them.
func BreakersPerTarget(cfg retry.BreakerConfig) (*Keyed[*retry.Breaker], error) {
	return breakers(cfg, false)
}

// BreakersPerMethod is BreakersPerTarget with one breaker per target and
// method.
func BreakersPerMethod(cfg retry.BreakerConfig) (*Keyed[*retry.Breaker], error) {
	return breakers(cfg, true)
}

func breakers(cfg retry.BreakerConfig, byMethod bool) (*Keyed[*retry.Breaker], error) {
	if cfg.Classify == nil {
		cfg.Classify = BreakerOutcome
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return &Keyed[*retry.Breaker]{byMethod: byMethod, newValue: func() *retry.Breaker {
		b, _ := retry.NewBreaker(cfg) // cannot fail: Validate passed
		return b
	}}, nil
}

// For returns the value of target (and method, if the Keyed is per
// method), making it on first use.
func (k *Keyed[T]) For(target, method string) T {
	if k == nil || k.newValue == nil {
		var zero T
		return zero
	}
	kk := key{target: target}
	if k.byMethod {
		kk.method = method
	}
	k.mu.RLock()
	v, ok := k.values[kk]
	k.mu.RUnlock()
	if ok {
		return v
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.values[kk]; ok {
		return v
	}
	if k.values == nil {
		k.values = make(map[key]T)
	}
	v = k.newValue()
	k.values[kk] = v
	return v
}
