package retry_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// rejects checks that cfg.Validate reports field (the name it must
// contain, such as "TokenBucketConfig.MaxTokens") wrapped around
// ErrInvalid, and that newX returns nil and exactly that error.
func rejects[C interface{ Validate() error }, X any](t *testing.T, newX func(C) (*X, error), cfg C, field string) {
	t.Helper()
	err := cfg.Validate()
	if !errors.Is(err, retry.ErrInvalid) || !strings.Contains(err.Error(), field) {
		t.Errorf("%+v: Validate() = %v; want ErrInvalid naming %s", cfg, err, field)
		return
	}
	if x, newErr := newX(cfg); x != nil || newErr == nil || newErr.Error() != err.Error() {
		t.Errorf("%+v: the constructor returned %v, %v; want nil and Validate's error %q", cfg, x, newErr, err)
	}
}

// accepts checks that cfg is valid and that newX makes a value from it.
func accepts[C interface{ Validate() error }, X any](t *testing.T, newX func(C) (*X, error), cfg C) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Errorf("%+v: Validate() = %v", cfg, err)
	}
	if x, err := newX(cfg); x == nil || err != nil {
		t.Errorf("%+v: the constructor returned %v, %v", cfg, x, err)
	}
}

func TestTokenBucketConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg   retry.TokenBucketConfig
		field string
	}{
		{retry.TokenBucketConfig{MaxTokens: -1}, "MaxTokens"},
		{retry.TokenBucketConfig{MaxTokens: 1000.5}, "MaxTokens"},
		{retry.TokenBucketConfig{MaxTokens: math.NaN()}, "MaxTokens"},
		{retry.TokenBucketConfig{MaxTokens: math.Inf(1)}, "MaxTokens"},
		{retry.TokenBucketConfig{MaxTokens: 0.0004}, "MaxTokens"},
		{retry.TokenBucketConfig{TokenRatio: -0.1}, "TokenRatio"},
		{retry.TokenBucketConfig{TokenRatio: 1.5}, "TokenRatio"},
		{retry.TokenBucketConfig{TokenRatio: math.NaN()}, "TokenRatio"},
		{retry.TokenBucketConfig{TokenRatio: math.Inf(-1)}, "TokenRatio"},
		{retry.TokenBucketConfig{TokenRatio: 0.0004}, "TokenRatio"},
	} {
		rejects(t, retry.NewTokenBucket, tt.cfg, "TokenBucketConfig."+tt.field)
	}
	for _, cfg := range []retry.TokenBucketConfig{
		{}, {MaxTokens: 1000, TokenRatio: 1}, {MaxTokens: 0.0005, TokenRatio: 0.0005},
	} {
		accepts(t, retry.NewTokenBucket, cfg)
	}
}

func TestRatioBudgetConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg   retry.RatioBudgetConfig
		field string
	}{
		{retry.RatioBudgetConfig{Ratio: -0.1}, "Ratio"},
		{retry.RatioBudgetConfig{Ratio: -2}, "Ratio"}, // negative, but not None
		{retry.RatioBudgetConfig{Ratio: 1.1}, "Ratio"},
		{retry.RatioBudgetConfig{Ratio: math.NaN()}, "Ratio"},
		{retry.RatioBudgetConfig{Ratio: math.Inf(-1)}, "Ratio"},
		{retry.RatioBudgetConfig{MinPerSecond: -0.5}, "MinPerSecond"},
		{retry.RatioBudgetConfig{MinPerSecond: -1.5}, "MinPerSecond"},
		{retry.RatioBudgetConfig{MinPerSecond: 2e9}, "MinPerSecond"},
		{retry.RatioBudgetConfig{MinPerSecond: math.Inf(1)}, "MinPerSecond"},
		{retry.RatioBudgetConfig{MinPerSecond: math.NaN()}, "MinPerSecond"},
		{retry.RatioBudgetConfig{Window: -time.Second}, "Window"},
		{retry.RatioBudgetConfig{Window: 3}, "Window"},
	} {
		rejects(t, retry.NewRatioBudget, tt.cfg, "RatioBudgetConfig."+tt.field)
	}
	for _, cfg := range []retry.RatioBudgetConfig{
		{}, {Ratio: 1, MinPerSecond: 1e9, Window: 10},
		{Ratio: retry.None}, {MinPerSecond: retry.None}, {Ratio: retry.None, MinPerSecond: retry.None},
	} {
		accepts(t, retry.NewRatioBudget, cfg)
	}
}
