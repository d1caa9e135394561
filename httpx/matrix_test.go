package httpx_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/internal/faultserver"
)

var discardLog = log.New(io.Discard, "", 0)

// TestMatrix sends every request kind through every client mode against
// every fault script, over HTTP/1.1 and HTTP/2, and checks the same
// invariants in every cell (see checkCell). With -v it prints how many
// cells ran and passed per fault and per mode.
func TestMatrix(t *testing.T) {
	servers := map[bool]*faultserver.Server{false: faultserver.New(false), true: faultserver.New(true)}
	t.Cleanup(func() { servers[false].Close(); servers[true].Close() })
	var faults, modes []string
	for _, s := range matrixScripts {
		faults = append(faults, s.name)
	}
	for _, m := range matrixModes {
		modes = append(modes, m.name)
	}
	sum := newSummary(faults, modes)
	t.Cleanup(func() {
		if testing.Verbose() {
			t.Log("\n" + sum.table())
		}
		// A response not drained, or closed early, would cost its
		// connection in every cell; net/http's own timing, a few.
		if n, ok := sum.reuse(); n > 0 && ok*10 < n*9 {
			t.Errorf("HTTP/1 keep-alive: %d of %d cells reused their connection; want 90%%", ok, n)
		}
	})
	for _, h2 := range []bool{false, true} {
		proto := "HTTP1"
		if h2 {
			proto = "HTTP2"
		}
		for _, s := range matrixScripts {
			t.Run(proto+"/"+s.name, func(t *testing.T) {
				t.Parallel()
				runGroup(t, func(run func(name string, f func(t *testing.T))) {
					for _, m := range matrixModes {
						if m.trips && s.special != plain {
							continue // its oracle knows answers and plain faults only
						}
						if m.forced && !forcedScripts[s.name] || m.forcedFor > 0 && s.name != "200" {
							continue // nothing is sent, or the probe's answer: a few scripts will do
						}
						for _, k := range matrixKinds {
							if s.fewKinds && !fewKinds[k.name] {
								continue
							}
							if k.stall && (s.name != "200" || m.proxy) {
								continue // nothing is sent; the proxy's client reads the body itself
							}
							run(m.name+"/"+k.name, func(t *testing.T) {
								c := cell{srv: servers[h2], tlsSrv: servers[true], h2: h2, script: s, kind: k, mode: m, sum: sum}
								c.run(t)
								sum.add(s.name, m.name, !t.Failed())
							})
						}
					}
				})
			})
		}
	}
}

// forcedScripts are the scripts of the forced-open mode's cells.
var forcedScripts = map[string]bool{"200": true, "reset": true, "hang": true}

// runGroup runs the subtests that body names, several at a time: each
// cell waits mostly on loopback I/O, and t.Parallel alone runs only
// GOMAXPROCS of them at once.
func runGroup(t *testing.T, body func(run func(name string, f func(t *testing.T)))) {
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	body(func(name string, f func(t *testing.T)) {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			t.Run(name, f)
		}()
	})
	wg.Wait()
}

// cell is one cell of the matrix.
type cell struct {
	srv, tlsSrv *faultserver.Server
	h2          bool
	script      faultScript
	kind        reqKind
	mode        clientMode
	sum         *summary // counts HTTP/1 keep-alive reuse; nil for none
}

func (c cell) run(t *testing.T) {
	w := oracle(c.script, c.kind, c.mode, c.h2)
	srv := c.srv
	base := srv.Transport()
	if c.script.special == untrusted {
		srv = c.tlsSrv
		base = faultserver.UntrustingTransport(c.h2)
	}
	defer base.CloseIdleConnections()
	if c.script.shortTimeout() {
		// Connect first: the short attempt timeout of a hanging cell is
		// to cut the hang, not the handshake.
		if err := warmUp(base, srv); err != nil {
			t.Fatal(err)
		}
	}
	cc, err := newCellClient(c.mode, base, c.script, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	sc := srv.Script(c.script.steps...)
	id := t.Name()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	if c.mode.deadlines {
		dctx, dcancel := context.WithTimeout(ctx, time.Hour)
		defer dcancel()
		ctx = dctx
	}
	cause := errors.New("matrix: the caller gave up")
	if w.cancelOnHang {
		sc.OnHang(func() { cancel(cause) })
	}
	url := sc.URL()
	if c.mode.proxy {
		url = cc.front.URL + strings.TrimPrefix(url, srv.URL())
	}
	req, bodies, err := c.kind.build(url, id, c.mode.proxy)
	if err != nil {
		t.Fatal(err)
	}
	bodies.onStall = func() { cancel(cause) }
	if c.mode.proxy {
		req.Header.Set("X-Matrix-Target", srv.URL())
	}
	if cc.ctx != nil {
		ctx = cc.ctx(ctx)
	}
	req = req.WithContext(ctx)

	resp, err := cc.client.Do(req)

	// The outcome, and the body of the response returned.
	switch {
	case err != nil:
		if !slices.ContainsFunc(w.errs, func(e errCheck) bool { return e.ok(err, cause) }) {
			t.Errorf("error %v (%T); want %s", err, err, describe(w))
		}
	case !slices.Contains(w.statuses, resp.StatusCode):
		t.Errorf("status %d; want %s", resp.StatusCode, describe(w))
	}
	if resp != nil && err != nil {
		resp.Body.Close() // a failed redirect's: closed already
	}
	if resp != nil && err == nil {
		got, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantBody := c.script.responseBody(resp.StatusCode)
		if req.Method == http.MethodHead {
			wantBody = nil
		}
		switch {
		case w.bodyErr && rerr == nil:
			t.Errorf("the response body read whole (%d bytes); want an error", len(got))
		case w.bodyErr:
		case rerr != nil:
			t.Errorf("reading the response body: %v", rerr)
		case c.mode.proxy && resp.StatusCode == http.StatusBadGateway && len(got) == 0:
			// The proxy's own 502.
		case !bytes.Equal(got, wantBody):
			t.Errorf("response body of %d bytes, not the %d the server sent", len(got), len(wantBody))
		}
	}
	cancel(nil)
	cc.close()

	// Every response body httpx did not return is closed (drains run in
	// the background), and every request body handed out.
	eventually(t, "every response body closed", func() bool { return cc.base.open.Load() == 0 })
	if !c.mode.proxy {
		eventually(t, "every request body closed", func() bool { return bodies.closed.Load() == bodies.handed.Load() })
	}
	c.checkServer(t, w, sc.Records(), id)
	if cc.clock != nil {
		c.checkWaits(t, cc.clock.Waits(), max(int(cc.base.sent.Load())-int(cc.trips.Load()), 0))
	}
	if cc.budget != nil {
		c.checkCounters(t, w, cc, srv, len(sc.Records()))
	}
	if c.mode.hooks {
		if d, n := cc.dones.Load(), cc.trips.Load(); d != n {
			t.Errorf("OnDone called %d times for %d RoundTrips; want one each", d, n)
		}
		if len(sc.Records()) > 0 {
			// A hedged attempt that the caller's cancel cut may end, and
			// be reported, after RoundTrip returned.
			eventually(t, "OnAttempt called for the requests the server saw", func() bool { return cc.attempts.Load() > 0 })
		}
	}
	if c.mode.trips && err == nil && resp.StatusCode < 500 && resp.StatusCode != 429 {
		// The call ended on an answer: the breaker saw it (a hedge did
		// not kill its probe) and is closed.
		r, _ := http.NewRequest(http.MethodGet, srv.URL(), nil)
		if st := cc.breakers.For(r).State(); st != retry.BreakerClosed {
			t.Errorf("the call got %d, and the breaker is %v; want closed", resp.StatusCode, st)
		}
	}
}

// checkServer checks what the server saw: the number of requests, their
// bodies, the plain-POST rule and connection reuse.
func (c cell) checkServer(t *testing.T, w want, recs []faultserver.Record, id string) {
	t.Helper()
	if n := len(recs); n < w.min || n > w.max {
		t.Errorf("the server saw %d requests; want %d to %d", n, w.min, w.max)
	}
	payload := c.kind.payload(id)
	conns := map[string]bool{}
	for i, r := range recs {
		conns[r.Conn] = true
		if c.mode.deadlines && r.Step >= 0 {
			if a, err := strconv.Atoi(r.Header.Get("X-Attempt")); err != nil || a < 1 || a > matrixAttempts*matrixCopies {
				t.Errorf("request %d: attempt header %q", i, r.Header.Get("X-Attempt"))
			}
		}
		switch {
		case r.Read && r.BodyErr == nil && (!bytes.Equal(r.Body, payload) || !r.Whole):
			t.Errorf("request %d: the server received a complete-looking body of %d bytes (declared %d), not the %d sent",
				i, len(r.Body), r.Declared, len(payload))
		case !bytes.HasPrefix(payload, r.Body):
			t.Errorf("request %d: the server received %d bytes that are not the start of the body", i, len(r.Body))
		}
		if r.Declared >= 0 && c.kind.length >= 0 && r.Declared != c.kind.length && len(payload) > 0 {
			t.Errorf("request %d: declared length %d; the caller declared %d", i, r.Declared, c.kind.length)
		}
		// A plain POST goes again only after an answer that says the
		// server did not act on it.
		if c.kind.method == http.MethodPost && !c.kind.key && i > 0 && r.Step > 0 {
			if prev := recs[i-1]; prev.Status != 429 && prev.Status != 503 && prev.Status != 307 && prev.Status != 308 {
				t.Errorf("plain POST sent again (request %d) after %q (status %d)", i, prev.End, prev.Status)
			}
		}
	}
	if !w.reuse || len(recs) < 2 {
		return
	}
	switch {
	case c.h2:
		if len(conns) > 1 {
			t.Errorf("%d requests on %d connections; want keep-alive reuse", len(recs), len(conns))
		}
	case c.mode.sequential(c.kind) || c.mode.proxy || c.mode.client:
		// Over HTTP/1, net/http puts a connection back in its pool only
		// once its writer has reported the request written, and waits
		// 50ms for that at most: a busy machine may miss it in any one
		// cell, so reuse is counted over all cells (see TestMatrix).
		if c.sum != nil {
			c.sum.reused(len(conns) == 1)
		}
	}
}

// checkWaits checks the waits of the retry loop: the backoff after a
// failure that asked for no wait (or one that is ignored: negative,
// garbage, duplicated), and what the server asked for (at most a few
// seconds) after one that did. When attempts go one at a time, retries
// is how many followed another (a request refused before sending made
// none): each waited, but after a Retry-After of zero, which the clock
// does not see.
func (c cell) checkWaits(t *testing.T, waits []time.Duration, retries int) {
	t.Helper()
	backoff, pushback := c.script.special != plain, false
	for _, o := range c.script.outcomes {
		switch {
		case o.after:
			pushback = true
		case o.status != http.StatusOK:
			backoff = true
		}
	}
	for i, d := range waits {
		if d == matrixBackoff && backoff || d <= 4*time.Second && pushback {
			continue
		}
		t.Errorf("wait %d of %v: want the backoff (%v) after an outcome without a Retry-After honoured (%v), or the server's (%v)",
			i, d, matrixBackoff, backoff, pushback)
	}
	if !c.mode.sequential(c.kind) || c.mode.proxy {
		return
	}
	if n := len(waits); n > retries || n < retries && !pushback {
		t.Errorf("%d waits for %d retries", n, retries)
	}
}

// checkCounters checks that the breaker and the budget counted only what
// says something about the server.
func (c cell) checkCounters(t *testing.T, w want, cc *cellClient, srv *faultserver.Server, arrivals int) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, srv.URL(), nil)
	snap := cc.breakers.For(r).Snapshot()
	b := cc.budget
	results := int64(b.ok.Load()) + int64(b.failed.Load())
	switch {
	case w.uncounted && (snap.Calls != 0 || results != 0):
		t.Errorf("breaker counted %d calls, budget %d results; want none", snap.Calls, results)
	case snap.Calls > int64(arrivals+w.extraCalls):
		t.Errorf("breaker counted %d calls; the server saw %d requests", snap.Calls, arrivals)
	case snap.Failures > int64(w.maxFailures):
		t.Errorf("breaker counted %d failures; at most %d requests failed", snap.Failures, w.maxFailures)
	case int64(b.failed.Load()) > int64(w.maxFailures):
		t.Errorf("budget counted %d failures; at most %d requests failed", b.failed.Load(), w.maxFailures)
	case results > int64(arrivals+w.extraCalls):
		t.Errorf("budget counted %d results; the server saw %d requests", results, arrivals)
	}
}

// warmUp makes a request through base to a script of its own, so that a
// connection is open.
func warmUp(base http.RoundTripper, srv *faultserver.Server) error {
	req, err := http.NewRequest(http.MethodGet, srv.Script().URL(), nil)
	if err != nil {
		return err
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func describe(w want) string {
	var parts []string
	if len(w.statuses) > 0 {
		parts = append(parts, fmt.Sprintf("status %v", w.statuses))
	}
	for _, e := range w.errs {
		parts = append(parts, e.name)
	}
	return strings.Join(parts, " or ")
}

// eventually waits for cond, which background work makes true, for at
// most 10s (a bound against a hang, not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 10000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Errorf("not %s", what)
}

// summary counts cells run and passed, per fault script and per mode.
type summary struct {
	mu     sync.Mutex
	faults []string
	modes  []string
	byKey  map[[2]string][2]int
	// HTTP/1 cells whose requests should have shared a connection, and
	// those that did.
	reuseWanted, reuseSeen int
}

func (s *summary) reused(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reuseWanted++
	if ok {
		s.reuseSeen++
	}
}

func (s *summary) reuse() (wanted, seen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reuseWanted, s.reuseSeen
}

// newSummary returns a summary whose tables list faults and modes in
// that order.
func newSummary(faults, modes []string) *summary {
	return &summary{faults: faults, modes: modes, byKey: map[[2]string][2]int{}}
}

func (s *summary) add(fault, mode string, passed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range [][2]string{{fault, ""}, {"", mode}, {"", ""}} {
		v := s.byKey[k]
		v[0]++
		if passed {
			v[1]++
		}
		s.byKey[k] = v
	}
}

// table prints the counts as two Markdown tables.
func (s *summary) table() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	row := func(name string, v [2]int) { fmt.Fprintf(&b, "| %s | %d | %d |\n", name, v[0], v[1]) }
	b.WriteString("| fault script | cells | passed |\n|---|---|---|\n")
	for _, f := range s.faults {
		row(f, s.byKey[[2]string{f, ""}])
	}
	b.WriteString("\n| client mode | cells | passed |\n|---|---|---|\n")
	for _, m := range s.modes {
		row(m, s.byKey[[2]string{"", m}])
	}
	row("**all**", s.byKey[[2]string{"", ""}])
	fmt.Fprintf(&b, "\nHTTP/1 keep-alive: %d of %d cells reused their connection\n", s.reuseSeen, s.reuseWanted)
	return b.String()
}
