package httpx_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

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
