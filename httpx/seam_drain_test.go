package httpx_test

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// stallBody is a response body whose Read blocks until it is closed, like
// a server that sent its headers and then hangs.
type stallBody struct {
	closed chan struct{}
	once   atomic.Bool
}

func (b *stallBody) Read([]byte) (int, error) { <-b.closed; return 0, io.ErrUnexpectedEOF }
func (b *stallBody) Close() error {
	if !b.once.Swap(true) {
		close(b.closed)
	}
	return nil
}

// A hedged GET: the primary answers 200 after 30ms; the hedge copy,
// started at 5ms, gets a 503 whose body then stalls. The 503 halts the
// round but the primary goes on and wins at 30ms. Hedging is for latency:
// RoundTrip must hand the winner back at 30ms, not after waiting
// DrainTimeout (1s) to drain the loser's stalled 503 body.
func TestHedgeWinnerNotDelayedByLoserDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			switch n.Add(1) {
			case 1:
				select {
				case <-time.After(30 * time.Millisecond):
				case <-r.Context().Done():
					return nil, r.Context().Err()
				}
				return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{}, Request: r,
					Body: io.NopCloser(&eofReader{})}, nil
			default:
				return &http.Response{StatusCode: 503, Status: "503 Service Unavailable", Header: http.Header{}, Request: r,
					Body: &stallBody{closed: make(chan struct{})}}, nil
			}
		})
		rt, err := httpx.New(httpx.Config{Base: base, Retry: fastPolicy(2),
			Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: 5 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || took != 30*time.Millisecond {
			t.Fatalf("status %d after %v; want 200 after 30ms (the winner waited for the loser's drain)", resp.StatusCode, took)
		}
		time.Sleep(2 * time.Second) // the loser's drain gives up after DrainTimeout
	})
}

type eofReader struct{}

func (*eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// The same over a real loopback server, HTTP/1.1 and HTTP/2 (time is
// checked in the bubble above, not here).
func TestHedgeWinnerNotDelayedByLoserDrainLoopback(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		var n atomic.Int32
		srv := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				time.Sleep(30 * time.Millisecond)
				io.WriteString(w, "ok")
				return
			}
			w.WriteHeader(503)
			w.(http.Flusher).Flush()
			select { // headers out, body stalls
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
		})
		client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(2), DrainTimeout: 20 * time.Millisecond,
			Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: 5 * time.Millisecond}})
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "ok" {
			t.Fatalf("%q, want \"ok\"", got)
		}
	})
}
