package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testScenario misbehaves often, so that every fault is easy to find.
func testScenario() scenario {
	return scenario{
		seed:       1,
		latency:    []tier{{time.Millisecond, 0.9}, {4 * time.Millisecond, 0.1}},
		errorRate:  0.2,
		retryAfter: 0.5,
		resetRate:  0.1,
		bodyBytes:  64,
	}
}

// callWith returns a call number whose first arrival gets fault f.
func callWith(t *testing.T, sc *scenario, f fault) uint64 {
	t.Helper()
	for id := uint64(1); id < 10000; id++ {
		if got, _ := sc.plan(id, 0, 0); got == f {
			return id
		}
	}
	t.Fatalf("no call gets %v", f)
	return 0
}

func TestPlanIsDeterministic(t *testing.T) {
	a, b := testScenario(), testScenario()
	other := testScenario()
	other.seed = 2
	sameAsOther, nDiffers := true, false
	for id := uint64(1); id <= 1000; id++ {
		for n := range 4 {
			fa, la := a.plan(id, n, time.Second)
			fb, lb := b.plan(id, n, time.Second)
			if fa != fb || la != lb {
				t.Fatalf("call %d arrival %d: %v %v, then %v %v under the same seed", id, n, fa, la, fb, lb)
			}
			if fo, lo := other.plan(id, n, time.Second); fo != fa || lo != la {
				sameAsOther = false
			}
		}
		f0, l0 := a.plan(id, 0, 0)
		if f1, l1 := a.plan(id, 1, 0); f0 != f1 || l0 != l1 {
			nDiffers = true
		}
	}
	if sameAsOther {
		t.Error("seed 2 plans as seed 1 does")
	}
	if !nDiffers {
		t.Error("a call's second arrival always gets what its first got: retries could never help")
	}
}

// Over many draws, each fault comes at the rate asked for, and latencies
// fall in their tier's ±25%.
func TestPlanRates(t *testing.T) {
	sc := testScenario()
	const draws = 100000
	var counts [5]int
	slow := 0
	for id := uint64(1); id <= draws; id++ {
		f, lat := sc.plan(id, 0, 0)
		counts[f]++
		if f != answerOK && f != resetConn {
			continue // a 503 comes after a quarter of the latency
		}
		switch {
		case lat >= 750*time.Microsecond && lat <= 1250*time.Microsecond:
		case lat >= 3*time.Millisecond && lat <= 5*time.Millisecond:
			slow++
		default:
			t.Fatalf("latency %v is in no tier", lat)
		}
	}
	near := func(name string, got int, want float64) {
		if share := float64(got) / draws; math.Abs(share-want) > 0.01 {
			t.Errorf("%s: share %.4f, want %.2f", name, share, want)
		}
	}
	near("reset", counts[resetConn], 0.1)
	near("503", counts[answer503], 0.1)
	near("503+Retry-After", counts[answer503After], 0.1)
	near("ok", counts[answerOK], 0.7)
	near("slow tier", slow, 0.1*(0.7+0.1))
	if counts[outage] != 0 {
		t.Errorf("%d outages without an outage window", counts[outage])
	}
}

func TestPlanOutageWindow(t *testing.T) {
	sc := testScenario()
	sc.outageAt, sc.outageFor = time.Second, 500*time.Millisecond
	for _, tc := range []struct {
		at   time.Duration
		down bool
	}{
		{999 * time.Millisecond, false},
		{time.Second, true},
		{1499 * time.Millisecond, true},
		{1500 * time.Millisecond, false},
	} {
		for id := uint64(1); id <= 100; id++ {
			f, _ := sc.plan(id, 0, tc.at)
			if (f == outage) != tc.down {
				t.Fatalf("at %v call %d: %v, want down=%v", tc.at, id, f, tc.down)
			}
		}
	}
}

// Each fault the plan draws is what a client sees, over HTTP/1.1 and
// HTTP/2, and the service counts it.
func TestServiceFaults(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			sc := testScenario()
			svc, client := startService(t, sc, h2)
			for _, tc := range []struct {
				f          fault
				status     int
				retryAfter string
			}{
				{answerOK, 200, ""},
				{answer503, 503, ""},
				{answer503After, 503, "1"},
				{resetConn, 0, ""},
			} {
				svc.begin(time.Now())
				id := callWith(t, &sc, tc.f)
				if tc.f == resetConn {
					// On a kept-alive connection, net/http would send the
					// GET again by itself (see the http.Transport doc).
					client.CloseIdleConnections()
				}
				status, header, body, err := get(t, client, svc, id)
				if tc.f == resetConn {
					if err == nil {
						t.Errorf("%v: status %d, want the connection reset", tc.f, status)
					}
				} else if err != nil || status != tc.status || header.Get("Retry-After") != tc.retryAfter {
					t.Errorf("%v: %d Retry-After %q, %v; want %d Retry-After %q", tc.f, status, header.Get("Retry-After"), err, tc.status, tc.retryAfter)
				}
				if tc.f == answerOK && body != "ok "+strconv.FormatUint(id, 10)+"\n" {
					t.Errorf("body %q", body)
				}
				st := svc.snapshot()
				if st.Requests != 1 || st.Faults[tc.f] != 1 {
					t.Errorf("%v: service counted %d requests, %v", tc.f, st.Requests, st.Faults)
				}
			}
		})
	}
}

func TestServiceOutage(t *testing.T) {
	sc := testScenario()
	down := sc
	down.outageFor = time.Hour
	svc, client := startService(t, down, false)
	for _, f := range []fault{answerOK, resetConn, answer503After} {
		status, header, _, err := get(t, client, svc, callWith(t, &sc, f))
		if err != nil || status != 503 || header.Get("Retry-After") != "" {
			t.Errorf("call planned %v during the outage: %d Retry-After %q, %v; want a bare 503", f, status, header.Get("Retry-After"), err)
		}
	}
	if st := svc.snapshot(); st.Faults[outage] != 3 {
		t.Errorf("outages counted: %v", st.Faults)
	}
}

// Arrivals of a call are numbered: the second draws from n=1.
func TestServiceNumbersArrivals(t *testing.T) {
	sc := testScenario()
	svc := newService(sc)
	for n := range 5 {
		f, lat := svc.arrive(42)
		if wf, wl := sc.plan(42, n, 0); f != wf || lat != wl {
			t.Errorf("arrival %d: %v %v, want %v %v", n, f, lat, wf, wl)
		}
	}
	svc.begin(time.Now())
	if f, _ := svc.arrive(42); f != mustPlan(sc, 42, 0) {
		t.Error("begin did not reset the arrivals")
	}
	st := svc.snapshot()
	var sum int64
	for _, n := range st.Load {
		sum += n
	}
	if st.Requests != 1 || sum != 1 {
		t.Errorf("after begin: %d requests, %d in the timeline; want 1", st.Requests, sum)
	}
}

func mustPlan(sc scenario, id uint64, n int) fault {
	f, _ := sc.plan(id, n, 0)
	return f
}

// The service checks every POST body against the one the call sends.
func TestServiceChecksBodies(t *testing.T) {
	sc := testScenario()
	svc, client := startService(t, sc, false)
	id := callWith(t, &sc, answerOK)
	good := postBody(sc.seed, id, sc.bodyBytes)
	if !bytes.Equal(good, postBody(sc.seed, id, sc.bodyBytes)) || bytes.Equal(good, postBody(sc.seed, id+1, sc.bodyBytes)) {
		t.Fatal("postBody is not a function of the seed and the call")
	}
	bad := bytes.Clone(good)
	bad[10] ^= 1
	for _, body := range [][]byte{good, bad, good[:20]} {
		svc.begin(time.Now())
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, svc.url, bytes.NewReader(body))
		req.Header.Set(callHeader, strconv.FormatUint(id, 10))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		st := svc.snapshot()
		wantIntact := int64(0)
		if len(body) == len(good) && body[10] == good[10] {
			wantIntact = 1
		}
		if st.Posts != 1 || st.PostsIntact != wantIntact {
			t.Errorf("body of %d bytes: %d posts, %d intact; want 1, %d", len(body), st.Posts, st.PostsIntact, wantIntact)
		}
	}
}

func TestServiceWantsCallHeader(t *testing.T) {
	svc, client := startService(t, testScenario(), false)
	resp, err := client.Get(svc.url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || svc.snapshot().Requests != 0 {
		t.Errorf("no %s: %d, want 400 and nothing counted", callHeader, resp.StatusCode)
	}
}

// testService is a service on loopback.
type testService struct {
	*service
	url string
}

func startService(t *testing.T, sc scenario, h2 bool) (*testService, *http.Client) {
	t.Helper()
	svc := newService(sc)
	srv := httptest.NewUnstartedServer(svc)
	srv.Config.ErrorLog = quietLog()
	if h2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	client := srv.Client()
	t.Cleanup(func() {
		client.CloseIdleConnections()
		srv.Close()
	})
	return &testService{svc, srv.URL}, client
}

func get(t *testing.T, client *http.Client, svc *testService, id uint64) (int, http.Header, string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, svc.url, nil)
	req.Header.Set(callHeader, strconv.FormatUint(id, 10))
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, err = io.Copy(&b, resp.Body)
	return resp.StatusCode, resp.Header, b.String(), err
}
