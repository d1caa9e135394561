package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/retrykit/retry/httpx"
)

// A body shorter or longer than its declared length is refused before
// anything is sent, with net/http's words for each case, an empty body
// included.
func TestDeclaredLengthMessages(t *testing.T) {
	srv := newScript(t, false, status(200, "ok"))
	tr, err := httpx.New(httpx.Config{Base: srv.base(t), Retry: fastPolicy(2)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body     io.ReadCloser
		declared int64
		want     string
	}{
		{io.NopCloser(strings.NewReader("")), 5, "http: ContentLength=5 with Body length 0"},
		{http.NoBody, 5, "http: ContentLength=5 with Body length 0"},
		{io.NopCloser(strings.NewReader("abc")), 5, "http: ContentLength=5 with Body length 3"},
		{io.NopCloser(strings.NewReader("abcdef")), 5, "http: ContentLength=5 with a longer Body"},
	} {
		req, _ := http.NewRequest("PUT", srv.URL, nil)
		req.Body, req.ContentLength = tc.body, tc.declared
		resp, err := tr.RoundTrip(req)
		if resp != nil || !errors.Is(err, httpx.ErrInvalid) || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("declared %d: %v, %v; want ErrInvalid ending %q", tc.declared, resp, err, tc.want)
		}
	}
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the server, want none", n)
	}
}

// A request cancelled without a cause fails with the context's error as
// it is; with a cause, errors.Is reaches both, each named once.
func TestCancelledRequestError(t *testing.T) {
	srv := newScript(t, false, status(200, "ok"))
	tr, err := httpx.New(httpx.Config{Base: srv.base(t), Retry: fastPolicy(2)})
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New("shutting down")
	for _, withCause := range []bool{false, true} {
		ctx, cancel := context.WithCancelCause(context.Background())
		if withCause {
			cancel(cause)
		} else {
			cancel(nil)
		}
		req, _ := http.NewRequestWithContext(ctx, "PUT", srv.URL, strings.NewReader("body"))
		_, err := tr.RoundTrip(req)
		if !errors.Is(err, context.Canceled) || withCause != errors.Is(err, cause) {
			t.Fatalf("cause %v: %v, want context.Canceled and the cause", withCause, err)
		}
		if n := strings.Count(err.Error(), "context canceled"); n != 1 {
			t.Errorf("cause %v: %q names the cancel %d times, want once", withCause, err, n)
		}
	}
}

// A GetBody body longer than its declared length is cut before its last
// Read goes out, and the error says it is longer, in net/http's words:
// over HTTP/1.1 and HTTP/2 alike.
func TestGetBodyLongerThanDeclared(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(proto(h2), func(t *testing.T) {
			srv := newScript(t, h2, status(200, "ok"))
			tr, err := httpx.New(httpx.Config{Base: srv.base(t), Retry: fastPolicy(2)})
			if err != nil {
				t.Fatal(err)
			}
			const body = "abcdefgh"
			req, _ := http.NewRequest("PUT", srv.URL, strings.NewReader(body))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
			req.ContentLength = 5
			resp, err := tr.RoundTrip(req)
			if resp != nil {
				resp.Body.Close()
			}
			if err == nil || !strings.Contains(err.Error(), "http: ContentLength=5 with a longer Body") {
				t.Fatalf("RoundTrip = %v, %v; want the longer-body error", resp, err)
			}
			for _, b := range srv.Bodies() {
				if len(b) == 5 {
					t.Fatalf("the server got a body that looks whole: %q", b)
				}
			}
		})
	}
}

// stall is a request body that gives nothing until its request's context
// is done.
type stall struct{ ctx context.Context }

func (s stall) Read([]byte) (int, error) { <-s.ctx.Done(); return 0, s.ctx.Err() }
func (s stall) Close() error             { return nil }

// A caller that gives up while httpx reads its body into memory gets its
// context's error, with the cause if it gave one, each named once.
func TestCancelWhileBodyIsRead(t *testing.T) {
	srv := newScript(t, false, status(200, "ok"))
	tr, err := httpx.New(httpx.Config{Base: srv.base(t), Retry: fastPolicy(2)})
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New("shutting down")
	for _, withCause := range []bool{false, true} {
		ctx, cancel := context.WithCancelCause(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "PUT", srv.URL, stall{ctx})
		req.ContentLength = 10
		go func() {
			if withCause {
				cancel(cause)
			} else {
				cancel(nil)
			}
		}()
		_, err := tr.RoundTrip(req)
		if !errors.Is(err, context.Canceled) || withCause != errors.Is(err, cause) {
			t.Fatalf("cause %v: %v, want context.Canceled and the cause", withCause, err)
		}
		if n := strings.Count(err.Error(), "context canceled"); n != 1 {
			t.Errorf("cause %v: %q names the cancel %d times, want once", withCause, err, n)
		}
	}
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the server, want none", n)
	}
}
