package httpx_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// fakeBase is a RoundTripper for synctest bubbles, where real sockets
// cannot be used: it waits delays[i] (virtual time) before answering
// request i, or until the request's context is done, and its body fails
// once the request's context is done, as a network body would. If release
// is set, the body's first byte waits for it to be closed. It notes when
// each request ended, answered or not.
type fakeBase struct {
	delays  []time.Duration
	body    string
	release chan struct{}
	n       int
	ended   []time.Time
}

func (f *fakeBase) RoundTrip(r *http.Request) (*http.Response, error) {
	d := f.delays[min(f.n, len(f.delays)-1)]
	f.n++
	defer func() { f.ended = append(f.ended, time.Now()) }()
	select {
	case <-time.After(d):
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{}, Request: r,
		Body: &ctxBody{ctx: r.Context(), r: strings.NewReader(f.body), release: f.release}}, nil
}

type ctxBody struct {
	ctx     context.Context
	r       io.Reader
	release chan struct{}
}

func (b *ctxBody) Read(p []byte) (int, error) {
	if b.release != nil {
		select {
		case <-b.release:
		case <-b.ctx.Done():
		}
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	return b.r.Read(p)
}
func (b *ctxBody) Close() error { return nil }

// fakeGet sends a GET through a Transport with cfg and returns the
// response and how long its headers took.
func fakeGet(t *testing.T, cfg httpx.Config) (*http.Response, time.Duration) {
	t.Helper()
	rt, err := httpx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, time.Since(start)
}

// An attempt that gets no headers within AttemptTimeout is retried.
func TestAttemptTimeoutRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &fakeBase{delays: []time.Duration{time.Hour, time.Hour, 10 * time.Millisecond}, body: "ok"}
		resp, took := fakeGet(t, httpx.Config{Base: base, AttemptTimeout: time.Second, Retry: fastPolicy(3)})
		if got := readAll(t, resp); got != "ok" || base.n != 3 {
			t.Fatalf("body %q after %d attempts", got, base.n)
		}
		if took != 2*time.Second+10*time.Millisecond {
			t.Fatalf("took %v, want 2.01s", took)
		}
	})
}

// Attempts that all run out of their own time end in an error that says
// so: it matches retry.ErrAttemptTimeout (as the core's AttemptTimeout
// does) and context.DeadlineExceeded, never context.Canceled.
func TestAttemptTimeoutError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &fakeBase{delays: []time.Duration{time.Hour, time.Hour}}
		rt, _ := httpx.New(httpx.Config{Base: base, AttemptTimeout: time.Second, Retry: fastPolicy(2)})
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := rt.RoundTrip(req)
		if resp != nil || base.n != 2 {
			t.Fatalf("resp %v after %d attempts", resp, base.n)
		}
		if !errors.Is(err, retry.ErrAttemptTimeout) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			t.Fatalf("err %v: Is ErrAttemptTimeout %v, DeadlineExceeded %v, Canceled %v", err,
				errors.Is(err, retry.ErrAttemptTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled))
		}
		if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "attempt timeout of 1s") {
			t.Fatalf("message %q", err)
		}
	})
}

// The winning response's body is read through a context that lives until
// the body is closed, however long after the attempt timeout that is.
func TestBodyOutlivesAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		payload := strings.Repeat("b", 1<<20)
		base := &fakeBase{delays: []time.Duration{0}, body: payload}
		rt, _ := httpx.New(httpx.Config{Base: base, AttemptTimeout: time.Second})
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute) // long past the attempt timeout
		if got := readAll(t, resp); len(got) != len(payload) {
			t.Fatalf("read %d bytes, want %d", len(got), len(payload))
		}
		if err := resp.Request.Context().Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("after Close the attempt's context is %v, want canceled", err)
		}
	})
}

// The caller's deadline is not an attempt timeout: not retried.
func TestCallerDeadlineNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &fakeBase{delays: []time.Duration{time.Hour}}
		rt, _ := httpx.New(httpx.Config{Base: base, AttemptTimeout: 10 * time.Second, Retry: fastPolicy(5)})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://example.test/", nil)
		resp, err := rt.RoundTrip(req)
		if resp != nil || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, retry.ErrAttemptTimeout) || base.n != 1 {
			t.Fatalf("resp %v, err %v after %d attempts", resp, err, base.n)
		}
	})
}

// AttemptTimeout bounds the wait for response headers, not the body:
// attempts without headers are cut at exactly the timeout and retried at
// once, as timeouts; once headers are in, the body may take many timeouts
// to come and is still read in full, on a context that lives until Close.
func TestSlowBodyAfterAttemptTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 3 * time.Millisecond
		payload := strings.Repeat("z", 1<<20)
		base := &fakeBase{delays: []time.Duration{time.Hour, time.Hour, 0}, body: payload, release: make(chan struct{})}
		var events []httpx.AttemptEvent
		start := time.Now()
		resp, took := fakeGet(t, httpx.Config{Base: base, AttemptTimeout: timeout, Retry: fastPolicy(10),
			OnAttempt: func(_ context.Context, e httpx.AttemptEvent) { events = append(events, e) }})
		if took != 2*timeout || len(events) != 3 {
			t.Fatalf("headers after %v and %d attempts, want 6ms (two timeouts) and 3", took, len(events))
		}
		for i, e := range events[:2] {
			var timedOut interface{ Timeout() bool }
			if !errors.As(e.Err, &timedOut) || !timedOut.Timeout() || e.Duration != timeout {
				t.Errorf("attempt %d: %v after %v; want a timeout after 3ms", i+1, e.Err, e.Duration)
			}
			if ended := base.ended[i].Sub(start); ended != time.Duration(i+1)*timeout {
				t.Errorf("attempt %d cancelled at %v, want %v", i+1, ended, time.Duration(i+1)*timeout)
			}
		}

		time.Sleep(10 * timeout) // ten more attempt timeouts, with the body still to come
		if err := resp.Request.Context().Err(); err != nil || base.n != 3 {
			t.Fatalf("before the body came: the attempt's context is %v after %d attempts; want alive, 3", err, base.n)
		}
		close(base.release)
		if got := readAll(t, resp); len(got) != len(payload) {
			t.Fatalf("read %d bytes, want %d", len(got), len(payload))
		}
		if err := resp.Request.Context().Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("after Close the attempt's context is %v, want canceled", err)
		}
	})
}

// Headers that arrive exactly when the attempt times out: either the
// response is returned with a live context, or the attempt counts as timed
// out and is retried, never a response whose body is already cancelled.
func TestTimeoutRacesHeaders(t *testing.T) {
	for range 50 {
		synctest.Test(t, func(t *testing.T) {
			base := &fakeBase{delays: []time.Duration{time.Second, 0}, body: "ok"}
			rt, _ := httpx.New(httpx.Config{Base: base, AttemptTimeout: time.Second, Retry: fastPolicy(2)})
			req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, resp); got != "ok" {
				t.Fatalf("body %q", got)
			}
		})
	}
}

// SplitDeadline shares the time left among the attempts to come: with 9s
// left and 3 attempts, a hanging first attempt gets 3s, not all 9.
func TestSplitDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &fakeBase{delays: []time.Duration{time.Hour, time.Hour, 0}, body: "ok"}
		rt, _ := httpx.New(httpx.Config{Base: base, SplitDeadline: true, Retry: fastPolicy(3)})
		ctx, cancel := context.WithTimeout(context.Background(), 9*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://example.test/", nil)
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if took := time.Since(start); took != 6*time.Second || base.n != 3 {
			t.Fatalf("answered after %v and %d attempts; want 6s and 3", took, base.n)
		}
	})
}

// Through http.Client, a call whose attempts all time out is a timeout to
// the usual idioms: url.Error.Timeout and net.Error.
func TestClientSeesTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &fakeBase{delays: []time.Duration{time.Hour}}
		client := mustNew(t, httpx.Config{Base: base, AttemptTimeout: time.Second, Retry: fastPolicy(2)})
		_, err := client.Get("http://example.test/")
		var urlErr *url.Error
		var netErr net.Error
		if !errors.As(err, &urlErr) || !urlErr.Timeout() || !errors.As(err, &netErr) || !netErr.Timeout() {
			t.Fatalf("err = %v: not a timeout to url.Error or net.Error", err)
		}
		if base.n != 2 {
			t.Fatalf("%d attempts, want 2", base.n)
		}
	})
}
