package httpx_test

import (
	"bufio"
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/retrykit/retry"
)

// Hostile tests of httpx.Shed (issue 14).

// TestHostileShedHugeRetryAfter: a refusal that asks for the longest wait
// a Duration holds is answered with that many seconds, not with 1 (the
// rounding up overflowed).
func TestHostileShedHugeRetryAfter(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		b, err := retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1, RetryAfter: time.Duration(math.MaxInt64)})
		if err != nil {
			t.Fatal(err)
		}
		held, err := b.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer held.Done(nil)
		srv := newShedServer(t, h2, b, func(w http.ResponseWriter, r *http.Request) {})
		resp, err := srv.client(t).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if got := resp.Header.Get("Retry-After"); resp.StatusCode != 503 || got != "9223372037" {
			t.Errorf("%d, Retry-After %q; want 503 and 9223372037 (MaxInt64 ns in seconds, rounded up)", resp.StatusCode, got)
		}
	})
}

// TestHostileShedStreaming: a handler that streams through Shed flushes
// each chunk to the client as it goes, over HTTP/1.1 and HTTP/2, and the
// client reading the first chunk before the second is written proves it.
func TestHostileShedStreaming(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		b, _ := retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1})
		next := make(chan struct{})
		srv := newShedServer(t, h2, b, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "one\n")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Error(err)
			}
			<-next
			io.WriteString(w, "two\n")
		})
		resp, err := srv.client(t).Get(srv.URL)
		if err != nil {
			close(next)
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		line, _ := br.ReadString('\n')
		close(next)
		rest, _ := io.ReadAll(br)
		resp.Body.Close()
		if line != "one\n" || string(rest) != "two\n" {
			t.Errorf("streamed %q then %q", line, rest)
		}
		if !strings.HasPrefix(resp.Proto, map[bool]string{false: "HTTP/1", true: "HTTP/2"}[h2]) {
			t.Errorf("proto %s", resp.Proto)
		}
	})
}
