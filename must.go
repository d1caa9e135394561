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
	if err := validate(v); err != nil {
		panic(err)
	}
	return v
}

// validate is v.Validate(), or an error wrapping ErrInvalid if v is a nil
// interface or a nil pointer whose Validate cannot take one.
func validate[T interface{ Validate() error }](v T) (err error) {
	if any(v) == nil {
		return invalid("Must(nil)")
	}
	if nilValue(v) {
		defer func() {
			if recover() != nil { // its Validate cannot take a nil receiver
				err = invalid("Must: %T is nil", v)
			}
		}()
	}
	return v.Validate()
}
