package httpx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"github.com/retrykit/retry/internal/stepclock"
)

// The matrix's policies: 3 attempts, hedged rounds of 2 copies.
const (
	matrixAttempts = 3
	matrixCopies   = 2
	// matrixBackoff is the wait between attempts where the server asked
	// for none: longer than any Retry-After of the scripts but the huge.
	matrixBackoff = 7 * time.Second
)

// clientMode is a way of using httpx.
type clientMode struct {
	name     string
	attempts int  // Retry.MaxAttempts
	hedge    bool // Config.Hedge
	guarded  bool // a per-host breaker and budget
	timeout  bool // Config.AttemptTimeout
	proxy    bool // through an httputil.ReverseProxy
	client   bool // an http.Client with Timeout
	// deadlines: a caller's deadline shared by SplitDeadline, a
	// Retry.MaxElapsed and an AttemptHeader, all too far off to fire.
	deadlines bool
	// trips: a breaker that opens at the first failure, and a retry loop
	// that waits for its probe (plain scripts only).
	trips bool
	// forced: a breaker forced open before the call, with WaitForProbe
	// and a budget: until told, every attempt is rejected, nothing is
	// sent or counted; for forcedFor, the retry loop waits for the end
	// of it and sends its probe (a body sent once is rejected).
	forced    bool
	forcedFor time.Duration
	// override: the client is made for another mode, and the request's
	// context brings this one's policies (httpx.NoRetry, WithPolicy,
	// WithHedge or NoHedge): the cell must behave as the mode it is.
	override string
	// hooks: Retry.Hooks.OnDone and Config.OnAttempt counted, and
	// Retry.MarkAttempts: every RoundTrip reaches OnDone exactly once.
	hooks bool
}

var matrixModes = func() []clientMode {
	var ms []clientMode
	for _, m := range []clientMode{
		{name: "retry", attempts: matrixAttempts},
		{name: "hedge", attempts: 1, hedge: true},
		{name: "retry+hedge", attempts: matrixAttempts, hedge: true},
		{name: "retry+hedge+breaker+budget", attempts: matrixAttempts, hedge: true, guarded: true},
	} {
		ms = append(ms, m)
		m.name += "+AttemptTimeout"
		m.timeout = true
		ms = append(ms, m)
	}
	return append(ms,
		clientMode{name: "retry+hedge+SplitDeadline+MaxElapsed+AttemptHeader", attempts: matrixAttempts, hedge: true, deadlines: true},
		clientMode{name: "retry+hedge+tripping breaker+WaitForProbe", attempts: matrixAttempts, hedge: true, trips: true},
		clientMode{name: "ReverseProxy", attempts: matrixAttempts, proxy: true},
		clientMode{name: "Client.Timeout", attempts: matrixAttempts, client: true},
		clientMode{name: "NoRetry ctx on retry+hedge+breaker+budget", attempts: 1, guarded: true, override: "NoRetry"},
		clientMode{name: "NoHedge ctx on retry+hedge+breaker+budget", attempts: matrixAttempts, guarded: true, override: "NoHedge"},
		clientMode{name: "WithPolicy ctx on hedge+hooks+MarkAttempts", attempts: matrixAttempts, hedge: true, override: "WithPolicy", hooks: true},
		clientMode{name: "WithHedge ctx on retry+AttemptTimeout+hooks", attempts: matrixAttempts, hedge: true, timeout: true, override: "WithHedge", hooks: true},
		clientMode{name: "forced-open breaker+WaitForProbe+budget", attempts: matrixAttempts, hedge: true, forced: true},
		clientMode{name: "forced-open for 1s breaker+WaitForProbe+budget", attempts: matrixAttempts, hedge: true, forced: true, forcedFor: time.Second, hooks: true},
		clientMode{name: "forced-open for 1s breaker+WaitForProbe+budget no hedge", attempts: matrixAttempts, forced: true, forcedFor: time.Second, hooks: true},
	)
}()

// sequential reports whether the attempts of a request of kind k go one
// at a time in mode m.
func (m clientMode) sequential(k reqKind) bool { return !m.hedge || !k.hedgeable() }

// cellClient is what a cell sends through: an http.Client, and the parts
// whose state the invariants read.
type cellClient struct {
	client   *http.Client
	base     *tracker
	breakers *httpx.PerHost[*retry.Breaker]
	budget   *countingBudget
	front    *httptest.Server // the reverse proxy, in proxy mode
	close    func()
	// clock is the retry loop's, whose waits are checked; nil where
	// they are not.
	clock *stepclock.Clock
	// ctx brings the request's own policies, in an override mode.
	ctx func(context.Context) context.Context
	// RoundTrips made, and the OnDone and OnAttempt calls seen, in a
	// hooks mode.
	trips, dones, attempts atomic.Int32
}

// countTrips counts the RoundTrips of a cell's client.
type countTrips struct {
	http.RoundTripper
	n *atomic.Int32
}

func (c countTrips) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.RoundTripper.RoundTrip(r)
}

// newCellClient builds the client of mode m for a cell of script s: base
// sends to the fault server. Limits are short only where a hang must be
// cut.
func newCellClient(m clientMode, base http.RoundTripper, s faultScript, srvURL string) (*cellClient, error) {
	hangs := s.special == hang
	cc := &cellClient{base: &tracker{base: base}}
	clock := stepclock.New(time.Now())
	cfg := httpx.Config{
		Base:           cc.base,
		Retry:          &retry.Policy{MaxAttempts: m.attempts, Backoff: retry.Constant{}, Clock: clock},
		MaxReplayBytes: matrixMaxReplay,
		// A drain cut short closes its connection: on a busy machine the
		// default 1s could, and then a connection would not be reused.
		DrainTimeout: time.Minute,
	}
	if !m.trips && !m.deadlines && !m.forced {
		// A backoff unlike any Retry-After of the scripts: the waits
		// tell which one was honoured (see checkWaits).
		cfg.Retry.Backoff = retry.Constant{Interval: matrixBackoff}
		cc.clock = clock
	}
	if m.deadlines {
		cfg.SplitDeadline = true
		cfg.Retry.MaxElapsed = time.Hour
		cfg.Retry.Clock = farClock{cfg.Retry.Clock.(*stepclock.Clock)}
		cfg.AttemptHeader = "X-Attempt"
	}
	if m.hedge {
		// Copies start on a failure at once; on time only where a hang
		// leaves the first one waiting.
		delay := time.Minute
		if hangs || s.special == slow {
			delay = time.Millisecond
		}
		cfg.Hedge = &retry.HedgePolicy{MaxAttempts: matrixCopies, Delay: delay}
	}
	if m.timeout {
		cfg.AttemptTimeout = time.Minute // on the path, never reached
		if s.shortTimeout() {
			cfg.AttemptTimeout = 20 * time.Millisecond // a bound, not an assertion
		}
	}
	if m.trips || m.forced {
		// Open at the first failure, for a second of the policy's clock:
		// the wait for the probe moves it on.
		cfg.Retry.WaitForProbe = true
		var err error
		cc.breakers, err = httpx.Breakers(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: cfg.Retry.Clock}, httpx.PerHostConfig{})
		if err != nil {
			return nil, err
		}
		cfg.Breaker = cc.breakers.For
		// A budget that counts: a rejection, which sent nothing, is no
		// outcome.
		cc.budget = &countingBudget{}
		cfg.Budget = func(*http.Request) retry.Budget { return cc.budget }
	}
	if m.forced {
		r, _ := http.NewRequest(http.MethodGet, srvURL, nil)
		if err := cc.breakers.For(r).ForceOpen(m.forcedFor); err != nil {
			return nil, err
		}
	}
	if m.guarded {
		// A window that never trips in one cell: its counts are checked.
		var err error
		cc.breakers, err = httpx.Breakers(retry.BreakerConfig{FailureRatio: 1, MinCalls: 1000}, httpx.PerHostConfig{})
		if err != nil {
			return nil, err
		}
		cc.budget = &countingBudget{} // allows every extra attempt, counts outcomes
		cfg.Breaker = cc.breakers.For
		cfg.Budget = func(*http.Request) retry.Budget { return cc.budget }
	}
	if m.hooks {
		cfg.Retry.MarkAttempts = true
		cfg.Retry.Hooks = &retry.Hooks{OnDone: func(context.Context, retry.CallEvent) { cc.dones.Add(1) }}
		cfg.OnAttempt = func(context.Context, httpx.AttemptEvent) { cc.attempts.Add(1) }
	}
	overrideMode(m, &cfg, cc)
	tr, err := httpx.New(cfg)
	if err != nil {
		return nil, err
	}
	cc.client = &http.Client{Transport: countTrips{tr, &cc.trips}}
	cc.close = func() { tr.CloseIdleConnections() }
	switch {
	case m.client:
		cc.client.Timeout = time.Minute
		if s.hangs() {
			cc.client.Timeout = 50 * time.Millisecond
		}
	case m.proxy:
		cc.front = httptest.NewServer(&httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				u, _ := url.Parse(pr.In.Header.Get("X-Matrix-Target"))
				pr.SetURL(u)
				pr.Out.URL.Path = pr.In.URL.Path
				pr.Out.Header.Del("X-Matrix-Target")
			},
			Transport: tr,
			ErrorLog:  discardLog,
		})
		cc.front.Config.ErrorLog = discardLog
		front := &http.Transport{}
		cc.client = &http.Client{Transport: front}
		cc.close = func() {
			front.CloseIdleConnections()
			cc.front.Close()
			tr.CloseIdleConnections()
		}
	}
	return cc, nil
}

// farClock is a stepclock whose waits end at once, but for a limit of half
// an hour or more, which never ends: the MaxElapsed of a cell is a limit
// on the path, not one to reach (a stepclock alone would end it at once).
type farClock struct{ *stepclock.Clock }

func (c farClock) After(d time.Duration) <-chan time.Time {
	if d >= 30*time.Minute {
		return nil
	}
	return c.Clock.After(d)
}

// overrideMode moves the policies of an override mode from cfg to the
// request's context, and gives cfg others that the context overrides.
func overrideMode(m clientMode, cfg *httpx.Config, cc *cellClient) {
	other := &retry.HedgePolicy{MaxAttempts: matrixCopies, Delay: time.Minute}
	switch m.override {
	case "NoRetry": // the client retries and hedges; the request is sent once
		cfg.Retry.MaxAttempts = matrixAttempts
		cfg.Hedge = other
		cc.ctx = httpx.NoRetry
	case "NoHedge":
		cfg.Hedge = other
		cc.ctx = httpx.NoHedge
	case "WithPolicy": // the client sends once; the request's policy retries
		p := cfg.Retry
		cfg.Retry = &retry.Policy{MaxAttempts: 1, Clock: p.Clock, Hooks: p.Hooks}
		cc.ctx = func(ctx context.Context) context.Context { return httpx.WithPolicy(ctx, p) }
	case "WithHedge":
		h := cfg.Hedge
		cfg.Hedge = nil
		cc.ctx = func(ctx context.Context) context.Context { return httpx.WithHedge(ctx, h) }
	}
}
