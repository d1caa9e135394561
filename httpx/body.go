package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// replay hands each attempt of one request its own, complete body.
type replay struct {
	req *http.Request
	// getBody makes a fresh body; nil when the body is empty or cannot be
	// replayed.
	getBody func() (io.ReadCloser, error)
	// own is set when getBody is httpx's, over a snapshot in memory: its
	// bodies are independent, so attempts may run at once. The caller's
	// GetBody may hand out bodies that share one reader (a file it seeks),
	// so its bodies are sent one attempt at a time, each behind a gate.
	own bool
	// reason says why the body cannot be replayed; empty if it can.
	reason string
	// once is the body to send when it cannot be replayed.
	once io.ReadCloser
	// length is the length of a snapshot, -1 otherwise.
	length int64
	// shared hands out the caller's GetBody bodies; nil when own.
	shared *sharedBodies
	// onceGate is the gate of the body sent once, when it was sent.
	onceGate *gate
	// taken is set when req.Body has been handed to an attempt, which then
	// owns it (the base transport closes it), or closed.
	taken atomic.Bool
}

// sharedBodies hands out the bodies of the caller's GetBody, whose bodies
// may share one reader, one attempt at a time (see replay.body). It is
// apart from replay so that the GetBody it gives the base transport does
// not move the whole call to the heap.
type sharedBodies struct {
	req     *http.Request
	getBody func() (io.ReadCloser, error)
	mu      sync.Mutex
	first   bool  // req.Body has been handed out
	prev    *gate // the latest body handed out
}

// init prepares the body of req for as many attempts as needed:
//   - nil and http.NoBody need nothing (NoBody with a ContentLength above
//     zero is an error: it has no bytes);
//   - the caller's GetBody is used as it is, unless attempts are to run at
//     once (concurrent) and the declared length is within limit: then the
//     body is read into memory, as below, so that each copy has its own;
//   - without GetBody, a body longer than limit (by its ContentLength), or
//     marked as a stream by a ContentLength of -1, is sent once, unread;
//   - any other body is read into memory, up to limit bytes, before the
//     first attempt. The read ends with the request's context: a body
//     that does not come is closed and the context's error returned. A
//     body shorter or longer than a declared ContentLength is an error, as
//     net/http makes it. One of unknown length that turns out longer than
//     limit is sent once, whole, as what was read followed by the rest.
func (r *replay) init(req *http.Request, limit int64, concurrent bool) error {
	r.req = req
	r.length = -1
	switch {
	case req.Body == http.NoBody && req.ContentLength > 0:
		return lengthError(req.ContentLength, 0) // NoBody has no bytes
	case req.Body == nil || req.Body == http.NoBody:
		return nil
	case req.GetBody != nil && !(concurrent && req.ContentLength > 0 && req.ContentLength <= limit):
		r.getBody = req.GetBody
		r.shared = &sharedBodies{req: req, getBody: req.GetBody}
		r.taken.Store(true) // shared owns req.Body from now on
		return nil
	case req.GetBody == nil && req.ContentLength > limit:
		r.reason = fmt.Sprintf("body over MaxReplayBytes (%d bytes)", limit)
		r.once = req.Body
		return nil
	case req.GetBody == nil && req.ContentLength < 0:
		r.reason = "body is a stream (ContentLength -1)"
		r.once = req.Body
		return nil
	}
	stop := context.AfterFunc(req.Context(), func() { req.Body.Close() })
	buf, err := readBody(req.Body, req.ContentLength, limit)
	if !stop() {
		err = contextError(req.Context())
	}
	if err == nil && req.ContentLength > 0 && int64(len(buf)) != req.ContentLength {
		err = lengthError(req.ContentLength, int64(len(buf)))
	}
	if err != nil {
		req.Body.Close()
		r.taken.Store(true)
		return fmt.Errorf("httpx: reading the request body to replay it: %w", err)
	}
	if int64(len(buf)) > limit {
		r.reason = fmt.Sprintf("body over MaxReplayBytes (%d bytes)", limit)
		r.once = &onceBody{Reader: io.MultiReader(bytes.NewReader(buf), req.Body), closer: req.Body}
		return nil
	}
	req.Body.Close()
	r.taken.Store(true)
	r.length = int64(len(buf))
	r.own = true
	r.getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return nil
}

// readBody reads a body of the declared length (0 for unknown), one byte
// more to see one that is longer, or up to limit+1 bytes when unknown.
func readBody(body io.Reader, declared, limit int64) ([]byte, error) {
	if declared <= 0 {
		return io.ReadAll(io.LimitReader(body, limit+1))
	}
	buf := make([]byte, declared+1)
	n, err := io.ReadFull(body, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return buf[:n], err
}

// lengthError reports a body whose length is not the one declared, in
// net/http's words.
func lengthError(declared, got int64) error {
	if got > declared {
		return fmt.Errorf("%w: http: ContentLength=%d with a longer Body", ErrInvalid, declared)
	}
	return fmt.Errorf("%w: http: ContentLength=%d with Body length %d", ErrInvalid, declared, got)
}

// contextError is ctx's error, with the cause given to cancel when that
// says more: errors.Is matches both.
func contextError(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// replayable reports whether the body can be sent more than once.
func (r *replay) replayable() bool { return r.reason == "" }

// independent reports whether attempts may send the body at once.
func (r *replay) independent() bool { return r.getBody == nil || r.own }

// body returns the body for the next attempt and the GetBody to put on its
// request. The caller's own body goes to the first attempt that can use
// it; a later one gets a fresh copy. A body from the caller's GetBody (or
// req.Body, when the caller has one) goes out behind a gate: before the
// next one is asked for, the gate waits for a Read of the previous one
// that is still running (an HTTP/2 transport may close a body while its
// writer is inside Read) and fails every later one, so that a shared
// reader is rewound only when no earlier attempt can touch it again.
func (r *replay) body(ctx context.Context) (io.ReadCloser, func() (io.ReadCloser, error), error) {
	if r.once != nil {
		if r.taken.Swap(true) {
			return nil, nil, errNotReplayable
		}
		r.onceGate = newGate(r.once, r.req.ContentLength)
		return r.onceGate, nil, nil
	}
	switch {
	case r.getBody == nil:
		return r.req.Body, nil, nil // nil or http.NoBody
	case r.own:
		b, _ := r.getBody()
		return b, r.getBody, nil
	}
	s := r.shared
	b, err := s.next(ctx)
	if err != nil {
		return nil, nil, err
	}
	// The base transport may rewind the body itself (net/http does, once,
	// on a connection that died): it gets the same gated rewind.
	return b, func() (io.ReadCloser, error) { return s.next(ctx) }, nil
}

// next retires the previous gated body and returns a fresh one: req.Body
// first, then GetBody's.
func (s *sharedBodies) next(ctx context.Context) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b io.ReadCloser
	if !s.first {
		s.first = true
		b = s.req.Body
	} else {
		if s.prev != nil {
			if err := s.prev.retire(ctx); err != nil {
				return nil, err
			}
		}
		var err error
		if b, err = s.getBody(); err != nil {
			return nil, fmt.Errorf("httpx: GetBody: %w", err)
		}
		if b == nil {
			return nil, errors.New("httpx: GetBody returned a nil body")
		}
	}
	s.prev = newGate(b, s.req.ContentLength)
	return s.prev, nil
}

// release closes req.Body if no attempt took it.
func (s *sharedBodies) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.first {
		s.first = true
		s.req.Body.Close()
	}
}

// gate is a request body of the caller's (from GetBody, or one sent once).
// Reads go through it one at a time; retire waits for the one running, if
// any, and makes all later ones fail, so that the reader behind it may be
// rewound. It also holds the body to its declared length: net/http's
// HTTP/2 transport sends a body that ends early as if it were whole.
type gate struct {
	body      io.ReadCloser
	declared  int64         // ContentLength, if positive
	sem       chan struct{} // holds a token during a Read and during retire
	retired   bool          // written and read only while holding sem
	read      int64         // likewise
	pending   error         // likewise: an error met while looking past the declared length
	closeOnce sync.Once
	closeErr  error
}

func newGate(body io.ReadCloser, declared int64) *gate {
	return &gate{body: body, declared: declared, sem: make(chan struct{}, 1)}
}

func (g *gate) Read(p []byte) (int, error) {
	g.sem <- struct{}{}
	defer func() { <-g.sem }()
	if g.retired {
		return 0, errRetired
	}
	if g.pending != nil {
		return 0, g.pending
	}
	n, err := g.body.Read(p)
	g.read += int64(n)
	if g.declared <= 0 {
		return n, err
	}
	switch {
	case g.read > g.declared:
		// Longer than declared: no byte of this Read goes out, so the
		// server never sees a body that looks complete.
		return 0, lengthError(g.declared, g.read)
	case g.read == g.declared && err == nil:
		// Look for a byte past the declared length, and keep what ends
		// the body for the next Read: an EOF that a Reader returns once
		// must not be lost.
		more, end := g.peek()
		if more {
			return 0, lengthError(g.declared, g.read+1)
		}
		g.pending = end
	case err == io.EOF && g.read < g.declared:
		err = lengthError(g.declared, g.read)
	}
	return n, err
}

// peek reads past the declared length: it reports whether there is more,
// and otherwise the error that ended the body (nil if the Reader kept
// returning 0, nil).
func (g *gate) peek() (more bool, end error) {
	var one [1]byte
	for range 100 { // a Reader may return 0, nil now and then
		n, err := g.body.Read(one[:])
		if n > 0 {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// Close closes the body, once. It does not wait for a Read in progress:
// HTTP/2 closes bodies from another goroutine than the one reading.
func (g *gate) Close() error {
	g.closeOnce.Do(func() { g.closeErr = g.body.Close() })
	return g.closeErr
}

// retire waits for a Read in progress, for at most bodyRetireWait, and
// fails every later Read. A Read that does not end in time (a GetBody
// over a pipe whose writer stalls) leaves the reader in use: the retry is
// refused rather than send a body that another Read is taking from.
func (g *gate) retire(ctx context.Context) error {
	t := time.NewTimer(bodyRetireWait)
	defer t.Stop()
	select {
	case g.sem <- struct{}{}:
	case <-t.C:
		return errBodyBusy
	case <-ctx.Done():
		return contextError(ctx)
	}
	g.retired = true
	<-g.sem
	return nil
}

// bodyRetireWait bounds the wait for an earlier attempt's Read of a
// request body to end.
const bodyRetireWait = 5 * time.Second

var (
	errRetired  = errors.New("httpx: request body read after its attempt ended")
	errBodyBusy = errors.New("httpx: an earlier attempt is still reading the request body; not rewinding it")
)

// seal ends this call's use of the caller's reader: no Read of any of its
// attempts touches it once the call has failed, or once the caller has
// closed the response returned. The caller may then rewind the reader for
// another call (net/http's contract asks a caller to wait for the request
// body's Close; an attempt's writer may go on reading after its response,
// and a caller that seeks a shared file for the next upload too early
// would send it short). It waits for a Read in progress, as retire does.
func (r *replay) seal(resp *http.Response) *http.Response {
	var g *gate
	switch {
	case r.shared != nil:
		r.shared.mu.Lock()
		g = r.shared.prev
		r.shared.mu.Unlock()
	case r.onceGate != nil:
		g = r.onceGate
	}
	switch {
	case g == nil:
	case resp == nil:
		g.retire(context.Background())
	default:
		resp.Body = wrapBody(resp.Body, func() { g.retire(context.Background()) })
	}
	return resp
}

// release closes the caller's body if no attempt took it, as the
// RoundTripper contract requires.
func (r *replay) release() {
	if r.shared != nil {
		r.shared.release()
	} else if b := r.req.Body; b != nil && !r.taken.Swap(true) {
		b.Close()
	}
}

var errNotReplayable = errors.New("httpx: request body cannot be sent twice")

// onceBody is a body read in part, then sent whole: the part read and the
// rest, closed through the caller's body.
type onceBody struct {
	io.Reader
	closer    io.Closer
	closeOnce sync.Once
	err       error
}

func (b *onceBody) Close() error {
	b.closeOnce.Do(func() { b.err = b.closer.Close() })
	return b.err
}

// NotReplayableError is the error of a request that failed in a way that
// would have been retried, but whose body could not be sent again (see
// Config.MaxReplayBytes). Err is the attempt's error; the message says why
// the body could not be kept (for people: match the type, not the text).
type NotReplayableError struct {
	Err    error
	reason string
}

// Error says why the body could not be sent again, and the attempt's error.
func (e *NotReplayableError) Error() string {
	return "httpx: not retried, " + e.reason + ": " + e.Err.Error()
}

// Unwrap returns the attempt's error.
func (e *NotReplayableError) Unwrap() error { return e.Err }
