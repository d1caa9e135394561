package httpx_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
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

// A randomized model test of the Transport: random configurations ×
// random request kinds × random scripted server faults per server hit ×
// random caller cancellations, over real loopback servers on HTTP/1.1 and
// HTTP/2, with invariants checked in every case. Seeds are fixed so that
// a failure reproduces: MODEL_SEED=n runs one seed, MODEL_CASE=k one case.

type mFault int

const (
	fOK       mFault = iota // read the body, 200
	f502                    // read, 502 (retryable)
	f500                    // read, 500 (an answer)
	f429                    // read, 429 Retry-After: 0
	f503                    // read, 503 Retry-After: 0
	f503Long                // read, 503 Retry-After: 3600 (past MaxAfter: the answer)
	fEarly                  // 200 without reading the body
	fEarly503               // 503 without reading the body
	fHang                   // read, then hang until the request is cancelled
	fReset                  // read, then reset the connection
	fPartial                // read, then half a body and a reset
	numFaults
)

var faultNames = [...]string{"ok", "502", "500", "429", "503", "503long", "early", "early503", "hang", "reset", "partial"}

func (f mFault) String() string { return faultNames[f] }

// status is the status a fault answers with, 0 for none.
func (f mFault) status() int {
	switch f {
	case fOK, fEarly, fPartial:
		return 200
	case f502:
		return 502
	case f500:
		return 500
	case f429:
		return 429
	case f503, f503Long, fEarly503:
		return 503
	}
	return 0
}

// notProcessed reports whether the server proves by this fault that it did
// not act on the request (the doc's "429, 503").
func (f mFault) notProcessed() bool {
	switch f {
	case f429, f503, f503Long, fEarly503:
		return true
	}
	return false
}

type mKind int

const (
	kGET mKind = iota
	kHEAD
	kPOST
	kPOSTKey
	kPUTFile     // PUT, a GetBody that rewinds one shared *os.File
	kPUTGetBody  // PUT, independent GetBody bodies
	kPUTSnapshot // PUT, no GetBody, known length within MaxReplayBytes
	kPUTOver     // PUT, no GetBody, known length over MaxReplayBytes
	kPUTStream   // PUT, no GetBody, ContentLength -1
	kPUTNoBody   // PUT, http.NoBody
	kPUTMismatch // PUT, declared length differs from the body
	numKinds
)

var kindNames = [...]string{"GET", "HEAD", "POST", "POSTKey", "PUTFile", "PUTGetBody", "PUTSnapshot", "PUTOver", "PUTStream", "PUTNoBody", "PUTMismatch"}

func (k mKind) String() string { return kindNames[k] }

type mCancel int

const (
	cNone  mCancel = iota
	cAtHit         // the server cancels the caller (with a cause) at hit k, then hangs
	cTimer         // a timer cancels the caller (with a cause) at a random moment
)

type mHit struct {
	fault     mFault
	complete  bool // the server read the body to its end without error
	n         int
	sum       string // body read, when complete
	srvCL     int64
	attempt   string
	cancelled bool // this hit cancelled the caller
}

type mCase struct {
	id       string
	desc     string
	faults   []mFault
	payload  []byte
	declared int64 // -1 unknown
	mismatch bool
	cancelAt int // hit index, -1 none
	cancel   context.CancelCauseFunc
	cause    error
	ctx      context.Context // the caller's
	cancelOK atomic.Bool     // the cancel at the hit fired before any deadline
	active   atomic.Int32    // handlers running

	mu   sync.Mutex
	hits []mHit
}

func (c *mCase) fault(i int) mFault {
	if i < len(c.faults) {
		return c.faults[i]
	}
	return fOK
}

func (c *mCase) snapshot() []mHit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.hits)
}

type mServer struct {
	*httptest.Server
	mu    sync.Mutex
	cases map[string]*mCase
}

func newModelServer(t *testing.T, h2 bool) *mServer {
	s := &mServer{cases: map[string]*mCase{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ErrorLog = discardLogger()
	if h2 {
		s.EnableHTTP2 = true
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *mServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	c := s.cases[r.Header.Get("X-Case")]
	s.mu.Unlock()
	if c == nil {
		w.WriteHeader(400)
		return
	}
	c.active.Add(1)
	defer c.active.Add(-1)
	c.mu.Lock()
	i := len(c.hits)
	c.hits = append(c.hits, mHit{})
	c.mu.Unlock()
	f := c.fault(i)
	h := mHit{fault: f, srvCL: r.ContentLength, attempt: r.Header.Get("X-Attempt"), n: -1}
	if f != fEarly && f != fEarly503 {
		b, err := io.ReadAll(r.Body)
		h.n = len(b)
		if err == nil {
			h.complete = true
			h.sum = string(b)
		}
	}
	if c.cancelAt == i {
		h.cancelled = true
	}
	c.mu.Lock()
	c.hits[i] = h
	c.mu.Unlock()
	if c.cancelAt == i {
		c.cancel(c.cause)
		// The cancel counts only if it beat the caller's deadline.
		c.cancelOK.Store(context.Cause(c.ctx) == c.cause)
		io.Copy(io.Discard, r.Body) // HTTP/1 sees the hang-up only past the body
		f = fHang
	}
	body := fmt.Sprintf("%s-hit%d-%d", c.id, i, f.status())
	w.Header().Set("X-Hit", strconv.Itoa(i))
	switch f {
	case fOK, fEarly, f502, f500, fEarly503:
		w.WriteHeader(f.status())
		io.WriteString(w, body)
	case f429, f503:
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(f.status())
		io.WriteString(w, body)
	case f503Long:
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(f.status())
		io.WriteString(w, body)
	case fHang:
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	case fReset:
		if r.ProtoMajor == 1 {
			hangup(w, r)
			return
		}
		panic(http.ErrAbortHandler)
	case fPartial:
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		io.WriteString(w, body[:len(body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
}

// sharedFile is a file whose GetBody rewinds one *os.File: bodies share
// one reader.
type sharedFile struct {
	f *os.File
}

func (s *sharedFile) getBody() (io.ReadCloser, error) {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.NopCloser(s.f), nil
}

type modelRun struct {
	t      *testing.T
	h2     bool
	srv    *mServer
	base   *http.Transport
	tmpdir string
}

// modelSeeds are the fixed seeds of TestModel.
var modelSeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

const modelCasesPerSeed = 48

func TestModel(t *testing.T) {
	seeds, only := modelSeedsFromEnv(modelSeeds)
	protocols(t, func(t *testing.T, h2 bool) {
		run := newModelRun(t, h2)
		for _, seed := range seeds {
			t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
				run.cases(t, seed, only, nil)
			})
		}
	})
}

// one runs case k of seed: it draws everything from its own generator.
// With sh set (TestModelSharedState) it also draws the shared breaker and
// budgets; without, it draws exactly what TestModel always drew.
func (m *modelRun) one(t *testing.T, seed uint64, k int, sh *sharedState) {
	rng := rand.New(rand.NewPCG(seed, uint64(k)))
	proto := "h1"
	if m.h2 {
		proto = "h2"
	}
	id := fmt.Sprintf("%s-s%d-c%d", proto, seed, k)
	if sh != nil {
		id = "shared-" + id
	}
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
	if sh != nil && rng.IntN(2) == 0 {
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
		floor := float64(rng.IntN(20))
		if floor == 0 {
			floor = retry.None // zero would mean the default floor
		}
		rb, _ := retry.NewRatioBudget(retry.RatioBudgetConfig{Ratio: 0.5, MinPerSecond: floor})
		budget = rb
		desc.WriteString(" ratiobudget")
	}
	var budgetPanic *sharedPanicBudget
	if sh != nil && rng.IntN(3) == 0 {
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
	} else if sh != nil && rng.IntN(5) == 0 {
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
		cfg.OnAttempt = func(_ context.Context, e httpx.AttemptEvent) {
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
		limit = 1 << 20 // the default MaxReplayBytes
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
	c.ctx = ctx
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
	// A caller that cancelled before the body was read gets its
	// cancellation instead.
	cancelledFirst := ctxErrAtReturn != nil && errors.Is(err, context.Canceled)
	if kind == kPUTMismatch && inMemory && declared <= limit && (!errors.Is(err, httpx.ErrInvalid) && !cancelledFirst || tr.sent.Load() != 0) {
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

// cases runs the cases of seed at once (only that one if only >= 0).
func (m *modelRun) cases(t *testing.T, seed uint64, only int, sh *sharedState) {
	var wg sync.WaitGroup
	for k := range modelCasesPerSeed {
		if only < 0 || k == only {
			wg.Go(func() { m.one(t, seed, k, sh) })
		}
	}
	wg.Wait()
}

// modelSeedsFromEnv returns the seeds to run, def unless MODEL_SEED (one)
// or MODEL_SEEDS (from-to, a wider sweep) says otherwise, and the one case
// to run (MODEL_CASE), or -1 for all.
func modelSeedsFromEnv(def []uint64) (seeds []uint64, only int) {
	seeds, only = def, -1
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
	if s := os.Getenv("MODEL_CASE"); s != "" {
		only, _ = strconv.Atoi(s)
	}
	return seeds, only
}

// newModelRun starts a model server for the protocol and a base transport
// that trusts it.
func newModelRun(t *testing.T, h2 bool) *modelRun {
	srv := newModelServer(t, h2)
	base := srv.Client().Transport.(*http.Transport).Clone()
	if !h2 {
		base.TLSClientConfig = nil
	}
	t.Cleanup(base.CloseIdleConnections)
	return &modelRun{t: t, h2: h2, srv: srv, base: base, tmpdir: t.TempDir()}
}

func pollFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return cond()
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func roundTripRecover(rt http.RoundTripper, req *http.Request) (resp *http.Response, err error, panicked any) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
		}
	}()
	resp, err = rt.RoundTrip(req)
	return
}
