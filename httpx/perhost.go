package httpx

import (
	"cmp"
	"iter"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/retrykit/retry"
)

// Defaults of a PerHostConfig whose fields are zero.
const (
	defaultMaxHosts        = 1000
	defaultHostIdleTimeout = 10 * time.Minute
)

// PerHostConfig bounds a PerHost, so that a client that talks to many
// hosts does not keep a value for each of them for ever. Every zero field
// means the default documented on it.
type PerHostConfig struct {
	// MaxHosts caps the hosts kept. A new host past the cap first drops
	// the hosts idle for IdleTimeout, then the least recently used eighth
	// of the others (at least one). Zero means 1000.
	MaxHosts int

	// IdleTimeout drops a host that has not been asked for (by For) for
	// that long, never sooner. No goroutine runs in the background: the
	// idle hosts are looked for when For adds a host (at most once per
	// quarter of IdleTimeout, or whenever the PerHost is full) and when
	// Len or All lists them. A PerHost that sees no new host does not grow,
	// and keeps its values until it is listed. Zero means 10 minutes.
	IdleTimeout time.Duration

	// Clock is the time source of IdleTimeout and of the open breakers
	// that a PerHost keeps (see PerHost). Nil means real time (or, for
	// Breakers, the BreakerConfig's Clock).
	Clock retry.Clock
}

// Validate reports the first invalid field of c, wrapped around ErrInvalid
// and naming the field: a negative MaxHosts or IdleTimeout, or a Clock
// that holds a nil pointer.
func (c PerHostConfig) Validate() error {
	switch {
	case c.MaxHosts < 0:
		return invalid("PerHostConfig.MaxHosts is negative (%d)", c.MaxHosts)
	case c.IdleTimeout < 0:
		return invalid("PerHostConfig.IdleTimeout is negative (%v)", c.IdleTimeout)
	}
	if c.Clock != nil {
		// The core's rule for a Clock, with this field's name.
		if err := (&retry.Policy{Clock: c.Clock}).Validate(); err != nil {
			return invalid("PerHostConfig.Clock is a nil %T", c.Clock)
		}
	}
	return nil
}

// PerHost keeps one value per host, made on first use: a circuit breaker
// for Config.Breaker (see Breakers), a budget for Config.Budget.
//
//	breakers, err := httpx.Breakers(retry.BreakerConfig{FailureRatio: 0.5}, httpx.PerHostConfig{})
//	budgets, err := httpx.NewPerHost(httpx.PerHostConfig{}, func(host string) retry.Budget {
//		return &retry.TokenBucket{}
//	})
//	client, err := httpx.NewClient(httpx.Config{Breaker: breakers.For, Budget: budgets.For})
//
// A host is a host and a port: the key of a request is its URL.Host in
// lower case, with the port its scheme implies when it has none (80 for
// http, 443 for https). It is named host:port, but for port 443, named
// host alone: https://API.example.com:443/x and https://api.example.com/y
// share "api.example.com"; http://api.example.com is
// "api.example.com:80", another host, whose breaker is its own.
//
// A PerHost is bounded (see PerHostConfig): it drops hosts idle for
// IdleTimeout, and the least recently used ones past MaxHosts. A call that
// holds a dropped value keeps it and goes on; the value is only no longer
// shared, and the host's next call gets a new one. In a
// PerHost[*retry.Breaker] (as Breakers makes), a breaker that is open
// (before its OpenUntil, read on PerHostConfig.Clock) or that an operator
// forced (ForceOpen, ForceClosed; until Reset) is not dropped for idleness,
// nor for room while another host can be dropped instead: a sick host must
// not get a fresh closed breaker because many other hosts were seen, nor
// an operator's decision be forgotten. Only when every host kept is such a
// breaker does the cap drop the least recently used.
//
// A PerHost is safe for concurrent use. For a known host, For takes no
// lock, reads no clock and allocates nothing. Make one with NewPerHost or
// Breakers; a PerHost must not be copied after first use. The zero
// PerHost (and a nil one) is ready to use and makes no values: For returns
// T's zero value for every host, which Config.Breaker and Config.Budget
// read as none, and it lists no host.
type PerHost[T any] struct {
	newValue    func(host string) T
	maxHosts    int
	idleTimeout time.Duration
	clock       retry.Clock
	start       time.Time // times are durations since start: monotonic with the real clock
	// keep reports whether an idle value must stay: an open breaker.
	keep func(v T, now time.Time) bool

	values sync.Map // hostID → *hostEntry[T]

	mu        sync.Mutex // held to add or drop hosts, and for the fields below
	count     int        // hosts in values
	nextSweep int64      // since start: when adding a host next looks for idle ones
}

// hostEntry is one host's value and when it was last seen asked for.
//
// For reads no clock (it can cost more than the map's lookup): it only
// sets asked, and only if it is not set. Each sweep clears asked and moves
// seen to the sweep's time, so a host is dropped only after sweeps that
// span IdleTimeout found it not asked for.
type hostEntry[T any] struct {
	value T
	asked atomic.Bool // by For since the last sweep
	seen  int64       // under mu: time of the latest sweep that found it asked, or of its add
}

// NewPerHost returns a PerHost bounded by cfg that makes each host's value
// with newValue, which is told the host's key. newValue is called once for
// each host kept (again after it was dropped), under the PerHost's lock: it
// must not call the PerHost's methods. A nil newValue or an invalid cfg is
// an error wrapping ErrInvalid.
func NewPerHost[T any](cfg PerHostConfig, newValue func(host string) T) (*PerHost[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if newValue == nil {
		return nil, invalid("NewPerHost: nil function")
	}
	p := &PerHost[T]{
		newValue:    newValue,
		maxHosts:    cmp.Or(cfg.MaxHosts, defaultMaxHosts),
		idleTimeout: cmp.Or(cfg.IdleTimeout, defaultHostIdleTimeout),
		clock:       cfg.Clock,
		keep:        keepOpenBreaker[T](),
	}
	p.start = p.wallNow()
	p.nextSweep = int64(p.sweepEvery())
	return p, nil
}

// Breakers returns a PerHost of circuit breakers made from cfg, bounded by
// hosts, or the error of either config's Validate. Each breaker is named
// after its host, for the events of its hooks: cfg.Name + "/" + host (as
// "payments/api.example.com"), or the host alone if cfg.Name is empty. If
// hosts.Clock is nil, cfg.Clock times the idle hosts.
func Breakers(cfg retry.BreakerConfig, hosts PerHostConfig) (*PerHost[*retry.Breaker], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if hosts.Clock == nil {
		hosts.Clock = cfg.Clock
	}
	return NewPerHost(hosts, func(host string) *retry.Breaker {
		b, _ := retry.NewBreaker(hostBreaker(cfg, host)) // cannot fail: Validate passed
		return b
	})
}

// hostBreaker is cfg named after host, for Breakers.
func hostBreaker(cfg retry.BreakerConfig, host string) retry.BreakerConfig {
	if cfg.Name == "" {
		cfg.Name = host
	} else {
		cfg.Name += "/" + host
	}
	return cfg
}

// keepOpenBreaker is the keep function of a PerHost of *retry.Breaker:
// an open breaker stays until its open time is up, a forced one until it
// is released. Other types keep nothing.
func keepOpenBreaker[T any]() func(T, time.Time) bool {
	var zero T
	if _, ok := any(zero).(*retry.Breaker); !ok {
		return nil
	}
	return func(v T, now time.Time) bool {
		b, _ := any(v).(*retry.Breaker)
		if b == nil {
			return false
		}
		s := b.Snapshot()
		return s.Forced || s.State == retry.BreakerOpen && (s.OpenUntil.IsZero() || now.Before(s.OpenUntil))
	}
}

// For returns the value of req's host, making it on first use. It is the
// function to give Config.Breaker or Config.Budget.
func (p *PerHost[T]) For(req *http.Request) T {
	if p == nil || p.newValue == nil {
		var zero T
		return zero
	}
	key := hostKey(req)
	if v, ok := p.values.Load(key); ok {
		e := v.(*hostEntry[T])
		if !e.asked.Load() { // read first: a busy host's calls must not all write
			e.asked.Store(true)
		}
		return e.value
	}
	return p.add(key)
}

// add makes and keeps the value of a host not seen (or dropped), making
// room first if the PerHost is full.
func (p *PerHost[T]) add(key hostID) T {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.values.Load(key); ok { // another call added it meanwhile
		e := v.(*hostEntry[T])
		e.asked.Store(true)
		return e.value
	}
	now := p.now()
	if now >= p.nextSweep || p.count >= p.maxHosts {
		p.dropIdle(now)
	}
	if p.count >= p.maxHosts {
		p.dropOldest(now)
	}
	key.host = strings.Clone(key.host) // not a view of the caller's URL, which the map keeps
	e := &hostEntry[T]{value: p.newValue(key.String()), seen: now}
	p.values.Store(key, e)
	p.count++
	return e.value
}

// dropIdle is a sweep: it notes the hosts asked for since the last one,
// and drops every other host not seen asked for in IdleTimeout, but those
// kept (open breakers). Under mu.
func (p *PerHost[T]) dropIdle(now int64) {
	p.nextSweep = now + int64(p.sweepEvery())
	wall := p.start.Add(time.Duration(now))
	p.values.Range(func(k, v any) bool {
		switch e := v.(*hostEntry[T]); {
		case e.asked.Load():
			e.asked.Store(false)
			e.seen = now
		case now-e.seen >= int64(p.idleTimeout) && (p.keep == nil || !p.keep(e.value, wall)):
			p.drop(k, e)
		}
		return true
	})
}

// dropOldest makes room, after a sweep: it drops the least recently seen
// eighth of the hosts (at least one) that are not kept, or if all are
// kept, the least recently seen of them. Under mu.
func (p *PerHost[T]) dropOldest(now int64) {
	type aged struct {
		key  any
		e    *hostEntry[T]
		kept bool
	}
	wall := p.start.Add(time.Duration(now))
	all := make([]aged, 0, p.count)
	p.values.Range(func(k, v any) bool {
		e := v.(*hostEntry[T])
		all = append(all, aged{k, e, p.keep != nil && p.keep(e.value, wall)})
		return true
	})
	if len(all) == 0 {
		return
	}
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(a.e.seen, b.e.seen) })
	target, dropped := max(1, len(all)/8), 0
	for _, a := range all {
		if dropped == target {
			return
		}
		if !a.kept {
			p.drop(a.key, a.e)
			dropped++
		}
	}
	if dropped == 0 { // all kept: the cap wins
		p.drop(all[0].key, all[0].e)
	}
}

// drop removes one host. Under mu.
func (p *PerHost[T]) drop(key any, e *hostEntry[T]) {
	if p.values.CompareAndDelete(key, e) {
		p.count--
	}
}

// Len returns the number of hosts kept, after dropping the idle ones.
func (p *PerHost[T]) Len() int {
	if p == nil || p.newValue == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropIdle(p.now())
	return p.count
}

// All returns the hosts kept and their values, in the order of the keys,
// after dropping the idle ones: for metrics (each breaker's state, say)
// and for operators (to force a host's breaker open). It reads a
// snapshot, so the loop may call For.
func (p *PerHost[T]) All() iter.Seq2[string, T] {
	return func(yield func(string, T) bool) {
		if p == nil || p.newValue == nil {
			return
		}
		type pair struct {
			host  string
			value T
		}
		p.mu.Lock()
		p.dropIdle(p.now())
		list := make([]pair, 0, p.count)
		p.values.Range(func(k, v any) bool {
			list = append(list, pair{k.(hostID).String(), v.(*hostEntry[T]).value})
			return true
		})
		p.mu.Unlock()
		slices.SortFunc(list, func(a, b pair) int { return strings.Compare(a.host, b.host) })
		for _, kv := range list {
			if !yield(kv.host, kv.value) {
				return
			}
		}
	}
}

// sweepEvery is how often adding a host looks for idle ones.
func (p *PerHost[T]) sweepEvery() time.Duration { return max(p.idleTimeout/4, 1) }

// now is the time since the PerHost's start, in nanoseconds.
func (p *PerHost[T]) now() int64 {
	if p.clock == nil {
		return int64(time.Since(p.start)) // monotonic
	}
	return int64(p.clock.Now().Sub(p.start))
}

func (p *PerHost[T]) wallNow() time.Time {
	if p.clock == nil {
		return time.Now()
	}
	return p.clock.Now()
}

// hostID is the key of a host in a PerHost: its host and port, the port
// left out when it is 443, and told by port80 when it is 80, so that
// neither the common https URL nor the common http one allocates to make
// its key. http://h and https://h are two hosts (ports 80 and 443);
// https://h and https://h:443 are one.
type hostID struct {
	host   string // in lower case, with its port unless that is 80 or 443
	port80 bool
}

// String returns the host as PerHost names it: host, or host:port.
func (k hostID) String() string {
	if k.port80 {
		return k.host + ":80"
	}
	return k.host
}

// hostKey returns the key of req's host in a PerHost (see hostID): its
// URL.Host in lower case, the port made explicit for a URL that has none
// (80 for http, 443 for https; an empty port reads as none, as net/http
// reads it). It allocates only for a host with upper case letters or
// bytes past ASCII. One pass over the host: For calls it every time.
func hostKey(req *http.Request) hostID {
	host := req.URL.Host
	colon, lower := -1, true
	for i := range len(host) {
		switch c := host[i]; {
		case c == ':':
			colon = i
		case c == ']': // the end of an IPv6 literal: its colons are no port's
			colon = -1
		case 'A' <= c && c <= 'Z', c >= utf8.RuneSelf:
			lower = false
		}
	}
	name, port := host, ""
	if colon >= 0 {
		name, port = host[:colon], host[colon+1:]
	}
	if port == "" {
		switch {
		case strings.EqualFold(req.URL.Scheme, "http"):
			port = "80"
		case strings.EqualFold(req.URL.Scheme, "https"):
			port = "443"
		}
	}
	var k hostID
	switch port {
	case "80":
		k = hostID{host: name, port80: true}
	case "443", "":
		k = hostID{host: name}
	default:
		k = hostID{host: host}
	}
	switch {
	case lower:
	case !utf8.ValidString(k.host):
		// strings.ToLower would make every byte that is not UTF-8 a U+FFFD:
		// "\xff.example" and "\xfe.example" would share a key.
		k.host = asciiLower(k.host)
	default:
		k.host = strings.ToLower(k.host)
	}
	return k
}

// asciiLower returns s with its ASCII letters in lower case, its other
// bytes as they are.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
