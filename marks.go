package retry

import "errors"

// marks is what the marks of this package (Permanent, After, a breaker's
// rejection) say about a failed attempt's error.
type marks struct {
	permanent bool
	unsent    bool          // a *ShedError: refused before anything was sent
	after     *afterError   // the first in errors.As order
	rejection *BreakerError // see rejection
}

// none reports that the error has none of the marks.
func (m marks) none() bool {
	return !m.permanent && !m.unsent && m.after == nil && m.rejection == nil
}

// marksOf returns the marks of err, as readMarks does, cheaply: nothing to
// read in an error that is not of this package and wraps nothing (the
// common case, told by one type switch, inlined), one walk of the tree of
// one that does.
func marksOf(err error) marks {
	switch err.(type) {
	case marker, interface{ As(any) bool }, interface{ Unwrap() error }, interface{ Unwrap() []error }:
		return walkMarks(err)
	}
	return marks{}
}

func walkMarks(err error) marks {
	var w markWalk
	if !w.walk(err) || w.nested != nil {
		return readMarks(err)
	}
	return w.marks
}

// readMarks reads the marks of err with errors.As: what marksOf finds,
// which uses it for a tree that holds an error with an As method (it
// could claim to be any mark) or a nested call's *Error (whose rejection
// is its Reason's alone; see rejection).
func readMarks(err error) marks {
	var m marks
	_, m.permanent = errors.AsType[*permanentError](err)
	m.unsent = isShed(err)
	m.after, _ = errors.AsType[*afterError](err)
	m.rejection, _ = rejection(err)
	return m
}

// markWalk reads the marks of an error in one walk of its tree.
type markWalk struct {
	found // nested, the first *Error, if set, says that the marks read are wrong
}

// walk visits err's tree in errors.As order. It returns false if an error
// in it has an As method.
func (w *markWalk) walk(err error) bool {
	for err != nil {
		// One type switch on interfaces: one lookup in its cache per error.
		switch e := err.(type) {
		case marker:
			var m found
			err, m = e.mark()
			w.add(m)
		case interface{ As(any) bool }:
			return false
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				if !w.walk(err) {
					return false
				}
			}
			return true
		default:
			return true
		}
	}
	return true
}

// add records m, keeping the first of each kind, as errors.As finds it.
func (w *markWalk) add(m found) {
	w.permanent = w.permanent || m.permanent
	w.unsent = w.unsent || m.unsent
	if w.after == nil {
		w.after = m.after
	}
	if w.rejection == nil {
		w.rejection = m.rejection
	}
	if w.nested == nil {
		w.nested = m.nested
	}
}

// marker is an error of this package that readMarks looks for.
type marker interface {
	// mark returns what the error is and the error it wraps, or nil for a
	// nested call's *Error, which ends the walk: readMarks reads a tree
	// that holds one.
	mark() (error, found)
}

// found is what one error is to markWalk.
type found struct {
	marks
	nested *Error
}

func (e *permanentError) mark() (error, found) { return e.err, found{marks: marks{permanent: true}} }
func (e *afterError) mark() (error, found)     { return e.err, found{marks: marks{after: e}} }
func (e *BreakerError) mark() (error, found) {
	if e == nil { // a typed nil returned by fn: an error like any other
		return nil, found{}
	}
	return e.Reason, found{marks: marks{rejection: e}}
}
func (e *Error) mark() (error, found)       { return nil, found{nested: e} }
func (e *unsentError) mark() (error, found) { return e.err, found{marks: marks{unsent: true}} }
func (e *ShedError) mark() (error, found) {
	if e == nil { // a typed nil returned by fn: an error like any other
		return nil, found{}
	}
	return e.Reason, found{marks: marks{unsent: true}}
}

// rejection returns the breaker's rejection that ended an attempt. For a
// nested call's *Error (a hedged round, say), that is its Reason alone: a
// refused copy joined in its Last may be stale.
func rejection(err error) (*BreakerError, bool) {
	if e, ok := errors.AsType[*Error](err); ok {
		return errors.AsType[*BreakerError](e.Reason)
	}
	return errors.AsType[*BreakerError](err)
}
