package retry

// Must returns v, and panics with the error of v.Validate() if there is
// one, as regexp.MustCompile does with a bad pattern. It is for settings
// fixed in the source, such as package-level policies, so that a bad one
// stops the program at start-up, or fails its first test, instead of its
// first call:
//
//	var fetchPolicy = retry.Must(&retry.Policy{MaxAttempts: 5, MaxElapsed: 10 * time.Second})
//
// It takes *Policy, *HedgePolicy, and any config with a Validate method.
// Settings that come from outside the program (flags, a file) are better
// checked with Validate, so that the error can be reported.
func Must[T interface{ Validate() error }](v T) T {
	if err := v.Validate(); err != nil {
		panic(err)
	}
	return v
}
