package httpx_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// TestModelSharedState extends TestModel: a breaker shared by all the concurrent
// cases of a seed (HalfOpenProbes up to 3, a Classify, WaitForProbe),
// Config.Budget returning another budget (or nil) on every call, a
// RatioBudget on the real clock shared by cases, Budgets that panic in
// First, Extra or Result, and a panicking Retryable on hedged calls
// before the decision. After each seed, the shared breaker holds no probe.

type sharedState struct {
	br     *retry.Breaker
	ratio  *retry.RatioBudget
	bucket *retry.TokenBucket
	probes int
}

type sharedPanicBudget struct {
	where int // 0 First, 1 Extra, 2 Result(false)
	inner retry.Budget
	fired atomic.Bool
}

func (b *sharedPanicBudget) First() {
	if b.where == 0 && !b.fired.Swap(true) {
		panic("shared Budget.First panics")
	}
	b.inner.First()
}

func (b *sharedPanicBudget) Extra() bool {
	if b.where == 1 && !b.fired.Swap(true) {
		panic("shared Budget.Extra panics")
	}
	return b.inner.Extra()
}

func (b *sharedPanicBudget) Result(ok bool) {
	if b.where == 2 && !ok && !b.fired.Swap(true) {
		panic("shared Budget.Result panics")
	}
	b.inner.Result(ok)
}

var sharedSeeds = []uint64{1, 2, 3, 4, 5, 6}

func TestModelSharedState(t *testing.T) {
	seeds := sharedSeeds
	if s := os.Getenv("MODEL_SEED"); s != "" {
		n, _ := strconv.ParseUint(s, 10, 64)
		seeds = []uint64{n}
	}
	if s := os.Getenv("MODEL_SEEDS"); s != "" {
		var from, to uint64
		fmt.Sscanf(s, "%d-%d", &from, &to)
		seeds = nil
		for n := from; n <= to; n++ {
			seeds = append(seeds, n)
		}
	}
	only := -1
	if s := os.Getenv("MODEL_CASE"); s != "" {
		only, _ = strconv.Atoi(s)
	}
	protocols(t, func(t *testing.T, h2 bool) {
		srv := newModelServer(t, h2)
		base := srv.Client().Transport.(*http.Transport).Clone()
		if !h2 {
			base.TLSClientConfig = nil
		}
		t.Cleanup(base.CloseIdleConnections)
		run := &modelRun{t: t, h2: h2, srv: srv, base: base, tmpdir: t.TempDir()}
		for _, seed := range seeds {
			t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 0xadf6))
				sh := &sharedState{probes: 1 + rng.IntN(3), bucket: &retry.TokenBucket{}}
				bc := retry.BreakerConfig{ConsecutiveFailures: 1 + rng.IntN(3),
					OpenDuration: time.Duration(5+rng.IntN(20)) * time.Millisecond, HalfOpenProbes: sh.probes}
				if rng.IntN(2) == 0 {
					bc.Classify = func(err error) retry.Outcome {
						if err != nil && strings.Contains(err.Error(), "500") {
							return retry.Ignored
						}
						if err == nil {
							return retry.Success
						}
						return retry.Failure
					}
				}
				var err error
				if sh.br, err = retry.NewBreaker(bc); err != nil {
					t.Fatal(err)
				}
				sh.ratio, _ = retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.3, MinPerSecond: 5})
				var wg sync.WaitGroup
				for k := range modelCasesPerSeed {
					if only >= 0 && k != only {
						continue
					}
					wg.Go(func() { run.oneShared(t, seed, k, sh) })
				}
				wg.Wait()
				// No probe leaked: once the calls ended, a half-open breaker
				// has none in flight, and an open one lets a probe through
				// once its time is up.
				snap := sh.br.Snapshot()
				if snap.State == retry.StateHalfOpen && snap.Probes != 0 {
					t.Errorf("seed %d: after every call ended the shared breaker is half-open with %d probes in flight: %+v", seed, snap.Probes, snap)
				}
				time.Sleep(bc.OpenDuration + 5*time.Millisecond)
				done, err := sh.br.Allow()
				if err != nil {
					t.Errorf("seed %d: after every call ended and OpenDuration passed, the shared breaker refuses: %v (%+v)", seed, err, sh.br.Snapshot())
				} else {
					done(nil)
				}
			})
		}
	})
}

func (m *modelRun) oneShared(t *testing.T, seed uint64, k int, sh *sharedState) {
	rng := rand.New(rand.NewPCG(seed, uint64(k)))
	proto := "h1"
	if m.h2 {
		proto = "h2"
	}
	id := fmt.Sprintf("a6%s-s%d-c%d", proto, seed, k)
	var desc strings.Builder
	fmt.Fprintf(&desc, "%s:", id)

	// The configuration.
	attempts := 1 + rng.IntN(4)
	pol := &retry.Policy{MaxAttempts: attempts, Backoff: retry.Constant{Interval: time.Duration(rng.IntN(3)) * time.Millisecond},
		MaxAfter: 50 * time.Millisecond, WaitForProbe: rng.IntN(2) == 0}
	fmt.Fprintf(&desc, " attempts=%d wait4probe=%v", attempts, pol.WaitForProbe)
	cfg := httpx.Config{Retry: pol}
	if rng.IntN(2) == 0 {
		cfg.Hedge = &retry.HedgePolicy{MaxAttempts: 2 + rng.IntN(2), Delay: time.Duration(2+rng.IntN(20)) * time.Millisecond}
		if rng.IntN(2) == 0 {
			cfg.Hedge.MaxAfter = 50 * time.Millisecond
		}
		fmt.Fprintf(&desc, " hedge=%d/%v/maxafter=%v", cfg.Hedge.MaxAttempts, cfg.Hedge.Delay, cfg.Hedge.MaxAfter)
	}
	if rng.IntN(2) == 0 {
		cfg.Breaker = func(*http.Request) *retry.Breaker { return sh.br }
		desc.WriteString(" sharedbreaker")
	} else if rng.IntN(3) == 0 {
		br, err := retry.NewBreaker(retry.BreakerConfig{ConsecutiveFailures: 1 + rng.IntN(3),
			OpenDuration: time.Duration(5+rng.IntN(20)) * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Breaker = func(*http.Request) *retry.Breaker { return br }
		desc.WriteString(" breaker")
	}
	var budget retry.Budget
	switch rng.IntN(3) {
	case 1:
		budget = &retry.TokenBucket{}
		desc.WriteString(" tokenbucket")
	case 2:
		rb, _ := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.5, MinPerSecond: float64(rng.IntN(20))})
		budget = rb
		desc.WriteString(" ratiobudget")
	}
	var budgetPanic *sharedPanicBudget
	if rng.IntN(3) == 0 {
		// Config.Budget returns another budget on every call, or nil.
		var calls atomic.Int32
		cfg.Budget = func(*http.Request) retry.Budget {
			switch calls.Add(1) % 4 {
			case 1:
				return nil
			case 2:
				return &retry.TokenBucket{}
			case 3:
				return sh.ratio
			}
			return sh.bucket
		}
		desc.WriteString(" budget(varying)")
		budget = nil
	} else if rng.IntN(5) == 0 {
		budgetPanic = &sharedPanicBudget{where: rng.IntN(3), inner: sh.bucket}
		if cfg.Hedge != nil {
			budgetPanic.where = rng.IntN(2) // First or Extra: before the decision
		}
		pol.Budget = budgetPanic
		fmt.Fprintf(&desc, " panicbudget(%d)", budgetPanic.where)
		budget = nil
	}
	if budget != nil {
		if rng.IntN(2) == 0 {
			pol.Budget = budget
		} else {
			cfg.Budget = func(*http.Request) retry.Budget { return budget }
			desc.WriteString("(per-request)")
		}
	}
	switch rng.IntN(3) {
	case 1:
		cfg.AttemptTimeout = 30 * time.Millisecond
	case 2:
		cfg.AttemptTimeout = 100 * time.Millisecond
	}
	cfg.SplitDeadline = rng.IntN(2) == 0
	fmt.Fprintf(&desc, " attemptTimeout=%v split=%v", cfg.AttemptTimeout, cfg.SplitDeadline)
	var evMu sync.Mutex
	var events []httpx.AttemptEvent
	onAttempt := rng.IntN(4) != 0
	panicOn := 0                                           // the OnAttempt call that panics, 0 for none
	if onAttempt && rng.IntN(6) == 0 && cfg.Hedge == nil { // hedged: a late panic crashes, as documented
		panicOn = 1 + rng.IntN(3)
	}
	var onAttemptCalls atomic.Int32
	if onAttempt {
		cfg.OnAttempt = func(e httpx.AttemptEvent) {
			evMu.Lock()
			events = append(events, e)
			evMu.Unlock()
			if int(onAttemptCalls.Add(1)) == panicOn {
				panic("model OnAttempt panics")
			}
		}
		fmt.Fprintf(&desc, " onattempt(panic@%d)", panicOn)
	}
	retryablePanicOn := 0
	var liveCtx context.Context
	returned := make(chan struct{})
	if rng.IntN(8) == 0 && (cfg.Hedge == nil || os.Getenv("MODEL_HEDGED_RETRYABLE_PANIC") != "") {
		retryablePanicOn = 1 + rng.IntN(3)
		if cfg.Hedge != nil {
			retryablePanicOn = 1 // the first classification comes before the decision
		}
		var calls atomic.Int32
		cfg.Retryable = func(resp *http.Response, err error) bool {
			n := int(calls.Add(1))
			if cfg.Hedge != nil && n > retryablePanicOn {
				// Other copies wait for the panicking one to end the call, so
				// that the panic comes before the decision.
				select {
				case <-returned:
				case <-time.After(2 * time.Second):
				}
			}
			if n == retryablePanicOn && (cfg.Hedge == nil || sharedFar(liveCtx)) {
				if os.Getenv("MODEL_TRACE") != "" {
					fmt.Fprintf(os.Stderr, "RETRYABLE PANIC in %s (resp %v err %v) hits %+v\n", desc.String(), resp != nil, err, retryableAttempt(resp))
				}
				panic("model Retryable panics")
			}
			return httpx.DefaultRetryable(resp, err)
		}
		fmt.Fprintf(&desc, " retryable(panic@%d)", retryablePanicOn)
	}
	if rng.IntN(2) == 0 {
		cfg.AttemptHeader = "X-Attempt"
		desc.WriteString(" header")
	}
	switch rng.IntN(3) {
	case 1:
		cfg.MaxReplayBytes = 64
	case 2:
		cfg.MaxReplayBytes = 700
	}
	fmt.Fprintf(&desc, " maxreplay=%d", cfg.MaxReplayBytes)
	limit := cfg.MaxReplayBytes
	if limit == 0 {
		limit = httpx.DefaultMaxReplayBytes
	}
	cfg.DrainTimeout = 200 * time.Millisecond
	tr := &tracker{base: m.base}
	cfg.Base = tr
	client, err := httpx.New(cfg)
	if err != nil {
		t.Fatalf("%s: New: %v", desc.String(), err)
	}

	// The request.
	kind := mKind(rng.IntN(int(numKinds)))
	size := []int{1, 50, 500, 2000}[rng.IntN(4)]
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = 'a' + byte(rng.IntN(26))
	}
	c := &mCase{id: id, payload: payload, declared: int64(size), cancelAt: -1}
	method := http.MethodPut
	var body io.Reader
	var getBody func() (io.ReadCloser, error)
	declared := int64(size)
	switch kind {
	case kGET, kHEAD:
		method = map[mKind]string{kGET: http.MethodGet, kHEAD: http.MethodHead}[kind]
		c.payload, declared = nil, 0
	case kPOST, kPOSTKey:
		method = http.MethodPost
		body = bytes.NewReader(payload)
		getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil }
	case kPUTFile:
		f, err := os.Create(filepath.Join(m.tmpdir, id))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.Write(payload)
		f.Seek(0, io.SeekStart)
		sf := &sharedFile{f: f}
		body = io.NopCloser(f)
		getBody = sf.getBody
	case kPUTGetBody:
		body = bytes.NewReader(payload)
		getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil }
	case kPUTSnapshot:
		if int64(size) > limit {
			payload = payload[:min(int64(size), limit)]
			c.payload, declared = payload, int64(len(payload))
		}
		body = io.NopCloser(bytes.NewReader(payload))
	case kPUTOver:
		if int64(size) <= limit {
			payload = bytes.Repeat([]byte("o"), int(limit)+10)
			c.payload, declared = payload, int64(len(payload))
		}
		body = io.NopCloser(bytes.NewReader(payload))
	case kPUTStream:
		body = io.NopCloser(io.MultiReader(bytes.NewReader(payload)))
		declared = -1
	case kPUTNoBody:
		c.payload, declared = nil, 0
	case kPUTMismatch:
		c.mismatch = true
		if rng.IntN(2) == 0 {
			declared = int64(size) + 1 + int64(rng.IntN(5))
		} else {
			declared = int64(size) - 1 - int64(rng.IntN(min(size, 5)))
			if declared <= 0 {
				declared = int64(size) + 3
			}
		}
		body = bytes.NewReader(payload)
		if rng.IntN(2) == 0 {
			getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil }
		} else {
			body = io.NopCloser(body)
		}
	}
	c.declared = declared
	fmt.Fprintf(&desc, " kind=%v size=%d declared=%d", kind, len(payload), declared)

	// The server's script.
	nf := 1 + rng.IntN(8)
	for range nf {
		// ok is more likely, so that some calls succeed.
		if rng.IntN(4) == 0 {
			c.faults = append(c.faults, fOK)
		} else {
			c.faults = append(c.faults, mFault(rng.IntN(int(numFaults))))
		}
	}
	fmt.Fprintf(&desc, " faults=%v", c.faults)

	// The caller's context: always a deadline, so that hangs end.
	cause := fmt.Errorf("model caller gave up (%s)", id)
	c.cause = cause
	parent, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	c.cancel = cancel
	deadline := time.Duration(150+rng.IntN(400)) * time.Millisecond
	ctx, stop := context.WithTimeout(parent, deadline)
	defer stop()
	mode := mCancel(rng.IntN(4) % 3)
	if cfg.Hedge != nil && retryablePanicOn != 0 {
		mode = cNone // a panic after the decision crashes by design
	}
	liveCtx = ctx
	switch mode {
	case cAtHit:
		c.cancelAt = rng.IntN(3)
	case cTimer:
		d := time.Duration(rng.IntN(60)) * time.Millisecond
		tm := time.AfterFunc(d, func() { cancel(cause) })
		defer tm.Stop()
	}
	fmt.Fprintf(&desc, " deadline=%v cancel=%d@%d", deadline, mode, c.cancelAt)
	m.srv.mu.Lock()
	m.srv.cases[id] = c
	m.srv.mu.Unlock()

	req, err := http.NewRequestWithContext(ctx, method, m.srv.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.GetBody = getBody
	switch kind {
	case kPUTNoBody:
		req.Body = http.NoBody
		req.ContentLength = 0
	case kPUTStream:
		req.ContentLength = -1
	case kPUTSnapshot, kPUTOver, kPUTFile:
		req.ContentLength = declared
	case kPUTMismatch:
		req.ContentLength = declared
	}
	req.Header.Set("X-Case", id)
	if kind == kPOSTKey {
		req.Header.Set("Idempotency-Key", id)
	}
	ds := desc.String()

	start := time.Now()
	resp, err, panicked := roundTripRecover(client, req)
	close(returned)
	if os.Getenv("MODEL_TRACE") != "" && retryablePanicOn != 0 {
		fmt.Fprintf(os.Stderr, "RETURNED %s: resp %v err %v panicked %.60v\n", id, resp != nil, err, panicked)
	}
	elapsed := time.Since(start)
	ctxErrAtReturn := ctx.Err()
	if panicked != nil {
		if panicOn == 0 && retryablePanicOn == 0 && (budgetPanic == nil || !budgetPanic.fired.Load()) {
			t.Errorf("%s\n  RoundTrip panicked: %v", ds, panicked)
		}
		if resp != nil || err != nil {
			t.Errorf("%s\n  panicked and returned", ds)
		}
		if !pollFor(10*time.Second, func() bool { return tr.open.Load() == 0 }) {
			t.Errorf("%s\n  (2) after a callback panic (%.80v), %d response bodies of the base left open", ds, panicked, tr.open.Load())
		}
		if !pollFor(10*time.Second, func() bool { return c.active.Load() == 0 }) {
			t.Errorf("%s\n  handlers still running 10s after the call", ds)
		}
		return
	}
	if elapsed > deadline && os.Getenv("MODEL_SLOW") != "" { // no wall-clock assertion: the machine is shared
		t.Logf("%s\n  the call took %v, past the deadline of %v", ds, elapsed, deadline)
	}

	// (1) exactly one of a response and an error.
	if (resp == nil) == (err == nil) {
		t.Errorf("%s\n  (1) response %v and error %v", ds, resp != nil, err)
		if resp != nil {
			resp.Body.Close()
		}
		return
	}
	var got []byte
	var readErr error
	if resp != nil {
		got, readErr = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	ctxErrAfterRead := ctx.Err()

	// (2) every response body handed out by the base is closed.
	if !pollFor(10*time.Second, func() bool { return tr.open.Load() == 0 }) {
		t.Errorf("%s\n  (2) %d response bodies of the base left open (result err=%v)", ds, tr.open.Load(), err)
	}
	// Wait for the hedged losers to end before reading the events.
	if onAttempt {
		pollFor(10*time.Second, func() bool {
			evMu.Lock()
			defer evMu.Unlock()
			return int64(len(events)) == tr.sent.Load()
		})
	}
	hstart := time.Now()
	if !pollFor(10*time.Second, func() bool { return c.active.Load() == 0 }) {
		t.Errorf("%s\n  handlers still running 10s after the call", ds)
	}
	if d := time.Since(hstart); d > time.Second && os.Getenv("MODEL_SLOW") != "" {
		t.Logf("%s\n  handlers ran %v after the call (err=%v)", ds, d, err)
	}
	hits := c.snapshot()

	// (3) bodies whole and as declared.
	for i, h := range hits {
		if !h.complete {
			continue
		}
		switch {
		case c.mismatch:
			t.Errorf("%s\n  (3) hit %d: the server accepted a body of %d bytes whose declared length (%d) is not the body's (%d)", ds, i, h.n, declared, len(payload))
		case h.sum != string(c.payload):
			t.Errorf("%s\n  (3) hit %d: the server read %d bytes, not the %d-byte payload", ds, i, h.n, len(c.payload))
		case declared >= 0 && h.srvCL >= 0 && h.srvCL != int64(h.n):
			t.Errorf("%s\n  (3) hit %d: Content-Length %d with %d bytes", ds, i, h.srvCL, h.n)
		}
	}

	// (4) attempts: each is reported once, and the server never saw an
	// attempt header that was not reported.
	if onAttempt {
		evMu.Lock()
		evs := slices.Clone(events)
		evMu.Unlock()
		if int64(len(evs)) != tr.sent.Load() {
			t.Errorf("%s\n  (4) %d attempts reported, %d sent through the base", ds, len(evs), tr.sent.Load())
		}
		seen := map[int]bool{}
		for _, e := range evs {
			if seen[e.Attempt] {
				t.Errorf("%s\n  (4) attempt %d reported twice", ds, e.Attempt)
			}
			seen[e.Attempt] = true
			if e.Attempt < 1 {
				t.Errorf("%s\n  (4) attempt number %d", ds, e.Attempt)
			}
			if (e.Err == nil) == (e.StatusCode == 0) {
				t.Errorf("%s\n  (4) attempt %d reported with status %d and error %v", ds, e.Attempt, e.StatusCode, e.Err)
			}
		}
		if cfg.AttemptHeader != "" {
			for i, h := range hits {
				n, _ := strconv.Atoi(h.attempt)
				if !seen[n] {
					t.Errorf("%s\n  (4) hit %d carried attempt header %q, never reported (reported: %v)", ds, i, h.attempt, seen)
				}
			}
		}
	}
	maxAttempts := attempts
	if cfg.Hedge != nil {
		maxAttempts *= cfg.Hedge.MaxAttempts
	}
	if s := tr.sent.Load(); s > int64(maxAttempts) {
		t.Errorf("%s\n  (4) %d attempts sent through the base, more than %d", ds, s, maxAttempts)
	}
	if cfg.AttemptHeader != "" {
		for i, h := range hits {
			if n, err := strconv.Atoi(h.attempt); err != nil || n < 1 || n > maxAttempts {
				t.Errorf("%s\n  (4) hit %d: attempt header %q", ds, i, h.attempt)
			}
		}
	}

	// (5) the caller's cancellation and its cause. (Known, see
	// TestH2AttemptTimeoutIsCanceled: over HTTP/2 an attempt timeout
	// matches context.Canceled; such errors are left out.)
	timedOut := err != nil && strings.Contains(err.Error(), "within the attempt timeout")
	// (Known too, see TestSplitDeadlineLastAttemptRacesDeadline: the
	// last attempt's split share races the caller's deadline.)
	if cfg.SplitDeadline && errors.Is(ctxErrAtReturn, context.DeadlineExceeded) {
		timedOut = true
	}
	if mode == cAtHit && c.cancelOK.Load() && ctxErrAtReturn != nil && err != nil && !timedOut {
		if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
			t.Errorf("%s\n  (5) cancelled with a cause at hit %d: err %v; Is Canceled %v, Is cause %v", ds, c.cancelAt, err, errors.Is(err, context.Canceled), errors.Is(err, cause))
		}
	}

	// (6) a POST without a key is sent again only after an answer that
	// proves the server did not act on it.
	if kind == kPOST {
		for i := 0; i+1 < len(hits); i++ {
			if !hits[i].fault.notProcessed() || hits[i].cancelled {
				t.Errorf("%s\n  (6) POST sent again (hit %d) after hit %d answered %v", ds, i+1, i, hits[i].fault)
			}
		}
	}

	// A response returned is whole, and the answer of a hit that gave it.
	if resp != nil && readErr == nil && kind != kHEAD {
		var hit, st int
		var cid string
		if _, e := fmt.Sscanf(strings.Replace(string(got), "-hit", " ", 1), "%s %d-%d", &cid, &hit, &st); e != nil || cid != id || st != resp.StatusCode {
			t.Errorf("%s\n  response %d with body %q", ds, resp.StatusCode, got)
		}
	}
	if resp != nil && resp.StatusCode != 200 {
		// A status returned must be an answer or the last retryable one.
		switch resp.StatusCode {
		case 500, 502, 503, 429:
		default:
			t.Errorf("%s\n  status %d returned", ds, resp.StatusCode)
		}
	}
	// The response's body comes back whole, unless its hit cut it short or
	// the caller cancelled.
	if resp != nil && readErr != nil && ctxErrAfterRead == nil {
		hit, _ := strconv.Atoi(resp.Header.Get("X-Hit"))
		if hit >= len(hits) || hits[hit].fault != fPartial {
			t.Errorf("%s\n  the body of the response returned (hit %s, status %d) failed: %v", ds, resp.Header.Get("X-Hit"), resp.StatusCode, readErr)
		}
	}
	// Any error of a cancellation matches the caller's cause: the caller is
	// the only one who cancels with context.Canceled.
	if err != nil && !timedOut && errors.Is(err, context.Canceled) && !errors.Is(err, cause) {
		t.Errorf("%s\n  (5) error matches context.Canceled but not the caller's cause: %v", ds, err)
	}
	if err != nil && !timedOut && ctxErrAtReturn == nil && errors.Is(err, context.Canceled) {
		t.Errorf("%s\n  (5) error matches context.Canceled but the caller's context is live: %v", ds, err)
	}
	// Bodies sent once go out once.
	once := kind == kPUTOver || kind == kPUTStream || kind == kPUTMismatch && getBody == nil && declared > limit
	if once && (len(hits) > 1 || tr.sent.Load() > 1) {
		t.Errorf("%s\n  a body that can be sent once went out %d times (%d hits)", ds, tr.sent.Load(), len(hits))
	}
	// A body read into memory with another length than declared is an
	// ErrInvalid error, and nothing is sent.
	inMemory := getBody == nil || cfg.Hedge != nil && declared > 0 && declared <= limit
	if kind == kPUTMismatch && inMemory && declared <= limit && (!errors.Is(err, httpx.ErrInvalid) || tr.sent.Load() != 0) {
		t.Errorf("%s\n  a mismatched body read into memory: %d sent, err %v", ds, tr.sent.Load(), err)
	}
	if onAttempt {
		evMu.Lock()
		for _, e := range events {
			if e.Replayable == once {
				t.Errorf("%s\n  attempt %d reported Replayable %v", ds, e.Attempt, e.Replayable)
			}
			if e.Hedge && cfg.Hedge == nil {
				t.Errorf("%s\n  attempt %d reported as a hedge, with no hedging", ds, e.Attempt)
			}
		}
		evMu.Unlock()
	}
	if testing.Verbose() && os.Getenv("MODEL_CASE") != "" {
		t.Logf("%s\n  hits=%+v\n  sent=%d resp=%v err=%v", ds, hits, tr.sent.Load(), resp != nil, err)
	}
}

func retryableAttempt(resp *http.Response) any {
	if resp == nil || resp.Request == nil {
		return nil
	}
	a, _ := retry.AttemptFrom(resp.Request.Context())
	return fmt.Sprintf("%+v status %d", a, resp.StatusCode)
}

// sharedFar reports whether ctx is live with its deadline well ahead: a
// hedged callback may then panic before its call is decided.
func sharedFar(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ctx.Err() == nil && (!ok || time.Until(d) > 80*time.Millisecond)
}
