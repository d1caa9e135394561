package httpx_test

// Second hostile pass (issue 11) on httpx: attacks on the first pass's
// fixes. A failing test is a defect to fix in the code.

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Retry.MaxElapsed on a Clock follows the Clock in the retry loop; a
// request sent once (a body over MaxReplayBytes) must follow it too, not
// real time: with the Clock standing still, an answer after 2s of real
// time is in time.
func TestHostile2OnceMaxElapsedFollowsClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := rtFunc(func(r *http.Request) (*http.Response, error) {
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
				return nil, r.Context().Err()
			case <-time.After(2 * time.Second):
				return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
			}
		})
		tr, err := httpx.New(httpx.Config{Base: base, MaxReplayBytes: 8,
			Retry: &retry.Policy{Clock: clock.NewMock(), MaxElapsed: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		body := io.NopCloser(strings.NewReader(strings.Repeat("x", 64))) // streamed, over MaxReplayBytes
		req, _ := http.NewRequest(http.MethodPut, "http://example.invalid/", body)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("sent once with MaxElapsed 1s on a Clock that did not move: %v", err)
		}
		resp.Body.Close()
	})
}

// A request sent once with Retry.MaxElapsed, over real HTTP/1.1 and
// HTTP/2 servers: the request body arrives whole, a response whose
// headers came in time keeps a readable body after MaxElapsed, and the
// connection is reused for the next request.
func TestHostile2OnceMaxElapsedRealServers(t *testing.T) {
	const reqLen = 4096
	for _, h2 := range []bool{false, true} {
		name := "HTTP/1.1"
		if h2 {
			name = "HTTP/2"
		}
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			var got atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n, _ := io.Copy(io.Discard, r.Body)
				got.Store(n)
				w.WriteHeader(200)
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done(): // the test skipped: the client gave up
					return
				}
				io.WriteString(w, "late body")
			}))
			var conns atomic.Int32
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			if h2 {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			defer close(release) // first: a request skipped below leaves its handler waiting
			base := srv.Client().Transport.(*http.Transport)
			if h2 {
				base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
				base.ForceAttemptHTTP2 = true
			}
			tr, err := httpx.New(httpx.Config{Base: base, MaxReplayBytes: 1024,
				Retry: &retry.Policy{MaxElapsed: 4 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			// Warm the connection up, so that the timed requests do not
			// spend their MaxElapsed on a handshake.
			warm, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			if resp, err := base.RoundTrip(warm); err == nil {
				release <- struct{}{}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			} else {
				t.Fatal(err)
			}
			for i := range 2 {
				body := io.NopCloser(strings.NewReader(strings.Repeat("y", reqLen)))
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, srv.URL, body)
				resp, err := tr.RoundTrip(req)
				if errors.Is(err, retry.ErrElapsed) {
					t.Skipf("request %d: headers later than MaxElapsed on this machine: %v", i, err)
				}
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if got.Load() != reqLen {
					t.Errorf("request %d: server read %d bytes of %d", i, got.Load(), reqLen)
				}
				if h2 && resp.ProtoMajor != 2 {
					t.Errorf("proto %s", resp.Proto)
				}
				time.Sleep(6 * time.Millisecond) // past MaxElapsed
				release <- struct{}{}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != "late body" {
					t.Errorf("request %d: body after MaxElapsed: %q, %v", i, b, err)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("%d connections for two requests, want 1 (reused)", n)
			}
			base.CloseIdleConnections()
		})
	}
}

// httpx.ErrInvalid matches retry.ErrInvalid, for bad input from either
// package; and a zero Transport is ready to use (its bad input too).
func TestHostile2ErrInvalidAndZeroTransport(t *testing.T) {
	if !errors.Is(httpx.ErrInvalid, retry.ErrInvalid) {
		t.Error("httpx.ErrInvalid does not match retry.ErrInvalid")
	}
	_, err := httpx.New(httpx.Config{Retry: &retry.Policy{MaxAttempts: -5}})
	if !errors.Is(err, httpx.ErrInvalid) || !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("bad Retry field: %v, want both ErrInvalid", err)
	}
	var zero httpx.Transport
	_, err = zero.RoundTrip(nil)
	if !errors.Is(err, httpx.ErrInvalid) || !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("zero Transport, nil request: %v, want ErrInvalid", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := zero.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("zero Transport body %q", b)
	}
	zero.CloseIdleConnections()
}
