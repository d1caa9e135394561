package httpx_test

import (
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// BenchmarkPerHostFor is For on a known host from many goroutines: the
// path every attempt of a client with per-host breakers takes. The
// baseline, "syncmap", is the unbounded map of before: one sync.Map load.
func BenchmarkPerHostFor(b *testing.B) {
	req := httptest.NewRequest("GET", "https://api.example.com/v1/items", nil)
	b.Run("syncmap", func(b *testing.B) {
		var m sync.Map
		m.Store(req.URL.Host, &retry.Breaker{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if v, _ := m.Load(req.URL.Host); v.(*retry.Breaker) == nil {
					b.Fatal("no breaker")
				}
			}
		})
	})
	b.Run("For", func(b *testing.B) {
		breakers, err := httpx.Breakers(retry.BreakerConfig{}, httpx.PerHostConfig{})
		if err != nil {
			b.Fatal(err)
		}
		breakers.For(req)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if breakers.For(req) == nil {
					b.Fatal("no breaker")
				}
			}
		})
	})
}
