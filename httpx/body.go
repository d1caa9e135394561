package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
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
	// reason says why the body cannot be replayed; empty if it can.
	reason string
	// once is the body to send when it cannot be replayed.
	once io.ReadCloser
	// length is the length of a body replayed from memory, -1 otherwise.
	length int64
	// shared is set when getBody is the caller's own: its bodies may share
	// one reader (a seeker over a file), so before a retry gets a new one
	// it waits for the previous attempt's to be closed.
	shared bool
	prev   *closeSignal // the previous attempt's body, when shared
	// taken is set when req.Body has been handed to an attempt, which then
	// owns it (the base transport closes it).
	taken atomic.Bool
}

// init prepares the body of req for as many attempts as needed:
//   - nil and http.NoBody need nothing; a GetBody is used as it is;
//   - a body longer than limit (by its ContentLength), or marked as a
//     stream by a ContentLength of -1, is sent once, unread;
//   - any other body is read into memory, up to limit bytes, before the
//     first attempt. The read ends with the request's context: a body
//     that does not come is closed and the context's error returned. One
//     that turns out longer than limit is sent once, whole, as what was
//     read followed by the rest.
func (r *replay) init(req *http.Request, limit int64) error {
	r.req = req
	r.length = -1
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return nil
	case req.GetBody != nil:
		r.getBody = req.GetBody
		// http.NewRequest's GetBody for an in-memory body makes independent
		// readers; any other may share one.
		r.shared = !inMemory(req.Body)
		return nil
	case req.ContentLength > limit:
		r.reason = fmt.Sprintf("body over MaxReplayBytes (%d bytes)", limit)
		r.once = req.Body
		return nil
	case req.ContentLength < 0:
		r.reason = "body is a stream (ContentLength -1)"
		r.once = req.Body
		return nil
	}
	stop := context.AfterFunc(req.Context(), func() { req.Body.Close() })
	buf, err := readUpTo(req.Body, req.ContentLength, limit+1)
	if !stop() {
		err = context.Cause(req.Context())
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
	r.getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return nil
}

// readUpTo reads at most n bytes of body, in one allocation when its
// length is known.
func readUpTo(body io.Reader, length, n int64) ([]byte, error) {
	if length <= 0 || length >= n {
		return io.ReadAll(io.LimitReader(body, n))
	}
	buf := make([]byte, length+1) // one more, to see a body longer than it said
	got, err := io.ReadFull(body, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return buf[:got], nil
	}
	if err != nil {
		return nil, err
	}
	rest, err := io.ReadAll(io.LimitReader(body, n-int64(got)))
	return append(buf, rest...), err
}

// replayable reports whether the body can be sent more than once.
func (r *replay) replayable() bool { return r.reason == "" }

// body returns the body for the next attempt and the GetBody to put on its
// request. The first caller gets the caller's own body, if that is still
// usable; every later one gets a fresh copy. In sequence (not hedged), a
// fresh copy from the caller's GetBody waits until the previous attempt's
// body is closed (a RoundTripper may still be writing it after RoundTrip
// returns), for at most bodyCloseWait.
func (r *replay) body(ctx context.Context, sequential bool) (io.ReadCloser, func() (io.ReadCloser, error), error) {
	if r.once != nil {
		if r.taken.Swap(true) {
			return nil, nil, errNotReplayable
		}
		return r.once, nil, nil
	}
	if r.getBody == nil {
		return r.req.Body, nil, nil // nil or http.NoBody
	}
	track := r.shared && sequential
	if !r.taken.Swap(true) {
		if track {
			r.prev = newCloseSignal(r.req.Body)
			return r.prev, r.getBody, nil
		}
		return r.req.Body, r.getBody, nil
	}
	if track && r.prev != nil {
		t := time.NewTimer(bodyCloseWait)
		select {
		case <-r.prev.closed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil, context.Cause(ctx)
		}
		t.Stop()
	}
	b, err := r.getBody()
	if err != nil {
		return nil, nil, fmt.Errorf("httpx: GetBody: %w", err)
	}
	if track {
		r.prev = newCloseSignal(b)
		return r.prev, r.getBody, nil
	}
	return b, r.getBody, nil
}

// bodyCloseWait bounds the wait for a RoundTripper to close the previous
// attempt's request body, as it must; one that never does costs this much
// per retry, not a hang.
const bodyCloseWait = 5 * time.Second

// closeSignal is a request body that tells when it has been closed.
type closeSignal struct {
	io.ReadCloser
	once   sync.Once
	closed chan struct{}
}

func newCloseSignal(b io.ReadCloser) *closeSignal {
	return &closeSignal{ReadCloser: b, closed: make(chan struct{})}
}

// WriteTo keeps the fast path of bodies that have one (net/http copies a
// bytes.Reader's content without a buffer).
func (c *closeSignal) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, c.ReadCloser) }

func (c *closeSignal) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(func() { close(c.closed) })
	return err
}

// release closes the caller's body if no attempt took it, as the
// RoundTripper contract requires.
func (r *replay) release() {
	if b := r.req.Body; b != nil && !r.taken.Swap(true) {
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
// Config.MaxReplayBytes). Err is the attempt's error.
type NotReplayableError struct {
	Reason string
	Err    error
}

func (e *NotReplayableError) Error() string {
	return "httpx: not retried, " + e.Reason + ": " + e.Err.Error()
}

func (e *NotReplayableError) Unwrap() error { return e.Err }

// nopClosers are the types of io.NopCloser's results.
var nopClosers = [2]reflect.Type{
	reflect.TypeOf(io.NopCloser(struct{ io.Reader }{})),
	reflect.TypeOf(io.NopCloser(strings.NewReader(""))),
}

// inMemory reports whether body is one of the in-memory readers for which
// http.NewRequest sets GetBody, possibly inside io.NopCloser, as net/http
// itself tells them apart.
func inMemory(body io.Reader) bool {
	switch body.(type) {
	case *bytes.Reader, *bytes.Buffer, *strings.Reader:
		return true
	}
	if t := reflect.TypeOf(body); t == nopClosers[0] || t == nopClosers[1] {
		switch reflect.ValueOf(body).Field(0).Elem().Type() {
		case reflect.TypeOf((*bytes.Reader)(nil)), reflect.TypeOf((*bytes.Buffer)(nil)), reflect.TypeOf((*strings.Reader)(nil)):
			return true
		}
	}
	return false
}
