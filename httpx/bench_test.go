package httpx_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// benchServer answers 200 with a short body, over keep-alive.
func benchServer(b *testing.B) (*httptest.Server, *http.Transport) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	b.Cleanup(srv.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	b.Cleanup(tr.CloseIdleConnections)
	return srv, tr
}

func doGet(b *testing.B, c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// BenchmarkGet compares a 200 OK GET on loopback through a plain client
// (the baseline) and through the retrying Transport.
func BenchmarkGet(b *testing.B) {
	srv, tr := benchServer(b)
	plain := &http.Client{Transport: tr}
	retrying, err := httpx.NewClient(httpx.Config{Base: tr})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			doGet(b, plain, srv.URL)
		}
	})
	b.Run("httpx", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			doGet(b, retrying, srv.URL)
		}
	})
	// interleaved has the plain client and httpx take turns, in 21
	// rounds of b.N/21 GETs each on the same keep-alive connection pool,
	// so that both run under the same load: it reports the median of the
	// rounds' ratios of httpx's time to the plain client's as x-plain,
	// the cost of httpx on a real connection (target at most 1.01).
	b.Run("interleaved", func(b *testing.B) { interleaved(b, srv.URL, retrying, plain) })
	// The controls, in the same harness: a second plain client (what the
	// harness reads when nothing differs), and a plain client behind a
	// RoundTripper that only passes the request on (what any RoundTripper
	// that is not the *http.Transport itself costs).
	b.Run("interleaved-plain", func(b *testing.B) {
		interleaved(b, srv.URL, &http.Client{Transport: tr}, plain)
	})
	b.Run("interleaved-passthrough", func(b *testing.B) {
		interleaved(b, srv.URL, &http.Client{Transport: passthrough{tr}}, plain)
	})
}

// passthrough is a RoundTripper that only hands the request to its base.
type passthrough struct{ base http.RoundTripper }

func (p passthrough) RoundTrip(r *http.Request) (*http.Response, error) { return p.base.RoundTrip(r) }

// interleaved times c against base on GETs of url, taking turns, and
// reports the median ratio of c's time to base's as x-plain.
func interleaved(b *testing.B, url string, c, base *http.Client) {
	const rounds = 21
	n := max(b.N/rounds, 1)
	ratios := make([]float64, rounds)
	b.ReportAllocs()
	b.ResetTimer()
	timeGets := func(c *http.Client) time.Duration {
		t0 := time.Now()
		for range n {
			doGet(b, c, url)
		}
		return time.Since(t0)
	}
	for i := range ratios {
		// Each goes first in every other round: the first of a pair
		// meets a different heap and scheduler than the second.
		var h, p time.Duration
		if i%2 == 0 {
			h, p = timeGets(c), timeGets(base)
		} else {
			p, h = timeGets(base), timeGets(c)
		}
		ratios[i] = float64(h) / float64(p)
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[rounds/2], "x-plain")
}

// BenchmarkPost4K is a POST with a 4 KiB body: with GetBody (as
// http.NewRequest sets for a bytes.Reader) and without (snapshot).
func BenchmarkPost4K(b *testing.B) {
	srv, tr := benchServer(b)
	plain := &http.Client{Transport: tr}
	retrying, err := httpx.NewClient(httpx.Config{Base: tr})
	if err != nil {
		b.Fatal(err)
	}
	payload := bytes.Repeat([]byte("x"), 4<<10)
	post := func(b *testing.B, c *http.Client, snapshot bool) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(payload))
		if snapshot {
			req.GetBody = nil
		}
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for _, bc := range []struct {
		name     string
		c        *http.Client
		snapshot bool
	}{{"plain", plain, false}, {"httpx/GetBody", retrying, false}, {"httpx/snapshot", retrying, true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				post(b, bc.c, bc.snapshot)
			}
		})
	}
}

// cannedBase answers every request at once from memory, so that the
// Transport's own cost is measured without the noise of the network.
type cannedBase struct{}

func (cannedBase) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// BenchmarkOverhead is the Transport's own cost per request: RoundTrip
// straight on an in-memory base (the baseline) and through httpx.
func BenchmarkOverhead(b *testing.B) {
	rt, err := httpx.New(httpx.Config{Base: cannedBase{}})
	if err != nil {
		b.Fatal(err)
	}
	// With hooks set: the context that carries the request, and a clock
	// read per call.
	hooked, err := httpx.New(httpx.Config{Base: cannedBase{}, Retry: &retry.Policy{
		Hooks: &retry.Hooks{OnDone: func(context.Context, retry.CallEvent) {}}}})
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"base", cannedBase{}}, {"httpx", rt}, {"httpx-on-done", hooked}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := bc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}
