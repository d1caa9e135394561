package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"github.com/retrykit/retry/internal/stepclock"
)

// hostsOf returns the key newValue is told for each URL, in order.
func hostsOf(t *testing.T, urls ...string) []string {
	t.Helper()
	var made []string
	p, err := httpx.NewPerHost(httpx.PerHostConfig{}, func(host string) string {
		made = append(made, host)
		return host
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range urls {
		keys = append(keys, p.For(&http.Request{URL: mustURL(u)}))
	}
	return keys
}

// Hosts of odd forms: two different hosts never share a key.
func TestHostileHostKeyDistinct(t *testing.T) {
	for _, pair := range [][2]string{
		{"http://%ff.example/", "http://%fe.example/"}, // bytes that are not UTF-8
		{"http://%c3%a4.example/", "http://%c3.example/"},
		{"http://[fe80::1%25eth0]/", "http://[fe80::1%25eth1]/"},
		{"http://h:8080/", "http://h:8081/"},
		{"http://h./", "http://h/"},
	} {
		keys := hostsOf(t, pair[0], pair[1])
		if keys[0] == keys[1] {
			t.Errorf("%s and %s share the key %q", pair[0], pair[1], keys[0])
		}
	}
}

// newValue panics: the panic reaches For's caller, the PerHost is left as
// it was, and the host's next For asks newValue again.
func TestHostileNewValuePanics(t *testing.T) {
	var calls atomic.Int32
	p, err := httpx.NewPerHost(httpx.PerHostConfig{MaxHosts: 2}, func(host string) int {
		if calls.Add(1); strings.HasPrefix(host, "bad") {
			panic("boom " + host)
		}
		return len(host)
	})
	if err != nil {
		t.Fatal(err)
	}
	p.For(get("http://a/"))
	p.For(get("http://b/"))
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Fatal("no panic")
			}
		}()
		p.For(get("http://bad/"))
	}()
	if n := p.Len(); n > 2 {
		t.Fatalf("Len %d past the cap", n)
	}
	if got := p.For(get("http://c/")); got != 1 {
		t.Fatalf("For after a panic: %d", got)
	}
	before := calls.Load()
	func() {
		defer func() { recover() }()
		p.For(get("http://bad/"))
	}()
	if calls.Load() != before+1 {
		t.Fatal("newValue not asked again for a host whose first value panicked")
	}
}

// Many hosts, a small cap, For from many goroutines on hot and cold hosts,
// and listings at once: the PerHost never holds more than its cap, and
// All and Len agree.
func TestHostileManyHostsSmallCap(t *testing.T) {
	const cap = 16
	clk := stepclock.New(epoch)
	breakers, err := httpx.Breakers(retry.BreakerConfig{Clock: clk, ConsecutiveFailures: 1, OpenDuration: time.Hour}, httpx.PerHostConfig{MaxHosts: cap, IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	sick := breakers.For(get("https://sick.example/"))
	done, _ := sick.Allow()
	done(errors.New("down"))
	forced := breakers.For(get("https://forced.example/"))
	if err := forced.ForceOpen(0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10000 / 8 {
				breakers.For(get(fmt.Sprintf("https://h%d-%d.example/", g, i)))
				breakers.For(get("https://hot.example/"))
				if i%100 == 0 {
					clk.Add(time.Second)
					n := 0
					for range breakers.All() {
						n++
					}
					if n > cap {
						t.Errorf("All lists %d hosts, cap %d", n, cap)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := breakers.Len(); n > cap {
		t.Fatalf("Len %d, cap %d", n, cap)
	}
	if breakers.For(get("https://sick.example/")) != sick {
		t.Error("the open breaker was dropped")
	}
	if breakers.For(get("https://forced.example/")) != forced {
		t.Error("the forced breaker was dropped")
	}
}

// newValue returns nil (a nil breaker, a typed nil budget): a nil breaker
// is none; a typed nil budget is ErrInvalid, nothing sent, body closed.
func TestHostileNilValues(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(protoName(h2), func(t *testing.T) {
			srv := newScript(t, h2, status(200, "ok"))
			none, _ := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) *retry.Breaker { return nil })
			client := mustNew(t, httpx.Config{Base: srv.base(t), Breaker: none.For})
			resp, err := client.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, resp); got != "ok" {
				t.Fatal(got)
			}
			for _, hedge := range []*retry.HedgePolicy{nil, {Delay: time.Hour}} {
				for _, big := range []bool{false, true} {
					bad, _ := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) retry.Budget { return (*retry.TokenBucket)(nil) })
					cfg := httpx.Config{Base: srv.base(t), Budget: bad.For, Hedge: hedge}
					if big {
						cfg.MaxReplayBytes = 1
					}
					client = mustNew(t, cfg)
					body := &closeCounter{Reader: strings.NewReader("payload")}
					req, _ := http.NewRequest("PUT", srv.URL, body)
					req.GetBody = nil
					req.ContentLength = 7
					resp, err = client.Do(req)
					if resp != nil {
						resp.Body.Close()
					}
					if !errors.Is(err, httpx.ErrInvalid) {
						t.Errorf("hedge=%v big=%v: %v, want ErrInvalid", hedge != nil, big, err)
					}
					if body.closed.Load() == 0 {
						t.Errorf("hedge=%v big=%v: body not closed", hedge != nil, big)
					}
				}
			}
			if srv.hits.Load() != 1 {
				t.Fatalf("%d requests, want 1", srv.hits.Load())
			}
		})
	}
}

var _ = io.Discard
var _ = url.Parse
var _ = context.Background
