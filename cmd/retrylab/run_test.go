package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// One short run of the whole lab. With no resets, no Retry-After and no
// outage, what the plain and retry clients get is fixed by the seed: the
// test replays the service's plan to know it.
func TestRunEndToEnd(t *testing.T) {
	pagePath := filepath.Join(t.TempDir(), "lab.html")
	args := []string{
		"-duration", "300ms", "-rate", "200", "-concurrency", "4", "-seed", "3",
		"-latency", "1ms:1", "-errors", "0.3", "-resets", "0", "-retry-after", "0", "-outage-for", "0",
		"-posts", "0.5", "-body", "300", "-attempts", "3", "-backoff", "1ms", "-backoff-max", "2ms",
		"-breaker-ratio", "1", // only a service failing every call trips it: every POST arrives
		"-json", "-report", pagePath,
	}
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing when not a terminal", stderr.String())
	}
	var got report
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, stdout.String())
	}
	o, _ := parseFlags(args, io.Discard)
	calls := workload(o)
	sc := o.scenario
	plainOK, retryOK, retries, posts := 0, 0, 0, 0
	for _, c := range calls {
		if c.post {
			posts++
		}
		if f, _ := sc.plan(c.id, 0, 0); f == answerOK {
			plainOK++
		}
		for n := range o.attempts {
			if f, _ := sc.plan(c.id, n, 0); f == answerOK {
				retryOK++
				break
			}
			if n < o.attempts-1 {
				retries++
			}
		}
	}
	if len(calls) != 60 || len(got.Results) != 4 {
		t.Fatalf("%d calls, %d results; want 60 and 4", len(calls), len(got.Results))
	}
	for i, r := range got.Results {
		if r.Client != clientNames[i] || r.Calls != 60 || r.Interrupted {
			t.Errorf("result %d: %s, %d calls, interrupted %v", i, r.Client, r.Calls, r.Interrupted)
		}
		if r.Posts < int64(posts) || r.PostsIntact != r.Posts {
			t.Errorf("%s: %d of %d POSTs intact; the workload has %d", r.Client, r.PostsIntact, r.Posts, posts)
		}
		if r.OK > 0 && !(r.Latency.P50 <= r.Latency.P99 && r.Latency.P99 <= r.Latency.Max && r.Latency.P50 > 0) {
			t.Errorf("%s: quantiles out of order: %+v", r.Client, r.Latency)
		}
	}
	plain, retried := got.Results[0], got.Results[1]
	if plain.OK != plainOK || plain.Requests != 60 || plain.LoadX != 1 || plain.Retries != 0 {
		t.Errorf("plain: %d ok, %d requests (%.2f×), %d retries; want %d, 60, 1×, 0", plain.OK, plain.Requests, plain.LoadX, plain.Retries, plainOK)
	}
	if retried.OK != retryOK || retried.Retries != int64(retries) || retried.Requests != int64(60+retries) {
		t.Errorf("retry: %d ok, %d retries, %d requests; want %d, %d, %d", retried.OK, retried.Retries, retried.Requests, retryOK, retries, 60+retries)
	}
	// Bodies drained and closed: connections are reused. A leak would need
	// one for each retry. (A dial may race a connection going back to the
	// pool, hence the slack.)
	for _, r := range got.Results[:2] {
		if r.Conns > 2*4 {
			t.Errorf("%s: %d connections for 4 calls at a time: are bodies closed?", r.Client, r.Conns)
		}
	}
	if got.Results[2].HedgeDelayMS <= 0 || got.Results[3].HedgeDelayMS <= 0 || got.Results[1].HedgeDelayMS != 0 {
		t.Errorf("hedge delays: %v, %v, %v", got.Results[1].HedgeDelayMS, got.Results[2].HedgeDelayMS, got.Results[3].HedgeDelayMS)
	}
	if plainOK >= retryOK {
		t.Errorf("the seed gives retries nothing to fix (%d vs %d ok): pick another", plainOK, retryOK)
	}

	page, err := os.ReadFile(pagePath)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, string(page), got)
}

// checkReport checks that the page is whole and offline, and holds the data.
func checkReport(t *testing.T, page string, want report) {
	t.Helper()
	for _, s := range []string{
		"<title>retrylab report</title>",
		"Leon Sorokin", // uPlot's license
		"uPlot",
		"data-charts-drawn",
		`"clients":["plain","retry","hedge","guarded"]`,
		`id="cdf"`, `id="success"`, `id="load"`,
	} {
		if !strings.Contains(page, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	if regexp.MustCompile(`(?i)<(script|link|img)[^>]+(src|href)=`).MatchString(page) {
		t.Error("report loads a resource from elsewhere; it must open offline")
	}
	m := regexp.MustCompile(`var data = (\{.*\});`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("report has no chart data")
	}
	var d chartData
	if err := json.Unmarshal([]byte(m[1]), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.CDF) != 4 || len(d.Grid) == 0 || len(d.Success) != 4 || len(d.Load) != 4 || len(d.Time) == 0 {
		t.Fatalf("chart data: %d CDFs over %d points, %d success and %d load series over %d buckets", len(d.CDF), len(d.Grid), len(d.Success), len(d.Load), len(d.Time))
	}
	for i, r := range want.Results {
		if last := d.CDF[i][len(d.Grid)-1]; r.OK > 0 && last != 1 {
			t.Errorf("%s: CDF ends at %v, want 1", r.Client, last)
		}
		var load float64
		for _, v := range d.Load[i] {
			load += v * bucketWidth.Seconds()
		}
		if int64(load+0.5) != r.Requests {
			t.Errorf("%s: the load series adds up to %.1f requests, the table says %d", r.Client, load, r.Requests)
		}
	}
}

func TestRunTable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"-duration", "100ms", "-rate", "100", "-clients", "plain,guarded", "-latency", "1ms:1", "-retry-after", "0", "-outage-for", "0", "-h2"}
	if code := run(t.Context(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"service (HTTP/2)", "p99.9", "POSTs intact", "+ breaker and budget", "load: requests the server saw", "hedges: a second copy after the p95 of recent latencies (at the end: "} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if rows := regexp.MustCompile(`(?m)^\s+(plain|guarded)\s+\S.*\s10\s`).FindAllString(out, -1); len(rows) != 2 {
		t.Errorf("want a row of 10 calls for plain and guarded:\n%s", out)
	}
}

// With -url the lab sends GETs to the given service, and an interrupt
// (here: the service cancels the run at its fifth request) stops it at
// once, still printing what was measured, with exit code 130.
func TestRunURLInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var seen atomic.Int64
	var methods, headers atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			methods.Add(1)
		}
		if r.Header.Get(callHeader) != "" {
			headers.Add(1)
		}
		if seen.Add(1) == 5 {
			cancel()
		}
		io.WriteString(w, "fine")
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"-url", srv.URL + "/health", "-rate", "50", "-duration", "1m"}, &stdout, &stderr)
	if code != 130 {
		t.Errorf("exit %d, want 130; stderr %q", code, stderr.String())
	}
	if methods.Load() != 0 || headers.Load() != 0 {
		t.Errorf("-url sent %d requests that were not GETs, %d with the lab's header", methods.Load(), headers.Load())
	}
	out := stdout.String()
	if !strings.Contains(out, "GET "+srv.URL+"/health") || !strings.Contains(out, "plain*") || !strings.Contains(out, "* interrupted") {
		t.Errorf("output:\n%s", out)
	}
	if strings.Contains(out, "retry ") {
		t.Errorf("the run went on to the next client after the interrupt:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr = %q", stderr.String())
	}
}
