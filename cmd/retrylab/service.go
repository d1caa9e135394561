package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// callHeader carries the workload's call number, so that the service draws
// the same faults for the same call whatever the client and the order of
// arrival.
const callHeader = "Lab-Call"

// bucketWidth is the resolution of the timelines.
const bucketWidth = 100 * time.Millisecond

// fault is what the service does with one request.
type fault int

const (
	answerOK       fault = iota // 200 after the drawn latency
	answer503                   // 503 after a short wait
	answer503After              // 503 with Retry-After: 1
	resetConn                   // the connection is reset after the drawn latency
	outage                      // 503 at once: the service is down
)

var faultNames = [...]string{"ok", "503", "503+Retry-After", "reset", "outage"}

func (f fault) String() string { return faultNames[f] }

// scenario is how the service misbehaves.
type scenario struct {
	seed       uint64
	latency    []tier
	errorRate  float64
	retryAfter float64
	resetRate  float64
	outageAt   time.Duration
	outageFor  time.Duration
	bodyBytes  int
}

// plan is what the service does with an arrival: the nth (from 0) arrival
// of call id, at offset at from the start of the run. It depends on
// nothing else, so each fault is reproducible under a seed.
func (s *scenario) plan(id uint64, n int, at time.Duration) (fault, time.Duration) {
	if s.outageFor > 0 && at >= s.outageAt && at < s.outageAt+s.outageFor {
		return outage, 0
	}
	r := rand.New(rand.NewPCG(s.seed, mix(id)^uint64(n)))
	u, pick, jitter := r.Float64(), r.Float64(), r.Float64()
	lat := s.latencyOf(pick, jitter)
	switch {
	case u < s.resetRate:
		return resetConn, lat
	case u < s.resetRate+s.errorRate:
		// An overloaded server answers 503 quickly; some ask for a pause.
		if r.Float64() < s.retryAfter {
			return answer503After, lat / 4
		}
		return answer503, lat / 4
	}
	return answerOK, lat
}

// latencyOf picks a tier with pick and spreads it ±25% with jitter.
func (s *scenario) latencyOf(pick, jitter float64) time.Duration {
	t := s.latency[len(s.latency)-1]
	for _, x := range s.latency {
		if pick < x.Share {
			t = x
			break
		}
		pick -= x.Share
	}
	return time.Duration(float64(t.Latency) * (0.75 + 0.5*jitter))
}

// mix is splitmix64's finalizer: it spreads call numbers over the seed space.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// postBody is the body of call id's POSTs: n bytes drawn from the seed, so
// that the service can check that it arrived whole.
func postBody(seed, id uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed^0x5eed, id))
	for i := range b {
		b[i] = 'a' + byte(r.IntN(26))
	}
	return b
}

// service is the misbehaving HTTP service. Its counters cover one run
// (see begin); it is safe for concurrent use.
type service struct {
	sc scenario

	mu       sync.Mutex
	start    time.Time
	arrivals map[uint64]int // per call: arrivals so far
	stats    serverStats
}

// serverStats is what the service saw during one run.
type serverStats struct {
	Requests    int64
	Faults      [len(faultNames)]int64 // requests per fault
	Posts       int64
	PostsIntact int64   // POSTs whose body arrived whole
	Load        []int64 // requests per bucketWidth
	Conns       int64   // connections accepted
}

func newService(sc scenario) *service {
	s := &service{sc: sc}
	s.begin(time.Now())
	return s
}

// begin resets the counters for a run that starts at start.
func (s *service) begin(start time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start = start
	s.arrivals = map[uint64]int{}
	s.stats = serverStats{}
}

// snapshot returns a copy of the counters of the run.
func (s *service) snapshot() serverStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Load = append([]int64(nil), st.Load...)
	return st
}

// arrive counts a request and returns its fault and latency.
func (s *service) arrive(id uint64) (fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := time.Since(s.start)
	n := s.arrivals[id]
	s.arrivals[id] = n + 1
	s.stats.Requests++
	if b := int(at / bucketWidth); b >= 0 && b < 1<<16 {
		for len(s.stats.Load) <= b {
			s.stats.Load = append(s.stats.Load, 0)
		}
		s.stats.Load[b]++
	}
	f, lat := s.sc.plan(id, n, at)
	s.stats.Faults[f]++
	return f, lat
}

// connState is the server's ConnState: it counts the connections that
// clients open, which shows whether they reuse them.
func (s *service) connState(_ net.Conn, state http.ConnState) {
	if state != http.StateNew {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Conns++
}

// checkBody reads a POST's body and counts whether it arrived whole.
func (s *service) checkBody(id uint64, r *http.Request) {
	got, _ := io.ReadAll(io.LimitReader(r.Body, int64(s.sc.bodyBytes)+1))
	intact := bytes.Equal(got, postBody(s.sc.seed, id, s.sc.bodyBytes))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Posts++
	if intact {
		s.stats.PostsIntact++
	}
}

// ServeHTTP answers as the scenario plans.
func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.Header.Get(callHeader), 10, 64)
	if err != nil {
		http.Error(w, "no "+callHeader+" header", http.StatusBadRequest)
		return
	}
	f, lat := s.arrive(id)
	if r.Method == http.MethodPost {
		s.checkBody(id, r)
	}
	if !wait(r.Context(), lat) {
		return // the client gave up (a lost hedge, say)
	}
	switch f {
	case answerOK:
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok "+strconv.FormatUint(id, 10)+"\n")
	case answer503After:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy, come back in a second", http.StatusServiceUnavailable)
	case answer503, outage:
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	case resetConn:
		reset(w)
	}
}

// reset drops the connection: a TCP reset over HTTP/1.1, a stream reset
// over HTTP/2.
func reset(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // close with RST, not FIN
		}
		conn.Close()
		return
	}
	panic(http.ErrAbortHandler) // HTTP/2: net/http resets the stream, quietly
}

// wait sleeps d unless ctx ends first; it reports whether it slept.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
