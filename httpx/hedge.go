package httpx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/retrykit/retry"
)

// hedged is the attempt of the retry loop when the request is hedged: one
// round of retry.HedgeWithRelease, whose winner's context lives until the
// caller closes its body.
func (c *call) hedged(ctx context.Context) (*http.Response, error) {
	resp, release, err := retry.HedgeWithRelease(ctx, c.hedgeAttempt, &c.hedge)
	if err != nil {
		return nil, err
	}
	resp.Body = wrapBody(resp.Body, release)
	return resp, nil
}

// hedgeAttempt is one attempt of a hedged round. A response with a
// retryable status is read into memory and its connection released at
// once: Hedge drops the values of failed attempts, and one of them may be
// the response returned in the end, after its attempt's context is gone.
func (c *call) hedgeAttempt(ctx context.Context) (*http.Response, error) {
	resp, err := c.attempt(ctx)
	if se, ok := errors.AsType[*statusError](err); ok {
		buffer(se.resp, c.t.cfg.MaxDrainBytes, c.t.cfg.DrainTimeout)
	}
	return resp, err
}

// pushedBack reports whether err is a status by which the server asks for
// less load or more time (429, 503, or 409 for a request with a key): it
// ends a hedged round, so that the retry loop waits instead of sending
// another copy at once.
func pushedBack(err error) bool {
	if _, ok := errors.AsType[*retry.RejectedError](err); ok {
		return true // a circuit breaker refused: no use sending copies
	}
	se, ok := errors.AsType[*statusError](err)
	if !ok {
		return false
	}
	switch se.resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusConflict:
		return true
	}
	return false
}

// buffer replaces the body of resp with a copy in memory of up to limit
// bytes, read within timeout, and closes the original. A longer body ends
// with errBodyCut after limit bytes rather than look complete.
func buffer(resp *http.Response, limit int64, timeout time.Duration) {
	var buf bytes.Buffer
	t := time.AfterFunc(timeout, func() { resp.Body.Close() })
	_, err := io.CopyN(&buf, resp.Body, limit)
	if err == nil { // limit reached: is there more?
		var one [1]byte
		if n, _ := resp.Body.Read(one[:]); n == 0 {
			err = io.EOF
		}
	}
	t.Stop()
	resp.Body.Close()
	var tail io.Reader = eofReader{}
	if err != io.EOF {
		tail = errReader{errBodyCut}
	}
	resp.Body = io.NopCloser(io.MultiReader(&buf, tail))
}

var errBodyCut = errors.New("httpx: body of a hedged response cut at MaxDrainBytes")

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// lastStatusError returns the last *statusError in err's tree: the latest
// failed attempt's, since hedged rounds join their errors in order.
func lastStatusError(err error) *statusError {
	var last *statusError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *statusError:
			last = e
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return last
}

// roundGate is the budget of the retry loop of a hedged call: it asks the
// call's budget before each new round, and leaves counting first attempts
// and outcomes to the rounds, which see each attempt.
type roundGate struct{ b retry.Budget }

func (roundGate) First()        {}
func (g roundGate) Extra() bool { return g.b.Extra() }
func (roundGate) Result(bool)   {}

// callBudget is the budget of the hedged rounds of one call: only the
// first round's first attempt is a first attempt; the retry loop has
// already asked Extra for the first attempt of each later round.
type callBudget struct {
	retry.Budget
	first atomic.Bool
}

func (b *callBudget) First() {
	if !b.first.Swap(true) {
		b.Budget.First()
	}
}
