package httpx_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"github.com/retrykit/retry/internal/stepclock"
)

// script is a test server whose answers are scripted per request: the
// handler for request i (from 0) is steps[min(i, len-1)]. It records each
// request body and counts connections.
type script struct {
	*httptest.Server
	steps  []http.HandlerFunc
	hits   atomic.Int64
	conns  atomic.Int64 // connections opened (ConnState StateNew)
	isLazy atomic.Bool
	mu     sync.Mutex
	bodies []string
	header []http.Header
}

func newScript(t *testing.T, h2 bool, steps ...http.HandlerFunc) *script {
	t.Helper()
	s := &script{steps: steps}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(s.hits.Add(1)) - 1
		if s.isLazy.Load() {
			// The step reads and records the body, or answers first.
			s.steps[min(i, len(s.steps)-1)](w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		s.record(string(b), r.Header)
		s.steps[min(i, len(s.steps)-1)](w, r)
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // expected TLS handshake failures
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if h2 {
		s.EnableHTTP2 = true
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// lazy makes s leave request bodies to its steps: a step may answer
// without reading one, and records (see record) what it reads.
func (s *script) lazy() *script {
	s.isLazy.Store(true)
	return s
}

func (s *script) record(body string, h http.Header) {
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.header = append(s.header, h.Clone())
	s.mu.Unlock()
}

func (s *script) Bodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

func (s *script) Headers() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.header...)
}

// base returns a fresh transport for s (trusting its certificate, with
// HTTP/2 when s speaks it), closed when the test ends.
func (s *script) base(t *testing.T) *http.Transport {
	tr := s.Client().Transport.(*http.Transport).Clone()
	if s.TLS == nil {
		tr.TLSClientConfig = nil
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func withHeader(h http.HandlerFunc, kv ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Add(kv[i], kv[i+1])
		}
		h(w, r)
	}
}

// hangup closes the connection without an answer.
func hangup(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// tracker wraps a RoundTripper and counts the response bodies it hands
// out that are not closed yet.
type tracker struct {
	base http.RoundTripper
	open atomic.Int64
	sent atomic.Int64
}

func (tr *tracker) RoundTrip(r *http.Request) (*http.Response, error) {
	tr.sent.Add(1)
	resp, err := tr.base.RoundTrip(r)
	if err == nil {
		tr.open.Add(1)
		resp.Body = &trackedBody{ReadCloser: resp.Body, tr: tr}
	}
	return resp, err
}

func (tr *tracker) CloseIdleConnections() {
	tr.base.(interface{ CloseIdleConnections() }).CloseIdleConnections()
}

type trackedBody struct {
	io.ReadCloser
	tr     *tracker
	closed atomic.Bool
}

func (b *trackedBody) Close() error {
	if !b.closed.Swap(true) {
		b.tr.open.Add(-1)
	}
	return b.ReadCloser.Close()
}

// fastPolicy retries at once, on a clock that does not wait.
func fastPolicy(attempts int) *retry.Policy {
	return &retry.Policy{MaxAttempts: attempts, Backoff: retry.Constant{}}
}

// stepClock is a retry.Clock whose waits end at once, moving its time
// forward; it records the waits.
type stepClock = stepclock.Clock

func mustNew(t *testing.T, cfg httpx.Config) *http.Client {
	t.Helper()
	c, err := httpx.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return string(b)
}

var _ = bytes.NewReader
var _ = context.Background
var _ = tls.VersionTLS12

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
