package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// runLab runs the lab with args, wants exit code want, and returns stdout.
func runLab(t *testing.T, ctx context.Context, want int, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, args, &stdout, &stderr); code != want {
		t.Fatalf("%q: exit %d, want %d: %s", args, code, want, stderr.String())
	}
	return stdout.String()
}

// badFlag checks that args are refused as a usage error naming want.
func badFlag(t *testing.T, args []string, want string) {
	t.Helper()
	_, err := parseFlags(args, io.Discard)
	if _, ok := errors.AsType[*usageError](err); !ok {
		t.Errorf("%q: err = %v, want a usage error", args, err)
		return
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%q: err = %q, want it to mention %q", args, err, want)
	}
}

// NaN fails every comparison, so a range check written as "v < lo || v > hi"
// lets it through: -rate NaN ran one call, a NaN latency share was taken,
// and -hedge-quantile, -budget and -breaker-ratio NaN failed with exit 1
// only when their client was built, after the clients before it had run.
func TestHostileNaNFlags(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"-rate", "NaN", "-rate"},
		{"-errors", "NaN", "-errors"},
		{"-hedge-quantile", "NaN", "-hedge-quantile"},
		{"-budget", "NaN", "-budget"},
		{"-breaker-ratio", "NaN", "-breaker-ratio"},
		{"-latency", "1ms:NaN", "share"},
		{"-latency", "1ms:0.5,1ms:NaN,1ms:0.5", "share"},
	} {
		badFlag(t, []string{tc.flag, tc.value}, tc.want)
	}
}

// The workload is drawn up front, one entry per call: -duration 1000h ran
// out of memory, and -rate 100000 -duration 1h drew 360 million calls.
func TestHostileHugeWorkload(t *testing.T) {
	badFlag(t, []string{"-duration", "1000h"}, "-duration")
	badFlag(t, []string{"-rate", "100000", "-duration", "1h"}, "calls")
	badFlag(t, []string{"-rate", "1000", "-duration", "1h"}, "calls")
	if _, err := parseFlags([]string{"-duration", "1h"}, io.Discard); err != nil {
		t.Errorf("-duration 1h at the default rate: %v", err)
	}
}

// -url promises a real service at most -rate requests a second and
// -concurrency at once, but the limits applied to calls: a service that
// answered 503 got 4 requests per call (200/s at -rate 50), and a slow one
// got the hedged copies on top (17 at once at -concurrency 8). Here, at one
// request a second, a call's retries cannot go before its deadline.
func TestHostileURLLimitsRequests(t *testing.T) {
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	out := runLab(t, t.Context(), 0, "-url", srv.URL, "-clients", "retry", "-rate", "1", "-duration", "1s", "-timeout", "200ms", "-json")
	if seen.Load() != 1 || !strings.Contains(out, `"requests": 1,`) {
		t.Errorf("the service saw %d requests for one call at 1/s:\n%s", seen.Load(), out)
	}
}

// gentle spaces requests by 1/rate and sends at most cap at once; a request
// cancelled while it waits for a place gives up.
func TestHostileGentlePacesRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var inflight, most atomic.Int64
		var mu sync.Mutex
		var sent []time.Time
		hold := make(chan struct{})
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			n := inflight.Add(1)
			defer inflight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			mu.Lock()
			sent = append(sent, time.Now())
			mu.Unlock()
			select {
			case <-hold:
			case <-time.After(100 * time.Millisecond):
			}
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: http.NoBody}, nil
		})
		g := newGentle(base, 50, 3)
		get := func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://svc.test/", nil)
			resp, err := g.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if err := get(t.Context()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		slices.SortFunc(sent, time.Time.Compare)
		for i := 1; i < len(sent); i++ {
			if d := sent[i].Sub(sent[i-1]); d < 20*time.Millisecond {
				t.Errorf("requests %d and %d %v apart, want at least 20ms at 50/s", i-1, i, d)
			}
		}
		if len(sent) != 10 || most.Load() != 3 {
			t.Errorf("%d sent, %d at most at once; want 10 and 3", len(sent), most.Load())
		}

		// Three in flight: a fourth waits for a place until its deadline.
		hold = make(chan struct{})
		for range 3 {
			wg.Go(func() { get(t.Context()) })
		}
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		if err := get(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a request with no place: err = %v, want the deadline", err)
		}
		close(hold)
		wg.Wait()
		if n := len(g.slots); n != 0 {
			t.Errorf("%d places still taken with every request done", n)
		}
	})
}

// -json is for scripts, so its scenario must say how the run was set up:
// it left out -retry-after, -posts, -body, -timeout, the backoff, the hedge
// delay, the budget, the breaker and the clients, and gave the latency
// tiers in nanoseconds under a name without a unit.
func TestHostileJSONScenarioComplete(t *testing.T) {
	args := []string{"-retry-after", "0.5", "-posts", "0.2", "-body", "99", "-timeout", "2s",
		"-backoff", "3ms", "-backoff-max", "30ms", "-hedge-quantile", "0.9", "-budget", "0.2",
		"-breaker-ratio", "0.6", "-breaker-open", "400ms", "-clients", "plain,hedge", "-latency", "2ms:1"}
	o, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeJSON(&out, o, nil); err != nil {
		t.Fatal(err)
	}
	var got struct{ Scenario map[string]any }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"retry_after": 0.5, "posts": 0.2, "body_bytes": 99.0, "timeout_ms": 2000.0,
		"backoff_ms": 3.0, "backoff_max_ms": 30.0, "hedge_quantile": 0.9, "budget": 0.2,
		"breaker_ratio": 0.6, "breaker_open_ms": 400.0,
	} {
		if v := got.Scenario[key]; v != want {
			t.Errorf("scenario[%q] = %v, want %v", key, v, want)
		}
	}
	if s := fmt.Sprint(got.Scenario["clients"]); s != "[plain hedge]" {
		t.Errorf("clients = %s", s)
	}
	if s := fmt.Sprint(got.Scenario["latency"]); s != "[map[latency_ms:2 share:1]]" {
		t.Errorf("latency = %s, want the tiers in ms", s)
	}
}

// An outage that starts after the last call never happens, yet the table
// said "outage 10s–10.5s" and the report drew its band off the chart.
func TestHostileOutageOutsideRun(t *testing.T) {
	badFlag(t, []string{"-outage-at", "10s"}, "-outage-at")
	badFlag(t, []string{"-duration", "1s", "-outage-at", "1s", "-outage-for", "100ms"}, "-outage-at")
	if _, err := parseFlags([]string{"-outage-at", "10s", "-outage-for", "0"}, io.Discard); err != nil {
		t.Errorf("no outage: %v", err)
	}
}

// With no successful call (a service that is down, an interrupt before the
// first call ended) the chart data had "grid":null or "time":null, the
// page's script threw, and none of its charts drew.
func TestHostileReportWithNothingToPlot(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	failed := summarize("plain", []record{{start: 0, latency: time.Millisecond, ended: true}})
	for _, results := range [][]result{nil, {failed}, {summarize("plain", nil)}} {
		data, err := json.Marshal(charts(o, results))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"clients", "grid", "cdf", "time", "success", "load"} {
			if _, ok := got[key].([]any); !ok {
				t.Errorf("%d results: %q is %v, not a list the page can plot", len(results), key, got[key])
			}
		}
	}
}

// The terminal's table prints "-" for the latency of a client with no
// successful call; the report printed 0 ms, a latency nothing had.
func TestHostileReportNoLatencyIsDash(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	failed := summarize("plain", []record{{latency: time.Millisecond, ended: true}})
	var page bytes.Buffer
	if err := writeReport(&page, o, []result{failed}); err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`<tr><td>plain</td>.*</tr>`).FindString(page.String())
	if want := "<td>0.00</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td>"; !strings.Contains(row, want) {
		t.Errorf("row %s lacks %s", row, want)
	}
}

// -backoff 0 passed a zero Base to retry.Exponential, where zero means the
// default: 100ms, and with -backoff-max 0 up to 10s, while the table said
// "backoff 0s–0s". Zero means no wait.
func TestHostileZeroBackoff(t *testing.T) {
	for _, args := range [][]string{{"-backoff", "0"}, {"-backoff", "0", "-backoff-max", "0"}} {
		o, err := parseFlags(args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		b := backoff(o)
		for attempt := 1; attempt <= 3; attempt++ {
			if d := b.Delay(attempt, 0, 0.99); d != 0 {
				t.Errorf("%q: attempt %d waits %v, want 0", args, attempt, d)
			}
		}
	}
	o, _ := parseFlags([]string{"-backoff", "4ms", "-backoff-max", "6ms"}, io.Discard)
	if d := backoff(o).Delay(3, 0, 0.999); d <= 4*time.Millisecond || d > 6*time.Millisecond {
		t.Errorf("-backoff 4ms -backoff-max 6ms: the third attempt waits %v, want it in (4ms, 6ms]", d)
	}
}

// With -url, the requests are paced, so a failing service (each call's
// retries waiting their turn) stretched a client's run far past -duration:
// 4 minutes per client for -duration 1m against a service that answers
// 503. Calls not started by the end of -duration are left out. Here one
// call's 4 attempts at 2 a second outlast the run's second.
func TestHostileURLRunEndsWithDuration(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	out := runLab(t, t.Context(), 0, "-url", srv.URL, "-clients", "retry", "-rate", "2", "-concurrency", "1", "-duration", "1s", "-json")
	var got report
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if r := got.Results[0]; r.Calls != 1 || r.Requests != 4 {
		t.Errorf("%d calls, %d requests; want 1 and 4 (the second call due when the run is over)", r.Calls, r.Requests)
	}
}

// Interrupted before the first client ran, -json printed "results": null,
// which a script that loops over the results trips on.
func TestHostileJSONInterruptedAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	out := runLab(t, ctx, 130, "-json", "-duration", "100ms")
	if !strings.Contains(out, `"results": []`) {
		t.Errorf("want an empty list of results:\n%s", out)
	}
}

// -url follows no redirect: "only aim it at a service you own" held for
// the URL given, but a redirect sent the lab's traffic wherever it pointed,
// a service of someone else's included.
func TestHostileURLFollowsNoRedirect(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	srv := httptest.NewServer(http.RedirectHandler(other.URL, http.StatusFound))
	defer srv.Close()
	runLab(t, t.Context(), 0, "-url", srv.URL, "-rate", "20", "-duration", "100ms", "-json")
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect's target got %d requests", n)
	}
}

// A -url with a password in it (http://user:secret@host/) printed the
// password in the table, the JSON and the report: all made to be pasted.
func TestHostileURLPasswordRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	secretURL := strings.Replace(srv.URL, "http://", "http://me:hunter2@", 1)
	page := t.TempDir() + "/lab.html"
	for _, format := range []string{"-json", "-json=false"} {
		out := runLab(t, t.Context(), 0, "-url", secretURL, "-rate", "20", "-duration", "50ms", "-clients", "plain", format, "-report", page)
		html, _ := os.ReadFile(page)
		for what, text := range map[string]string{format: out, "report": string(html)} {
			if strings.Contains(text, "hunter2") {
				t.Errorf("%s shows the password", what)
			}
			if !strings.Contains(text, "me:xxxxx@") {
				t.Errorf("%s does not show the URL, redacted", what)
			}
		}
	}
}

// Interrupted, the table said "the counts cover the calls that ended", but
// requests (so load), retries, hedges and POSTs also count the calls cut
// short: here the service sees 5 requests for the 4 calls that ended.
func TestHostileInterruptedFootnote(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) == 5 {
			cancel()
			<-r.Context().Done() // this call is cut short
		}
	}))
	defer srv.Close()
	out := runLab(t, ctx, 130, "-url", srv.URL, "-rate", "50", "-concurrency", "1", "-clients", "plain")
	if !regexp.MustCompile(`plain\*.*\s4\s.*1\.25×`).MatchString(out) {
		t.Fatalf("want 4 calls and 5 requests:\n%s", out)
	}
	if strings.Contains(out, "the counts cover the calls that ended") || !strings.Contains(out, "cut short") {
		t.Errorf("the footnote must say which numbers include the calls cut short:\n%s", out)
	}
}
