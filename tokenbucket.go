package retry

import (
	"math"
	"sync/atomic"
)

// Defaults of a zero TokenBucket, as in gRPC's retry throttling.
const (
	defaultMaxTokens  = 10
	defaultTokenRatio = 0.1
)

// TokenBucket is the retry throttle of gRPC (gRFC A6): every failed
// attempt takes one token, every success gives back TokenRatio tokens, and
// retries and hedges are allowed only while more than half of MaxTokens
// remain. A dependency that fails more than about one call in
// 1/(1+TokenRatio) soon gets first attempts only; as successes return,
// retries resume.
//
// The zero value is a full bucket with 10 tokens and
// a TokenRatio of 0.1. A TokenBucket is safe for concurrent use and lock-free.
type TokenBucket struct {
	maxMilli   int64        // MaxTokens in thousandths; zero means the default
	ratioMilli int64        // TokenRatio in thousandths; zero means the default
	deficit    atomic.Int64 // thousandths of a token taken from a full bucket
}

var _ Budget = (*TokenBucket)(nil)

// NewTokenBucket returns a full bucket. maxTokens must be in (0, 1000] and
// tokenRatio in (0, 1]; both count in thousandths of a token, as in gRPC,
// so each is rounded to the nearest thousandth, and a value that rounds to
// zero (under 0.0005) is an error rather than a silent default.
func NewTokenBucket(maxTokens, tokenRatio float64) (*TokenBucket, error) {
	if !(maxTokens > 0 && maxTokens <= 1000) {
		return nil, invalid("TokenBucket: maxTokens must be in (0, 1000], not %v", maxTokens)
	}
	if !(tokenRatio > 0 && tokenRatio <= 1) {
		return nil, invalid("TokenBucket: tokenRatio must be in (0, 1], not %v", tokenRatio)
	}
	maxMilli, ratioMilli := int64(math.Round(maxTokens*1000)), int64(math.Round(tokenRatio*1000))
	if maxMilli < 1 {
		return nil, invalid("TokenBucket: maxTokens (%v) rounds to less than the unit of one thousandth of a token", maxTokens)
	}
	if ratioMilli < 1 {
		return nil, invalid("TokenBucket: tokenRatio (%v) rounds to less than the unit of one thousandth of a token", tokenRatio)
	}
	return &TokenBucket{maxMilli: maxMilli, ratioMilli: ratioMilli}, nil
}

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
