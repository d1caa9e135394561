package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry/httpx"
)

// A body that never comes (a pipe whose writer stalls) does not hold the
// call past the caller's deadline while it is being read for replay.
func TestReplayReadHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		base := &hedgeBase{delays: []time.Duration{0}}
		rt, _ := httpx.New(httpx.Config{Base: base})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, "http://example.test/", pr)
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if resp != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("resp %v, err %v; want DeadlineExceeded", resp, err)
		}
		if took := time.Since(start); took != 100*time.Millisecond || base.n.Load() != 0 {
			t.Fatalf("returned after %v with %d requests sent", took, base.n.Load())
		}
	})
}

// recordBase records what each request carried.
type recordBase struct {
	lengths []int64
	bodies  []string
	code    int
}

func (b *recordBase) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	b.lengths = append(b.lengths, r.ContentLength)
	b.bodies = append(b.bodies, string(body))
	return &http.Response{StatusCode: b.code, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// A body known to be over the limit is not read ahead: it is sent once as
// it is. A body marked as a stream (ContentLength -1) likewise.
func TestLongOrStreamingBodySentOnceUnread(t *testing.T) {
	for _, tt := range []struct {
		name   string
		length int64
	}{{"over the limit", 100}, {"stream", -1}} {
		t.Run(tt.name, func(t *testing.T) {
			base := &recordBase{code: 503}
			rt, _ := httpx.New(httpx.Config{Base: base, Retry: fastPolicy(3), MaxReplayBytes: 10})
			payload := strings.Repeat("s", 100)
			req, _ := http.NewRequest(http.MethodPut, "http://example.test/", io.NopCloser(strings.NewReader(payload)))
			req.ContentLength = tt.length
			resp, err := rt.RoundTrip(req)
			if err != nil || resp.StatusCode != 503 {
				t.Fatalf("resp %v, err %v", resp, err)
			}
			if len(base.bodies) != 1 || base.bodies[0] != payload || base.lengths[0] != tt.length {
				t.Fatalf("sent %d requests, first %d bytes with ContentLength %v", len(base.bodies), len(base.bodies[0]), base.lengths)
			}
		})
	}
}

// A snapshot of a body of unknown length is sent with its length set.
func TestSnapshotSetsContentLength(t *testing.T) {
	base := &recordBase{code: 200}
	rt, _ := httpx.New(httpx.Config{Base: base})
	req, _ := http.NewRequest(http.MethodPut, "http://example.test/", io.MultiReader(strings.NewReader("12345")))
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if base.lengths[0] != 5 || base.bodies[0] != "12345" {
		t.Fatalf("sent %q with ContentLength %d", base.bodies[0], base.lengths[0])
	}
}

// A GetBody that fails ends the call at once: no attempt was made, and
// another would fail alike.
func TestGetBodyFailureNotRetried(t *testing.T) {
	base := &recordBase{code: 503}
	rt, _ := httpx.New(httpx.Config{Base: base, Retry: fastPolicy(5)})
	req, _ := http.NewRequest(http.MethodPut, "http://example.test/", strings.NewReader("x"))
	errGone := errors.New("gone")
	req.GetBody = func() (io.ReadCloser, error) { return nil, errGone }
	_, err := rt.RoundTrip(req)
	if !errors.Is(err, errGone) || len(base.bodies) != 1 {
		t.Fatalf("err %v after %d requests; want GetBody's error after 1", err, len(base.bodies))
	}
}

// lateReader answers at once and goes on reading the request body after
// RoundTrip has returned, as an HTTP/2 transport's writer may: its first
// Read takes a second. It records the errors of its later Reads.
type lateReader struct {
	sent     int
	lateErrs chan error
}

func (b *lateReader) RoundTrip(r *http.Request) (*http.Response, error) {
	b.sent++
	if b.sent == 1 {
		go func() {
			var buf [8]byte
			r.Body.Read(buf[:]) // slow: a second
			_, err := r.Body.Read(buf[:])
			b.lateErrs <- err
			r.Body.Close()
		}()
		time.Sleep(time.Millisecond) // the Read has started
	} else {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	code := 503
	if b.sent > 1 {
		code = 200
	}
	return &http.Response{StatusCode: code, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// A retry does not ask the caller's GetBody for a new body (which may
// rewind a reader shared with the previous one) while a Read of the
// previous attempt is still running, and no later Read of that attempt
// reaches the reader.
func TestGetBodyWaitsForPreviousRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var readEnded, askedAt time.Time
		var lateReads atomic.Int32
		first := &slowBody{delay: time.Second, ended: &readEnded, reads: &lateReads}
		req, _ := http.NewRequest(http.MethodPut, "http://example.test/", first)
		req.GetBody = func() (io.ReadCloser, error) {
			askedAt = time.Now()
			return io.NopCloser(strings.NewReader("x")), nil
		}
		base := &lateReader{lateErrs: make(chan error, 1)}
		rt, _ := httpx.New(httpx.Config{Base: base, Retry: fastPolicy(2)})
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("resp %v, err %v", resp, err)
		}
		if late := <-base.lateErrs; late == nil {
			t.Error("a Read of the first attempt after the retry got no error")
		}
		if askedAt.Before(readEnded) || askedAt.Sub(start) != time.Second || lateReads.Load() != 1 {
			t.Fatalf("GetBody asked at %v, the first Read ended at %v; the first body was read %d times",
				askedAt.Sub(start), readEnded.Sub(start), lateReads.Load())
		}
	})
}

// slowBody's Reads take delay each; it records when the last one ended.
type slowBody struct {
	delay time.Duration
	ended *time.Time
	reads *atomic.Int32
}

func (b *slowBody) Read(p []byte) (int, error) {
	b.reads.Add(1)
	time.Sleep(b.delay)
	*b.ended = time.Now()
	return copy(p, "slow"), nil
}
func (*slowBody) Close() error { return nil }
