package retry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/retrykit/retry"
)

// Nil values behind non-nil interfaces and func types are bad input:
// Validate reports them and calls return the error, before calling fn,
// instead of panicking.
// A nil BackoffFunc used to panic at the first wait, and a nil
// *TokenBucket or *RatioBudget at the first budget call, while Validate
// accepted all three.
func TestNilBehindInterfaceIsInvalid(t *testing.T) {
	policies := map[string]*retry.Policy{
		"nil BackoffFunc":         {Backoff: retry.BackoffFunc(nil)},
		"nil *Exponential":        {Backoff: (*retry.Exponential)(nil)},
		"nil *Constant":           {Backoff: (*retry.Constant)(nil)},
		"nil *Linear":             {Backoff: (*retry.Linear)(nil)},
		"nil *DecorrelatedJitter": {Backoff: (*retry.DecorrelatedJitter)(nil)},
		"nil *TokenBucket":        {Budget: (*retry.TokenBucket)(nil)},
		"nil *RatioBudget":        {Budget: (*retry.RatioBudget)(nil)},
	}
	for name, p := range policies {
		t.Run(name, func(t *testing.T) {
			if err := p.Validate(); !errors.Is(err, retry.ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid", err)
			}
			calls := 0
			fail := func(context.Context) (int, error) { calls++; return 0, errBoom }
			_, err := retry.Retry(context.Background(), p, fail)
			if !errors.Is(err, retry.ErrInvalid) {
				t.Errorf("Retry = %v, want ErrInvalid", err)
			}
			// Checked before the first attempt, like the other settings.
			if _, ok := errors.AsType[*retry.Error](err); ok || calls != 0 {
				t.Errorf("Retry = %v after %d calls; want a plain ErrInvalid before any", err, calls)
			}
			if err := retry.Do(context.Background(), p, func(context.Context) error { calls++; return nil }); !errors.Is(err, retry.ErrInvalid) || calls != 0 {
				t.Errorf("Do = %v after %d calls; want ErrInvalid before any", err, calls)
			}
		})
	}
	for name, b := range map[string]retry.Budget{
		"nil *TokenBucket": (*retry.TokenBucket)(nil),
		"nil *RatioBudget": (*retry.RatioBudget)(nil),
	} {
		t.Run("hedge "+name, func(t *testing.T) {
			h := &retry.HedgePolicy{Budget: b}
			if err := h.Validate(); !errors.Is(err, retry.ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid", err)
			}
			calls := 0
			_, err := retry.Hedge(context.Background(), h, func(context.Context) (int, error) { calls++; return 1, nil })
			if !errors.Is(err, retry.ErrInvalid) || calls != 0 {
				t.Errorf("Hedge = %v after %d calls; want ErrInvalid before any", err, calls)
			}
		})
	}
}
