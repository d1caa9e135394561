package httpx_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	fs "github.com/retrykit/retry/internal/faultserver"
	"github.com/retrykit/retry/internal/stepclock"
)

// soakKinds are the requests of the soak: a GET, keyed and plain POSTs,
// a body kept in memory and a stream sent once.
var soakKinds = []reqKind{matrixKinds[0], matrixKinds[2], matrixKinds[3], matrixKinds[6], matrixKinds[8]}

// TestSoak sends requests from 200 goroutines at once through one hedged
// client with a per-host breaker and budget, against a server that cycles
// through answers and transport faults, over HTTP/1.1 and HTTP/2 (a few
// seconds; -short sends fewer). Every call ends once, with a response read
// whole or an error of a documented kind; every body the server received
// is one a caller sent, whole; no plain POST is sent twice unless the
// server refused it; every body is closed; no goroutine is left (TestMain).
func TestSoak(t *testing.T) {
	goroutines, calls := 200, 5
	if testing.Short() {
		goroutines, calls = 50, 2
	}
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("HTTP2=%v", h2), func(t *testing.T) {
			soak(t, h2, goroutines, calls)
		})
	}
}

func soak(t *testing.T, h2 bool, goroutines, calls int) {
	srv := fs.New(h2)
	defer srv.Close()
	sc := srv.Cycle(fs.OK(), fs.Answer(503), fs.OK(), fs.Answer(502), fs.Reset(), fs.OK(),
		fs.Answer(429, "Retry-After", "0"), fs.Early(503), fs.OK(), fs.ReadPartThenClose(10), fs.OK(), fs.Answer(500))
	base := &tracker{base: srv.Transport()}
	defer base.base.(*http.Transport).CloseIdleConnections()
	breakers, err := httpx.Breakers(retry.BreakerConfig{FailureRatio: 0.6, MinCalls: 20, OpenDuration: 2 * time.Millisecond}, httpx.PerHostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	budgets, err := httpx.NewPerHost(httpx.PerHostConfig{}, func(string) retry.Budget { return &retry.TokenBucket{} })
	if err != nil {
		t.Fatal(err)
	}
	client := mustNew(t, httpx.Config{
		Base:           base,
		Retry:          &retry.Policy{MaxAttempts: 3, Backoff: retry.Constant{}, Clock: stepclock.New(time.Now())},
		Hedge:          &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Millisecond},
		Breaker:        breakers.For,
		Budget:         budgets.For,
		MaxReplayBytes: matrixMaxReplay,
	})

	var answered, rejected, failed atomic.Int64
	sent := map[string]reqKind{} // by request ID
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range calls {
				id := fmt.Sprintf("soak-%d-%d", g, i)
				k := soakKinds[rng.IntN(len(soakKinds))]
				mu.Lock()
				sent[id] = k
				mu.Unlock()
				req, bs, err := k.build(sc.URL(), id, false)
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("X-Soak-Id", id)
				resp, err := client.Do(req)
				switch {
				case err == nil:
					answered.Add(1)
					got, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if want := fs.ResponseBody(resp.StatusCode); rerr != nil || !bytes.Equal(got, want) {
						t.Errorf("%s: status %d, body of %d bytes (%v), not the %d sent", id, resp.StatusCode, len(got), rerr, len(want))
					}
				case errors.Is(err, retry.ErrBreakerOpen), errors.Is(err, retry.ErrTooManyProbes), errors.Is(err, retry.ErrBreakerThrottled):
					rejected.Add(1)
				case errors.Is(err, httpx.ErrInvalid):
					t.Errorf("%s: %v", id, err)
				default:
					failed.Add(1)
				}
				eventually(t, "every request body closed", func() bool { return bs.closed.Load() == bs.handed.Load() })
			}
		})
	}
	wg.Wait()
	if n := answered.Load() + rejected.Load() + failed.Load(); n != int64(goroutines*calls) {
		t.Errorf("%d calls ended; %d were made", n, goroutines*calls)
	}
	eventually(t, "every response body closed", func() bool { return base.open.Load() == 0 })

	// What the server saw: bodies whole and of a call that was made, and
	// a plain POST again only after a 429 or 503.
	byID := map[string][]fs.Record{}
	for _, r := range sc.Records() {
		id := r.Header.Get("X-Soak-Id")
		k, ok := sent[id]
		if !ok {
			t.Errorf("the server saw a request %q that no call made", id)
			continue
		}
		byID[id] = append(byID[id], r)
		p := k.payload(id)
		if r.Read && r.BodyErr == nil && (!bytes.Equal(r.Body, p) || !r.Whole) || !bytes.HasPrefix(p, r.Body) {
			t.Errorf("%s: the server received %d bytes that are not the body sent", id, len(r.Body))
		}
	}
	for id, recs := range byID {
		k := sent[id]
		if k.method == http.MethodPost && !k.key {
			for i := 1; i < len(recs); i++ {
				if st := recs[i-1].Status; st != 429 && st != 503 {
					t.Errorf("%s: plain POST sent again after status %d (%s)", id, st, recs[i-1].End)
				}
			}
		}
		// 3 rounds of 2 copies, each resent once by net/http at most.
		if len(recs) > 12 {
			t.Errorf("%s: the server saw it %d times", id, len(recs))
		}
	}
	t.Logf("%d calls: %d answered, %d rejected by the breaker, %d failed; the server saw %d requests",
		goroutines*calls, answered.Load(), rejected.Load(), failed.Load(), len(sc.Records()))
}
