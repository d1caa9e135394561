package retry

import (
	"math"
	"sync/atomic"
)

// Defaults of the zero fields of a TokenBucketConfig, as in gRPC's retry
// throttling.
const (
	defaultMaxTokens  = 10
	defaultTokenRatio = 0.1
)

// maxMaxTokens is the largest MaxTokens, as in gRPC.
const maxMaxTokens = 1000

// TokenBucketConfig configures a TokenBucket. Every zero field means the
// default documented on it; both fields count in thousandths of a token,
// as in gRPC, so each is rounded to the nearest thousandth.
type TokenBucketConfig struct {
	// Name, if set, identifies the budget in every event its hooks receive
	// (see Hooks), as a metric label or a log field.
	Name string

	// MaxTokens is the size of the bucket, in (0, 1000]; retries are
	// allowed while more than half of it remains. Zero means 10.
	MaxTokens float64

	// TokenRatio is what a success gives back, in (0, 1]. Zero means 0.1.
	TokenRatio float64
}

// Validate reports the first invalid field of c, wrapped around
// ErrInvalid: a value outside its range, or one that rounds to less than
// one thousandth of a token (under 0.0005), which would otherwise read as
// zero, and so as the default.
func (c TokenBucketConfig) Validate() error {
	if err := checkMilli("MaxTokens", c.MaxTokens, maxMaxTokens); err != nil {
		return err
	}
	return checkMilli("TokenRatio", c.TokenRatio, 1)
}

// checkMilli checks a field of a TokenBucketConfig: zero, or a number in
// (0, hi] that keeps at least one thousandth once rounded.
func checkMilli(field string, v, hi float64) error {
	switch {
	case v == 0:
		return nil
	case !(v > 0 && v <= hi): // catches NaN too
		return invalid("TokenBucketConfig.%s must be in (0, %v], or zero for the default; not %v", field, hi, v)
	case math.Round(v*1000) < 1:
		return invalid("TokenBucketConfig.%s (%v) rounds to less than one thousandth of a token, the bucket's unit", field, v)
	}
	return nil
}

// TokenBucket is the retry throttle of gRPC (gRFC A6): every failed
// attempt takes one token, every success gives back TokenRatio tokens, and
// retries and hedges are allowed only while more than half of MaxTokens
// remain.
//
// Whether retries go on depends on the share f of the attempts that fail:
// failures take f tokens per attempt and successes give back
// (1−f)·TokenRatio, so the bucket drains when f > TokenRatio/(1+TokenRatio):
// one failed attempt in 11 with the default ratio of 0.1. Below that share
// the bucket stays near full; above it, it empties, and calls get first
// attempts only from the time it is half empty until successes have
// refilled it past the half mark.
//
// Create one per dependency with NewTokenBucket and share it between any
// number of policies and goroutines: it is safe for concurrent use, and
// lock-free. The zero value is ready to use and behaves as
// NewTokenBucket(TokenBucketConfig{}): a full bucket of 10 tokens with a
// TokenRatio of 0.1.
type TokenBucket struct {
	maxMilli   int64        // MaxTokens in thousandths; zero means the default
	ratioMilli int64        // TokenRatio in thousandths; zero means the default
	deficit    atomic.Int64 // thousandths of a token taken from a full bucket
	name       string
}

var _ Budget = (*TokenBucket)(nil)

// NewTokenBucket returns a full bucket configured by cfg, or the error of
// cfg.Validate.
func NewTokenBucket(cfg TokenBucketConfig) (*TokenBucket, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &TokenBucket{
		maxMilli:   int64(math.Round(cfg.MaxTokens * 1000)),
		ratioMilli: int64(math.Round(cfg.TokenRatio * 1000)),
		name:       cfg.Name,
	}, nil
}

// Name returns the bucket's TokenBucketConfig.Name, for the events of
// Hooks.OnBudgetRefused.
func (b *TokenBucket) Name() string { return b.name }

func (b *TokenBucket) limits() (maxMilli, ratioMilli int64) {
	maxMilli, ratioMilli = b.maxMilli, b.ratioMilli
	if maxMilli == 0 {
		maxMilli = defaultMaxTokens * 1000
	}
	if ratioMilli == 0 {
		ratioMilli = defaultTokenRatio * 1000
	}
	return maxMilli, ratioMilli
}

// Tokens returns the tokens left, for metrics.
func (b *TokenBucket) Tokens() float64 {
	maxMilli, _ := b.limits()
	return float64(maxMilli-b.deficit.Load()) / 1000
}

// First does nothing: first attempts neither take nor give tokens.
func (b *TokenBucket) First() {}

// Extra reports whether more than half of the tokens remain. It takes no
// token: the attempt's failure will.
func (b *TokenBucket) Extra() bool {
	maxMilli, _ := b.limits()
	return maxMilli-b.deficit.Load() > maxMilli/2
}

// Result takes a token for a failure, and gives back TokenRatio for a
// success, within [0, MaxTokens].
func (b *TokenBucket) Result(ok bool) {
	maxMilli, ratioMilli := b.limits()
	for {
		old := b.deficit.Load()
		var next int64
		if ok {
			next = max(old-ratioMilli, 0)
		} else {
			next = min(old+1000, maxMilli)
		}
		if next == old || b.deficit.CompareAndSwap(old, next) {
			return
		}
	}
}
