package retry_test

import (
	"testing"

	"github.com/retrykit/retry"
)

// cellMulti is an error value of a type that == cannot compare (it holds a
// slice), as errors.Is takes care to allow.
type cellMulti struct{ errs []error }

func (m cellMulti) Error() string { return "multi" }

// Error.Error documents a hand-built Error; comparing Last with Reason
// must not panic for error values that are not comparable.
func TestErrorMessageNonComparable(t *testing.T) {
	e := cellMulti{errs: []error{errTransient}}
	re := &retry.Error{Attempts: 1, Reason: e, Last: e}
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("(*Error).Error panicked: %v", r)
		}
	}()
	_ = re.Error()
}
