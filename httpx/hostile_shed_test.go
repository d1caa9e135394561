package httpx_test

import (
	"bufio"
	"context"
	"io"
	"math"
	"net"
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

// TestHostileShedHijack: a handler behind Shed that takes over the
// connection the usual way, w.(http.Hijacker) as websocket libraries do,
// can, over HTTP/1.1; its slot is freed when it returns.
func TestHostileShedHijack(t *testing.T) {
	l, err := retry.NewLimiter(retry.LimiterConfig{InitialLimit: 1, MaxLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := newShedServer(t, false, l, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/plain" {
			io.WriteString(w, "ok")
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no Hijacker", http.StatusInternalServerError)
			return
		}
		conn, rw, err := hj.Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo " + line)
		rw.Flush()
	})
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("upgrade: %d %q, want 101", resp.StatusCode, body)
	}
	io.WriteString(conn, "hello\n")
	if line, _ := br.ReadString('\n'); line != "echo hello\n" {
		t.Errorf("after the hijack: %q", line)
	}
	conn.Close()
	// The handler returned: its slot is free for the next request.
	c := srv.client(t)
	waitIdle(t, l)
	resp, err = c.Get(srv.URL + "/plain")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); got != "ok" {
		t.Errorf("after the hijack: %d %q", resp.StatusCode, got)
	}
	if l.InFlight() != 0 {
		t.Errorf("%d in flight after the hijacked handler returned", l.InFlight())
	}
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

// waitIdle waits until l has no call in flight, failing the test after 10s.
func waitIdle(t *testing.T, l *retry.Limiter) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); l.InFlight() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls still in flight", l.InFlight())
		}
	}
}
