package retry

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// claimsAfter is an error whose As method says it is a server's pushback
// without wrapping one: only errors.As sees it.
type claimsAfter struct{ delay time.Duration }

func (claimsAfter) Error() string { return "claims after" }
func (c claimsAfter) As(target any) bool {
	if t, ok := target.(**afterError); ok {
		*t = &afterError{errors.New("claimed"), c.delay}
		return true
	}
	return false
}

// marksOf reads an error's marks in one walk where it can; it must find
// what errors.As finds (readMarks) in every kind of tree.
func TestMarksOfAgreesWithErrorsAs(t *testing.T) {
	base := errors.New("base")
	rej := rejectOpen(time.Unix(10, 0), time.Unix(0, 0))
	stale := rejectProbes()
	first, second := After(base, time.Second), After(base, 2*time.Second)
	for name, err := range map[string]error{
		"plain":                       base,
		"wrapped":                     fmt.Errorf("get: %w", base),
		"permanent":                   Permanent(base),
		"permanent, wrapped":          fmt.Errorf("get: %w", Permanent(base)),
		"after":                       first,
		"after in permanent":          Permanent(first),
		"first after wins":            errors.Join(fmt.Errorf("x: %w", first), second),
		"after in a joined tree":      errors.Join(base, fmt.Errorf("%w and %w", base, second)),
		"rejection":                   fmt.Errorf("guard: %w", rej),
		"rejection behind a join":     errors.Join(base, rej),
		"stop hedging":                StopHedging(Permanent(base)),
		"attempt timeout":             &attemptTimeoutError{err: first, limit: time.Second},
		"hedge's joined errors":       &attemptErrors{[]error{base, Permanent(base), rej}},
		"nested call, stale in Last":  &Error{Attempts: 2, Reason: ErrExhausted, Last: &attemptErrors{[]error{stale, base}}},
		"nested call, its rejection":  fmt.Errorf("round: %w", &Error{Attempts: 1, Reason: rej, Last: rej}),
		"an As method":                claimsAfter{time.Minute},
		"an As method, deep":          errors.Join(base, fmt.Errorf("w: %w", claimsAfter{time.Minute})),
		"an As method after the mark": errors.Join(second, claimsAfter{time.Minute}),
	} {
		t.Run(name, func(t *testing.T) {
			got, want := marksOf(err), readMarks(err)
			if got.permanent != want.permanent || got.rejection != want.rejection || (got.after == nil) != (want.after == nil) ||
				got.after != nil && got.after.delay != want.after.delay {
				t.Errorf("marksOf = %+v, errors.As finds %+v", got, want)
			}
		})
	}
}
