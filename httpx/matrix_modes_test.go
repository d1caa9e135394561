package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	"github.com/retrykit/retry/internal/stepclock"
)

// The matrix's policies: 3 attempts, hedged rounds of 2 copies.
const (
	matrixAttempts = 3
	matrixCopies   = 2
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
}

// newCellClient builds the client of mode m for a cell of script s: base
// sends to the fault server. Limits are short only where a hang must be
// cut.
func newCellClient(m clientMode, base http.RoundTripper, s faultScript) (*cellClient, error) {
	hangs := s.special == hang
	cc := &cellClient{base: &tracker{base: base}}
	cfg := httpx.Config{
		Base:           cc.base,
		Retry:          &retry.Policy{MaxAttempts: m.attempts, Backoff: retry.Constant{}, Clock: stepclock.New(time.Now())},
		MaxReplayBytes: matrixMaxReplay,
		// A drain cut short closes its connection: on a busy machine the
		// default 1s could, and then a connection would not be reused.
		DrainTimeout: time.Minute,
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
	if m.trips {
		// Open at the first failure, for a second of the policy's clock:
		// the wait for the probe moves it on.
		cfg.Retry.WaitForProbe = true
		var err error
		cc.breakers, err = httpx.Breakers(retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: cfg.Retry.Clock}, httpx.PerHostConfig{})
		if err != nil {
			return nil, err
		}
		cfg.Breaker = cc.breakers.For
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
	tr, err := httpx.New(cfg)
	if err != nil {
		return nil, err
	}
	cc.client = &http.Client{Transport: tr}
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
