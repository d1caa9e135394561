package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"github.com/retrykit/retry/internal/stepclock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func get(url string) *http.Request { return httptest.NewRequest("GET", url, nil) }

// counted is a PerHost of ints whose newValue records the hosts it is told:
// each host's value is the number of values made before it, plus one.
type counted struct {
	*httpx.PerHost[int]
	mu    sync.Mutex
	made  []string
	clock *stepclock.Clock
}

func newCounted(t *testing.T, cfg httpx.PerHostConfig) *counted {
	t.Helper()
	c := &counted{clock: stepclock.New(epoch)}
	if cfg.Clock == nil {
		cfg.Clock = c.clock
	}
	p, err := httpx.NewPerHost(cfg, func(host string) int {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.made = append(c.made, host)
		return len(c.made)
	})
	if err != nil {
		t.Fatal(err)
	}
	c.PerHost = p
	return c
}

func (c *counted) Made() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.made)
}

func (c *counted) hosts() []string {
	var hosts []string
	for h := range c.All() {
		hosts = append(hosts, h)
	}
	return hosts
}

// newValue is told the host's key, once per host, and the spellings of one
// address share it; All lists the hosts in order with their values.
func TestPerHostKeysAndListing(t *testing.T) {
	p := newCounted(t, httpx.PerHostConfig{})
	for _, url := range []string{
		"https://b.example/x", "https://B.example:443/y", "http://a.example:80/", "http://a.example/z",
		"https://a.example:8443/", "https://b.example/again",
	} {
		p.For(get(url))
	}
	if got, want := p.Made(), []string{"b.example", "a.example:80", "a.example:8443"}; !slices.Equal(got, want) {
		t.Fatalf("values made for %q, want %q", got, want)
	}
	var got []string
	for h, v := range p.All() {
		got = append(got, fmt.Sprint(h, "=", v))
	}
	if want := []string{"a.example:80=2", "a.example:8443=3", "b.example=1"}; !slices.Equal(got, want) {
		t.Fatalf("All = %q, want %q", got, want)
	}
	if p.Len() != 3 {
		t.Fatalf("Len = %d", p.Len())
	}
	for range p.All() {
		break // stopping early is fine
	}
}

// A host not asked for in IdleTimeout is dropped, not sooner; asking
// again makes a new value.
func TestPerHostIdle(t *testing.T) {
	p := newCounted(t, httpx.PerHostConfig{IdleTimeout: time.Minute})
	// after moves the clock by d and checks the hosts Len finds.
	after := func(d time.Duration, want int, why string) {
		t.Helper()
		p.clock.Add(d)
		if n := p.Len(); n != want {
			t.Fatalf("%d hosts: %s", n, why)
		}
	}
	p.For(get("http://a.example/"))
	after(time.Minute-time.Nanosecond, 1, "dropped before IdleTimeout")
	after(time.Nanosecond, 0, "kept after IdleTimeout")
	if v := p.For(get("http://a.example/")); v != 2 {
		t.Fatalf("after the drop, For gave %d, want a new value (2)", v)
	}

	// A host asked for is kept for IdleTimeout after the sweep that saw
	// it asked for, at least IdleTimeout after its last use.
	p.clock.Add(50 * time.Second)
	p.For(get("http://a.example/"))                       // last use: t=50s
	after(50*time.Second, 1, "a host in use was dropped") // t=100s: the sweep sees it asked for
	after(time.Minute-time.Nanosecond, 1, "dropped less than IdleTimeout after a sweep saw it used")
	after(time.Nanosecond, 0, "kept when idle")
}

// Adding a host drops the idle ones (the sweep runs at most every quarter
// of IdleTimeout), with no call of Len or All.
func TestPerHostIdleDroppedOnAdd(t *testing.T) {
	p := newCounted(t, httpx.PerHostConfig{IdleTimeout: time.Minute})
	p.For(get("http://a.example/"))
	p.clock.Add(time.Minute)
	p.For(get("http://b.example/")) // a new host: the sweep drops a
	if v := p.For(get("http://a.example/")); v != 3 {
		t.Fatalf("a.example kept its value %d after IdleTimeout and a new host", v)
	}
}

// Past MaxHosts, adding a host drops the least recently used eighth of
// the others (one of 8, two of 16); a host asked for again counts as used.
func TestPerHostCap(t *testing.T) {
	for _, tc := range []struct{ max, dropped int }{{1, 1}, {8, 1}, {16, 2}} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			p := newCounted(t, httpx.PerHostConfig{MaxHosts: tc.max, IdleTimeout: time.Hour})
			for i := range tc.max {
				p.For(get(fmt.Sprintf("http://h%02d.example/", i)))
				p.clock.Add(time.Second)
			}
			if tc.max > 1 {
				p.For(get("http://h00.example/")) // the oldest, used again
			}
			p.clock.Add(time.Second)
			p.For(get("http://new.example/"))
			hosts := p.hosts()
			if len(hosts) != tc.max-tc.dropped+1 {
				t.Fatalf("%d hosts after the add: %q", len(hosts), hosts)
			}
			if !slices.Contains(hosts, "new.example:80") {
				t.Fatalf("the new host is missing: %q", hosts)
			}
			if tc.max == 1 {
				return
			}
			if !slices.Contains(hosts, "h00.example:80") {
				t.Fatalf("the host used again was dropped: %q", hosts)
			}
			for i := 1; i <= tc.dropped; i++ {
				if h := fmt.Sprintf("h%02d.example:80", i); slices.Contains(hosts, h) {
					t.Fatalf("%s, among the least recently used, was kept: %q", h, hosts)
				}
			}
		})
	}
}

// An open breaker is neither dropped for idleness nor for room while
// another host can go: a sick host keeps its open breaker. Once its open
// time is up it is an idle host like any other; and if every host kept is
// open, the cap wins.
func TestPerHostKeepsOpenBreaker(t *testing.T) {
	clk := stepclock.New(epoch)
	breakers, err := httpx.Breakers(
		retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Hour, Clock: clk},
		httpx.PerHostConfig{MaxHosts: 2, IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	sick := breakers.For(get("http://sick.example/"))
	done, err := sick.Allow()
	if err != nil {
		t.Fatal(err)
	}
	done(errors.New("503"))
	if sick.State() != retry.BreakerOpen {
		t.Fatal("the breaker did not open")
	}
	clk.Add(10 * time.Minute)
	if breakers.Len() != 1 {
		t.Fatal("an open breaker was dropped for idleness")
	}
	breakers.For(get("http://a.example/"))
	clk.Add(time.Second)
	breakers.For(get("http://b.example/")) // full: a goes, not the older sick
	if got := breakers.For(get("http://sick.example/")); got != sick {
		t.Fatal("the sick host got a fresh breaker to make room")
	}
	if _, err := got(breakers, "http://sick.example/").Allow(); !errors.Is(err, retry.ErrBreakerOpen) {
		t.Fatalf("sick host: %v, want its breaker still open", err)
	}

	// Past its open time, the idle breaker is dropped like any other.
	clk.Add(time.Hour)
	if n := breakers.Len(); n != 1 { // the sweep sees sick asked for since the last one
		t.Fatalf("%d hosts, want sick.example only", n)
	}
	clk.Add(time.Minute)
	if n := breakers.Len(); n != 0 {
		t.Fatalf("%d hosts kept past the open time and IdleTimeout", n)
	}

	// All kept: the cap drops the least recently used open breaker.
	one, err := httpx.Breakers(
		retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Hour, Clock: clk},
		httpx.PerHostConfig{MaxHosts: 1})
	if err != nil {
		t.Fatal(err)
	}
	b := one.For(get("http://sick.example/"))
	done, _ = b.Allow()
	done(errors.New("503"))
	one.For(get("http://other.example/"))
	if one.Len() != 1 || one.For(get("http://sick.example/")) == b {
		t.Fatal("MaxHosts 1 was exceeded to keep an open breaker")
	}
}

// A breaker an operator forced, open or closed, is kept while idle, until
// Reset releases it.
func TestPerHostKeepsForcedBreaker(t *testing.T) {
	clk := stepclock.New(epoch)
	breakers, err := httpx.Breakers(retry.BreakerConfig{Clock: clk}, httpx.PerHostConfig{IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	closed := got(breakers, "http://closed.example/")
	closed.ForceClosed()
	open := got(breakers, "http://open.example/")
	if err := open.ForceOpen(0); err != nil { // until released
		t.Fatal(err)
	}
	got(breakers, "http://plain.example/")
	clk.Add(24 * time.Hour)
	var hosts []string
	for h := range breakers.All() {
		hosts = append(hosts, h)
	}
	if want := []string{"closed.example:80", "open.example:80"}; !slices.Equal(hosts, want) {
		t.Fatalf("hosts kept idle: %q, want the forced ones %q", hosts, want)
	}
	closed.Reset()
	open.Reset()
	clk.Add(time.Minute)
	if n := breakers.Len(); n != 0 {
		t.Fatalf("%d hosts kept after Reset and IdleTimeout", n)
	}
}

func got(p *httpx.PerHost[*retry.Breaker], url string) *retry.Breaker { return p.For(get(url)) }

// For, Len and All from many goroutines while the clock moves and hosts
// are dropped: never more than MaxHosts, never a zero value, and newValue
// is called once per host kept (-race checks the rest).
func TestPerHostConcurrent(t *testing.T) {
	const maxHosts = 16
	p := newCounted(t, httpx.PerHostConfig{MaxHosts: maxHosts, IdleTimeout: time.Second})
	var wg sync.WaitGroup
	var stop atomic.Bool
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; i < 2000 && !stop.Load(); i++ {
				if p.For(get(fmt.Sprintf("http://h%d.example/", r.IntN(40)))) == 0 {
					t.Error("For gave the zero value")
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			p.clock.Add(100 * time.Millisecond)
			if n := p.Len(); n > maxHosts {
				t.Errorf("Len = %d > MaxHosts", n)
			}
			for range p.All() {
			}
		}
	})
	wg.Wait()
	stop.Store(true)
	if n := p.Len(); n > maxHosts {
		t.Fatalf("Len = %d > MaxHosts", n)
	}
	// Many hosts of one name at once: one value.
	start := len(p.Made())
	var same sync.WaitGroup
	for range 20 {
		same.Go(func() { p.For(get("http://once.example/")) })
	}
	same.Wait()
	if made := p.Made()[start:]; len(made) != 1 {
		t.Fatalf("newValue called %d times for one new host", len(made))
	}
}

// Bad configs and functions are errors wrapping ErrInvalid; the zero and
// nil PerHost make nothing and list nothing.
func TestPerHostBadConfig(t *testing.T) {
	for _, cfg := range []httpx.PerHostConfig{
		{MaxHosts: -1},
		{IdleTimeout: -time.Second},
		{Clock: (*stepclock.Clock)(nil)},
	} {
		if err := cfg.Validate(); !errors.Is(err, httpx.ErrInvalid) {
			t.Errorf("%+v: Validate = %v", cfg, err)
		}
		if p, err := httpx.NewPerHost(cfg, func(string) int { return 1 }); p != nil || !errors.Is(err, httpx.ErrInvalid) {
			t.Errorf("%+v: NewPerHost = %v, %v", cfg, p, err)
		}
		if p, err := httpx.Breakers(retry.BreakerConfig{}, cfg); p != nil || !errors.Is(err, httpx.ErrInvalid) {
			t.Errorf("%+v: Breakers = %v, %v", cfg, p, err)
		}
	}
	var zero httpx.PerHost[int]
	var none *httpx.PerHost[int]
	for _, p := range []*httpx.PerHost[int]{&zero, none} {
		if p.For(get("http://a.example/")) != 0 || p.Len() != 0 {
			t.Fatal("a zero or nil PerHost made a value")
		}
		for range p.All() {
			t.Fatal("a zero or nil PerHost listed a host")
		}
	}
}

// A host dropped while a call holds its breaker: the call ends as usual
// and reports to the breaker it holds; the host's next call gets a new
// breaker. Over HTTP/1.1 and HTTP/2, through real servers.
func TestPerHostDropInFlight(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(protoName(h2), func(t *testing.T) {
			release := make(chan struct{})
			var releaseOnce sync.Once
			free := func() { releaseOnce.Do(func() { close(release) }) }
			slow := newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
				w.Write([]byte("ok"))
			}, status(200, "ok"))
			t.Cleanup(free) // runs before the server's Close, if the test fails
			clk := stepclock.New(epoch)
			breakers, err := httpx.Breakers(retry.BreakerConfig{Clock: clk}, httpx.PerHostConfig{IdleTimeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			client := mustNew(t, httpx.Config{Base: slow.base(t), Breaker: breakers.For})
			type result struct {
				body string
				err  error
			}
			out := make(chan result, 1)
			go func() {
				resp, err := client.Get(slow.URL)
				if err != nil {
					out <- result{err: err}
					return
				}
				out <- result{body: readAll(t, resp)}
			}()
			for slow.hits.Load() == 0 { // the request is at the server
				time.Sleep(time.Millisecond)
			}
			var held *retry.Breaker
			for _, b := range breakers.All() { // not For: that would count as a use
				held = b
			}
			clk.Add(2 * time.Minute)
			for range breakers.All() { // listing drops the idle entries first
			}
			if breakers.Len() != 0 {
				t.Fatal("the idle host was not dropped")
			}
			free()
			if r := <-out; r.err != nil || r.body != "ok" {
				t.Fatalf("the call in flight: %q, %v", r.body, r.err)
			}
			if s := held.Snapshot(); s.State != retry.BreakerClosed || s.ConsecutiveFailures != 0 {
				t.Fatalf("the dropped breaker: %+v", s)
			}
			resp, err := client.Get(slow.URL)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			if breakers.For(get(slow.URL)) == held {
				t.Fatal("the host kept its dropped breaker")
			}
			if slow.conns.Load() != 1 {
				t.Fatalf("%d connections, want 1 reused", slow.conns.Load())
			}
		})
	}
}

// Breakers with hooks: each breaker's events carry its host's name.
func TestBreakersNamedAfterHost(t *testing.T) {
	var names sync.Map
	hooks := &retry.Hooks{OnBreakerChange: func(_ context.Context, e retry.BreakerChange) { names.Store(e.Name, true) }}
	breakers, err := httpx.Breakers(retry.BreakerConfig{Name: "payments", ConsecutiveFailures: 1, Hooks: hooks}, httpx.PerHostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	b := breakers.For(get("https://API.example.com:443/pay"))
	done, _ := b.Allow()
	done(errors.New("503"))
	if b.State() != retry.BreakerOpen {
		t.Fatal("not open")
	}
	seen := false
	names.Range(func(k, _ any) bool {
		seen = true
		if k != "payments/api.example.com" {
			t.Errorf("event named %q", k)
		}
		return true
	})
	if !seen {
		t.Fatal("no OnBreakerChange event")
	}
}

func protoName(h2 bool) string {
	if h2 {
		return "HTTP2"
	}
	return "HTTP1"
}
