package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// Every exported constructor, config and entry point, given nil, a typed
// nil, a negative, NaN, an infinity or a huge value where its docs say it
// is out of range: an error that wraps ErrInvalid, never a panic.

var (
	nan  = math.NaN()
	inf  = math.Inf(1)
	huge = time.Duration(math.MaxInt64)
)

// mustRejectNoPanic runs check and fails t if it panics or returns an
// error that does not wrap ErrInvalid.
func mustRejectNoPanic(t *testing.T, name string, check func() error) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("panicked: %v", p)
			}
		}()
		if err := check(); !errors.Is(err, retry.ErrInvalid) {
			t.Fatalf("got %v, want an error wrapping ErrInvalid", err)
		}
	})
}

func TestBadInputEverywhere(t *testing.T) {
	ctx := context.Background()
	ok := func(context.Context) (int, error) { return 1, nil }
	okDo := func(context.Context) error { return nil }

	policies := map[string]retry.Policy{
		"MaxAttempts -2":        {MaxAttempts: -2},
		"MaxAttempts MinInt":    {MaxAttempts: math.MinInt},
		"MaxElapsed -1":         {MaxElapsed: -1},
		"AttemptTimeout -1":     {AttemptTimeout: -1},
		"MaxAfter -1":           {MaxAfter: -1},
		"Split+Unlimited":       {MaxAttempts: retry.Unlimited, SplitDeadline: true},
		"Constant -1":           {Backoff: retry.Constant{Interval: -1}},
		"Constant NaN jitter":   {Backoff: retry.Constant{Interval: time.Second, Jitter: retry.Jitter(nan)}},
		"Constant jitter 0.2":   {Backoff: retry.Constant{Interval: time.Second, Jitter: 0.2}},
		"Constant jitter +Inf":  {Backoff: retry.Constant{Jitter: retry.Jitter(inf)}},
		"Linear Step -1":        {Backoff: retry.Linear{Step: -1}},
		"Linear Step > Max":     {Backoff: retry.Linear{Step: 2 * time.Second, Max: time.Second}},
		"Exponential NaN mult":  {Backoff: retry.Exponential{Multiplier: nan}},
		"Exponential +Inf mult": {Backoff: retry.Exponential{Multiplier: inf}},
		"Exponential mult 0.5":  {Backoff: retry.Exponential{Multiplier: 0.5}},
		"Exponential Max -1":    {Backoff: retry.Exponential{Max: -1}},
		"Decorrelated Base -1":  {Backoff: retry.DecorrelatedJitter{Base: -1}},
		"Decorrelated Base>Max": {Backoff: retry.DecorrelatedJitter{Base: 2 * time.Second, Max: time.Second}},
		"Spread(NaN)":           {Backoff: retry.Constant{Jitter: retry.Spread(nan)}},
		"Spread(2)":             {Backoff: retry.Constant{Jitter: retry.Spread(2)}},
		"Spread(-1)":            {Backoff: retry.Constant{Jitter: retry.Spread(-1)}},
		"nil BackoffFunc":       {Backoff: retry.BackoffFunc(nil)},
		"typed nil Clock":       {Clock: (*stepClock)(nil)},
		"typed nil budget":      {Budget: (*retry.TokenBucket)(nil)},
	}
	for name, p := range policies {
		mustRejectNoPanic(t, "Policy "+name+"/Validate", p.Validate)
		mustRejectNoPanic(t, "Policy "+name+"/Retry", func() error { _, err := retry.Retry(ctx, &p, ok); return err })
		mustRejectNoPanic(t, "Policy "+name+"/Do", func() error { return retry.Do(ctx, &p, okDo) })
		mustRejectNoPanic(t, "Policy "+name+"/Do failing", func() error {
			return retry.Do(ctx, &p, func(context.Context) error { return errTransient })
		})
	}

	hedges := map[string]retry.HedgePolicy{
		"MaxAttempts -1":      {MaxAttempts: -1},
		"MaxAttempts 11":      {MaxAttempts: retry.MaxHedgeAttempts + 1},
		"MaxAttempts MaxInt":  {MaxAttempts: math.MaxInt},
		"Delay -1":            {Delay: -1},
		"MaxAfter -1":         {MaxAfter: -1},
		"Delay and Latency":   {Delay: time.Second, Latency: &retry.LatencyTracker{}},
		"typed nil budget":    {Budget: (*retry.RatioBudget)(nil)},
		"typed nil Clock":     {Clock: (*stepClock)(nil)},
		"typed nil in budget": {Budget: retry.Budget((*retry.TokenBucket)(nil))},
	}
	for name, h := range hedges {
		mustRejectNoPanic(t, "HedgePolicy "+name+"/Validate", h.Validate)
		mustRejectNoPanic(t, "HedgePolicy "+name+"/Hedge", func() error { _, err := retry.Hedge(ctx, &h, ok); return err })
		mustRejectNoPanic(t, "HedgePolicy "+name+"/HedgeWithRelease", func() error {
			_, release, err := retry.HedgeWithRelease(ctx, &h, ok)
			if release != nil {
				release()
			}
			return err
		})
	}

	breakers := map[string]retry.BreakerConfig{
		"ConsecutiveFailures -1":   {ConsecutiveFailures: -1},
		"FailureRatio NaN":         {FailureRatio: nan},
		"FailureRatio 1.5":         {FailureRatio: 1.5},
		"FailureRatio -0.1":        {FailureRatio: -0.1},
		"FailureRatio +Inf":        {FailureRatio: inf},
		"SlowCallThreshold -1":     {SlowCallThreshold: -1},
		"SlowCallRatio NaN":        {SlowCallThreshold: time.Second, SlowCallRatio: nan},
		"SlowCallRatio 2":          {SlowCallThreshold: time.Second, SlowCallRatio: 2},
		"MaxAverageDuration -1":    {MaxAverageDuration: -1},
		"MinCalls -1":              {FailureRatio: 0.5, MinCalls: -1},
		"Window -1":                {FailureRatio: 0.5, Window: -1},
		"BucketPeriod not divisor": {FailureRatio: 0.5, Window: time.Second, BucketPeriod: 300 * time.Millisecond},
		"BucketPeriod > Window":    {FailureRatio: 0.5, Window: time.Second, BucketPeriod: 2 * time.Second},
		"WindowCalls huge":         {FailureRatio: 0.5, WindowCalls: 1<<20 + 1},
		"WindowCalls and Window":   {FailureRatio: 0.5, WindowCalls: 10, Window: time.Second},
		"Window without rule":      {Window: time.Second},
		"AdaptiveK NaN":            {Adaptive: true, AdaptiveK: nan},
		"AdaptiveK 0.5":            {Adaptive: true, AdaptiveK: 0.5},
		"AdaptiveK without":        {AdaptiveK: 2},
		"OpenDuration -1":          {OpenDuration: -1},
		"MaxOpenDuration < Open":   {OpenDuration: time.Minute, MaxOpenDuration: time.Second},
		"HalfOpenProbes -1":        {HalfOpenProbes: -1},
		"HalfOpenSuccesses -1":     {HalfOpenSuccesses: -1},
		"typed nil Clock":          {Clock: (*stepClock)(nil)},
	}
	for name, c := range breakers {
		mustRejectNoPanic(t, "BreakerConfig "+name+"/Validate", c.Validate)
		mustRejectNoPanic(t, "BreakerConfig "+name+"/NewBreaker", func() error { _, err := retry.NewBreaker(c); return err })
	}

	trackers := map[string]retry.LatencyTrackerConfig{
		"Quantile NaN":        {Quantile: nan},
		"Quantile 1":          {Quantile: 1},
		"Quantile -0.5":       {Quantile: -0.5},
		"Window -1":           {Window: -1},
		"MinSamples -1":       {MinSamples: -1},
		"MinSamples > Window": {Window: 10, MinSamples: 11},
		"Floor -1":            {Floor: -1},
		"Ceiling < Floor":     {Floor: time.Second, Ceiling: time.Millisecond},
		"Fallback -1":         {Fallback: -1},
	}
	for name, c := range trackers {
		mustRejectNoPanic(t, "LatencyTrackerConfig "+name+"/Validate", c.Validate)
		mustRejectNoPanic(t, "LatencyTrackerConfig "+name+"/New", func() error { _, err := retry.NewLatencyTracker(c); return err })
	}

	buckets := map[string]retry.TokenBucketConfig{
		"MaxTokens NaN":    {MaxTokens: nan},
		"MaxTokens -1":     {MaxTokens: -1},
		"MaxTokens +Inf":   {MaxTokens: inf},
		"MaxTokens 1001":   {MaxTokens: 1001},
		"TokenRatio NaN":   {TokenRatio: nan},
		"TokenRatio 1.5":   {TokenRatio: 1.5},
		"TokenRatio -0.1":  {TokenRatio: -0.1},
		"TokenRatio 1e-9":  {TokenRatio: 1e-9}, // below a thousandth: would round to the default
		"MaxTokens 0.0001": {MaxTokens: 0.0001},
	}
	for name, c := range buckets {
		mustRejectNoPanic(t, "TokenBucketConfig "+name+"/Validate", c.Validate)
		mustRejectNoPanic(t, "TokenBucketConfig "+name+"/New", func() error { _, err := retry.NewTokenBucket(c); return err })
	}

	ratios := map[string]retry.RatioBudgetConfig{
		"Ratio NaN":         {Ratio: nan},
		"Ratio 2":           {Ratio: 2},
		"Ratio -0.5":        {Ratio: -0.5},
		"MinPerSecond NaN":  {MinPerSecond: nan},
		"MinPerSecond +Inf": {MinPerSecond: inf},
		"MinPerSecond 2e9":  {MinPerSecond: 2e9},
		"Window -1":         {Window: -1},
		"Window 1ns":        {Window: 1},
		"typed nil Clock":   {Clock: (*stepClock)(nil)},
	}
	for name, c := range ratios {
		mustRejectNoPanic(t, "RatioBudgetConfig "+name+"/Validate", c.Validate)
		mustRejectNoPanic(t, "RatioBudgetConfig "+name+"/New", func() error { _, err := retry.NewRatioBudget(c); return err })
	}

	// Entry points given nil.
	var nilCtx context.Context
	b := &retry.Breaker{}
	entries := map[string]func() error{
		"Retry nil fn":          func() error { _, err := retry.Retry[int](ctx, nil, nil); return err },
		"Retry nil ctx":         func() error { _, err := retry.Retry(nilCtx, nil, ok); return err },
		"Do nil fn":             func() error { return retry.Do(ctx, nil, nil) },
		"Do nil ctx":            func() error { return retry.Do(nilCtx, nil, okDo) },
		"Hedge nil fn":          func() error { _, err := retry.Hedge[int](ctx, nil, nil); return err },
		"Hedge nil ctx":         func() error { _, err := retry.Hedge(nilCtx, nil, ok); return err },
		"HedgeWithRelease nil":  func() error { _, _, err := retry.HedgeWithRelease[int](ctx, nil, nil); return err },
		"Guard nil fn":          func() error { _, err := retry.Guard[int](ctx, b, nil); return err },
		"Guard nil ctx":         func() error { _, err := retry.Guard(nilCtx, b, ok); return err },
		"GuardFallback nil fn":  func() error { _, _, err := retry.GuardFallback[int](ctx, b, nil, nil); return err },
		"GuardFallback nil ctx": func() error { _, _, err := retry.GuardFallback(nilCtx, b, ok, nil); return err },
		"Must typed nil": func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err, _ = p.(error) // Must panics by design, with ErrInvalid
					if err == nil {
						err = fmt.Errorf("Must panicked with %v", p)
					}
				}
			}()
			// A nil *Policy and *HedgePolicy are valid: the zero policy.
			retry.Must((*retry.Policy)(nil))
			retry.Must((*retry.HedgePolicy)(nil))
			var bad *badValidator
			retry.Must(bad)
			return nil
		},
	}
	for name, check := range entries {
		mustRejectNoPanic(t, name, check)
	}
}

// badValidator is a config whose Validate cannot take a nil receiver.
type badValidator struct{ limit int }

func (b *badValidator) Validate() error {
	if b.limit < 0 {
		return errors.New("negative")
	}
	return nil
}

// Steering a nil *Breaker is bad input, not a panic.
func TestSteerNilBreaker(t *testing.T) {
	var b *retry.Breaker
	mustRejectNoPanic(t, "ForceOpen", func() error { return b.ForceOpen(time.Second) })
	mustRejectNoPanic(t, "ForceClosed", b.ForceClosed)
	mustRejectNoPanic(t, "Reset", b.Reset)
}
