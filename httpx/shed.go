package httpx

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/retrykit/retry"
)

// ShedConfig sets up Shed.
type ShedConfig struct {
	// Admitter lets requests through to the handler: a *retry.Limiter (a
	// limit found from the handler's latency and errors) or a
	// *retry.Bulkhead (a fixed limit). Required.
	Admitter retry.Admitter
}

// Validate reports a missing Admitter, or a nil one, wrapped around
// ErrInvalid.
func (c ShedConfig) Validate() error {
	if c.Admitter == nil {
		return invalid("ShedConfig.Admitter is nil")
	}
	switch a := c.Admitter.(type) {
	case *retry.Limiter:
		if a == nil {
			return invalid("ShedConfig.Admitter is a nil *retry.Limiter")
		}
	case *retry.Bulkhead:
		if a == nil {
			return invalid("ShedConfig.Admitter is a nil *retry.Bulkhead")
		}
	}
	return nil
}

// Shed returns middleware that sheds load: it lets a request through to
// next only once cfg.Admitter takes a slot for it, and answers a refused
// request with 503 Service Unavailable and a Retry-After of the refusal's
// suggested wait (in whole seconds, at least 1), which clients of this
// package honour: the server pushes back and the clients wait. A request
// whose client goes away while it waits for a slot is answered 503
// without Retry-After, and next never sees it.
//
// With a *retry.Limiter, each request that next served is a sample of the
// server's health: its time in next, and how it ended. An answer of 429
// or 503 (next shedding load itself, or passing on pushback) and 504, or a
// request context past its deadline, count as drops (see
// retry.LimiterConfig.Drop); other 5xx answers are failures timed as any
// other call; a request whose client went away, or whose handler panicked
// (http.ErrAbortHandler included), or that hijacked the connection, is no
// sample. The time includes writing the response, so a handler that
// streams a long body teaches the limiter that it is slow: protect such
// handlers with a Bulkhead.
//
// The handler is safe for concurrent use. A bad cfg returns an error
// wrapping ErrInvalid.
func Shed(cfg ShedConfig, next http.Handler) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if next == nil {
		return nil, invalid("nil next handler")
	}
	return &shedHandler{a: cfg.Admitter, next: next}, nil
}

type shedHandler struct {
	a    retry.Admitter
	next http.Handler
}

func (h *shedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := h.a.Acquire(r.Context())
	if err != nil {
		wait := ""
		if se, ok := errors.AsType[*retry.ShedError](err); ok {
			wait = retryAfterSeconds(se.Wait)
		}
		refuse(w, wait)
		return
	}
	if r.Context().Err() != nil { // the client left as the slot came
		p.Done(context.Canceled)
		refuse(w, "")
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	finished := false
	defer func() {
		if !finished { // next panicked: no sample
			p.Done(context.Canceled)
		}
	}()
	h.next.ServeHTTP(rec, r)
	finished = true
	p.Done(rec.outcome(r.Context()))
}

// refuse answers 503, with Retry-After if wait is not empty.
func refuse(w http.ResponseWriter, wait string) {
	if wait != "" {
		w.Header().Set("Retry-After", wait)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, "load shed: try again later\n")
}

// retryAfterSeconds is d as a Retry-After value: whole seconds, rounded
// up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	secs := int64(d / time.Second)
	if d%time.Second > 0 { // not d+time.Second-1, which overflows
		secs++
	}
	return strconv.FormatInt(max(secs, 1), 10)
}

// handlerStatusError is the outcome of a request that next answered with
// a 5xx or 429.
type handlerStatusError struct{ code int }

func (e *handlerStatusError) Error() string {
	return "httpx: handler answered " + strconv.Itoa(e.code) + " " + http.StatusText(e.code)
}

// statusRecorder notes the status that a handler writes.
type statusRecorder struct {
	http.ResponseWriter
	code     int
	hijacked bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 && code >= 200 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush passes on to the ResponseWriter, for handlers that stream.
func (s *statusRecorder) Flush() {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	http.NewResponseController(s.ResponseWriter).Flush()
}

// Hijack passes on to the ResponseWriter, for handlers that take over the
// connection with a type assertion (websockets); over HTTP/2 it fails, as
// http.ResponseController's does.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	s.hijacked = s.hijacked || err == nil
	return conn, rw, err
}

// Unwrap gives http.ResponseController the ResponseWriter.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// outcome is the error that the request's sample reports (see Shed).
func (s *statusRecorder) outcome(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.hijacked { // its time is the connection's life, not the handler's
		return context.Canceled
	}
	switch code := s.code; {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return retry.After(&handlerStatusError{code}, 0)
	case code == http.StatusGatewayTimeout:
		return fmt.Errorf("%w: %w", &handlerStatusError{code}, context.DeadlineExceeded)
	case code >= 500:
		return &handlerStatusError{code}
	}
	return nil
}

var (
	_ http.Flusher  = (*statusRecorder)(nil)
	_ http.Hijacker = (*statusRecorder)(nil)
)
