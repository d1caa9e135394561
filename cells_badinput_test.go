package retry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/retrykit/retry"
)

// Policy.Backoff: "a nil BackoffFunc, or a nil pointer to one of this
// package's strategies, is invalid"; Retry: bad input is an error wrapping
// ErrInvalid, never a panic.
func TestNilPointerToBackoffFunc(t *testing.T) {
	var nilFunc retry.BackoffFunc
	for name, b := range map[string]retry.Backoff{
		"(*BackoffFunc)(nil)":        (*retry.BackoffFunc)(nil),
		"pointer to nil BackoffFunc": &nilFunc,
	} {
		t.Run(name, func(t *testing.T) {
			p := &retry.Policy{MaxAttempts: 2, Backoff: b}
			if err := p.Validate(); !errors.Is(err, retry.ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid", err)
			}
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("Retry panicked: %v", r)
					}
				}()
				err = retry.Do(context.Background(), p, func(context.Context) error { return errTransient })
			}()
			if !errors.Is(err, retry.ErrInvalid) {
				t.Errorf("Do = %v, want an error wrapping ErrInvalid", err)
			}
		})
	}
}
