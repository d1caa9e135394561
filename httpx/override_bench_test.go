package httpx_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// BenchmarkOverride is a 200 OK GET on loopback through a plain client
// (the baseline), the retrying Transport with no override in the context,
// and with NoRetry or WithPolicy (a Transport made for the request).
func BenchmarkOverride(b *testing.B) {
	srv, tr := benchServer(b)
	plain := &http.Client{Transport: tr}
	retrying, err := httpx.NewClient(httpx.Config{Base: tr})
	if err != nil {
		b.Fatal(err)
	}
	policy := &retry.Policy{MaxAttempts: 5}
	for _, bc := range []struct {
		name   string
		client *http.Client
		ctx    context.Context
	}{
		{"plain", plain, context.Background()},
		{"httpx", retrying, context.Background()},
		{"NoRetry", retrying, httpx.NoRetry(context.Background())},
		{"WithPolicy", retrying, httpx.WithPolicy(context.Background(), policy)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req, _ := http.NewRequestWithContext(bc.ctx, "GET", srv.URL, nil)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := bc.client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkOverrideOverhead is the Transport's own cost per request on an
// in-memory base, without and with a policy in the request's context.
func BenchmarkOverrideOverhead(b *testing.B) {
	rt, err := httpx.New(httpx.Config{Base: cannedBase{}})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
		ctx  context.Context
	}{
		{"base", cannedBase{}, context.Background()},
		{"httpx", rt, context.Background()},
		{"NoRetry", rt, httpx.NoRetry(context.Background())},
		{"WithPolicy", rt, httpx.WithPolicy(context.Background(), &retry.Policy{MaxAttempts: 5})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req, _ := http.NewRequestWithContext(bc.ctx, http.MethodGet, "http://example.test/", nil)
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
