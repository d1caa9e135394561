package benchmarks

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
)

// okHandler answers every request 200 "ok", after reading its body.
func okHandler(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	io.WriteString(w, "ok")
}

// flaky503 returns a handler that answers every other request 503 (the
// first of each pair) and the others 200 "ok": a call that is retried once
// sees 503, then 200. Requests must come one at a time.
func flaky503() http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1)%2 == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "busy")
			return
		}
		io.WriteString(w, "ok")
	}
}

// BenchmarkHTTPGet is a GET answered 200 at once on loopback, through a
// plain http.Client and through each retrying client: the cost of being
// ready to retry a request that needs none. The "httpx" case reports
// x-<client>: its time per request divided by that client's, measured in
// turns (x-plain is httpx's overhead over net/http alone).
func BenchmarkHTTPGet(b *testing.B) {
	srv, tr := loopback(b, http.HandlerFunc(okHandler), false)
	cs := retryClients(tr)
	cs = append(cs[:1], append([]namedClient{{"plain", &http.Client{Transport: tr}}}, cs[1:]...)...)
	benchClients(b, cs, srv.URL)
}

// BenchmarkHTTPRetry503 is a GET answered 503, then 200, retried at once
// by each retrying client on loopback.
func BenchmarkHTTPRetry503(b *testing.B) {
	srv, tr := loopback(b, flaky503(), false)
	benchClients(b, retryClients(tr), srv.URL)
}

// benchClients runs one sub-benchmark per client, each sending GETs to url
// that must end in 200 "ok", then the ratios of the first client's time to
// each other's.
func benchClients(b *testing.B, cs []namedClient, url string) {
	do := func(b *testing.B, c namedClient) {
		if status, body, err := get(c.client, url); err != nil || status != 200 || body != "ok" {
			b.Fatalf("%s: %d %q %v", c.name, status, body, err)
		}
	}
	for i, c := range cs {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				do(b, c)
			}
			if i == 0 {
				peers := make([]contender, 0, len(cs)-1)
				for _, p := range cs[1:] {
					peers = append(peers, contender{p.name, serial(func() { do(b, p) })})
				}
				reportRatios(b, serial(func() { do(b, c) }), peers...)
			}
		})
	}
}
