package main

import (
	"bytes"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsDefaults(t *testing.T) {
	o, err := parseFlags(nil, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != 4*time.Second || o.rate != 300 || o.concurrency != 32 || o.attempts != 4 {
		t.Errorf("defaults: duration %v rate %v concurrency %d attempts %d", o.duration, o.rate, o.concurrency, o.attempts)
	}
	if len(o.latency) != 3 || o.latency[0] != (tier{2 * time.Millisecond, 0.95}) {
		t.Errorf("latency = %v", o.latency)
	}
	if o.outageAt != 1500*time.Millisecond || o.outageFor != 500*time.Millisecond {
		t.Errorf("outage %v for %v, want 1.5s for 500ms", o.outageAt, o.outageFor)
	}
	if strings.Join(o.clients, ",") != "plain,retry,hedge,guarded" {
		t.Errorf("clients = %v", o.clients)
	}
}

// The outage stays in the middle of the run unless placed by hand; -outage-for 0
// turns it off.
func TestParseFlagsOutage(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		at, span time.Duration
	}{
		{[]string{"-duration", "8s"}, 3 * time.Second, time.Second},
		{[]string{"-duration", "8s", "-outage-at", "1s"}, time.Second, time.Second},
		{[]string{"-outage-for", "0s"}, 1500 * time.Millisecond, 0},
	} {
		o, err := parseFlags(tc.args, new(bytes.Buffer))
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
		} else if o.outageAt != tc.at || o.outageFor != tc.span {
			t.Errorf("%q: outage %v for %v; want %v for %v", tc.args, o.outageAt, o.outageFor, tc.at, tc.span)
		}
	}
}

func TestParseFlagsGood(t *testing.T) {
	o, err := parseFlags([]string{
		"-duration", "1s", "-rate", "50", "-seed", "7", "-latency", "1ms:0.5, 10ms:0.5",
		"-clients", "guarded,plain,plain", "-hedge-delay", "5ms", "-h2", "-json", "-report", "x.html",
	}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != time.Second || o.rate != 50 || o.seed != 7 || !o.h2 || !o.json || o.report != "x.html" || o.hedgeDelay != 5*time.Millisecond {
		t.Errorf("options = %+v", o)
	}
	if len(o.latency) != 2 || o.latency[1].Latency != 10*time.Millisecond {
		t.Errorf("latency = %v", o.latency)
	}
	if got := strings.Join(o.clients, ","); got != "plain,guarded" {
		t.Errorf("clients = %s, want plain,guarded (run order, once each)", got)
	}
}

// With -url, the rate and concurrency that were not set drop to gentle
// values; ones set explicitly are kept within the limits.
func TestParseFlagsURLDefaults(t *testing.T) {
	o, err := parseFlags([]string{"-url", "http://127.0.0.1:8080/health"}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if o.rate != 10 || o.concurrency != 4 {
		t.Errorf("-url: rate %v concurrency %d, want 10 and 4", o.rate, o.concurrency)
	}
	o, err = parseFlags([]string{"-url", "https://example.test/", "-rate", "50", "-concurrency", "8"}, new(bytes.Buffer))
	if err != nil || o.rate != 50 || o.concurrency != 8 {
		t.Errorf("-url at the limits: %v, %+v", err, o)
	}
}

func TestParseFlagsBad(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "not defined: -nope"},
		{[]string{"-duration", "soon"}, "-duration"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-duration", "0s"}, "-duration must be positive"},
		{[]string{"-rate", "-1"}, "-rate"},
		{[]string{"-concurrency", "0"}, "-concurrency"},
		{[]string{"-errors", "1.5"}, "-errors"},
		{[]string{"-errors", "0.6", "-resets", "0.6"}, "-errors plus -resets"},
		{[]string{"-outage-for", "-1s"}, "-outage-at and -outage-for"},
		{[]string{"-body", "0"}, "-body"},
		{[]string{"-attempts", "11"}, "-attempts"},
		{[]string{"-backoff", "1s", "-backoff-max", "1ms"}, "-backoff"},
		{[]string{"-hedge-quantile", "1"}, "-hedge-quantile"},
		{[]string{"-budget", "0"}, "-budget"},
		{[]string{"-breaker-ratio", "2"}, "-breaker-ratio"},
		{[]string{"-breaker-open", "0s"}, "-breaker-open"},
		{[]string{"-latency", "2ms"}, "not duration:share"},
		{[]string{"-latency", "fast:1"}, `"fast"`},
		{[]string{"-latency", "2ms:0.5"}, "sum to 0.5"},
		{[]string{"-latency", "2ms:0"}, "share in (0, 1]"},
		{[]string{"-clients", "plain,magic"}, `unknown client "magic"`},
		{[]string{"-url", "ftp://host/"}, "http or https"},
		{[]string{"-url", "http://"}, "with a host"},
		{[]string{"-url", "http://127.0.0.1/", "-rate", "51"}, "-rate at most 50"},
		{[]string{"-url", "http://127.0.0.1/", "-concurrency", "9"}, "-concurrency at most 8"},
		{[]string{"-url", "http://127.0.0.1/", "-duration", "2m"}, "-duration at most 1m"},
		{[]string{"-url", "http://127.0.0.1/", "-h2"}, "-h2 shapes the lab's own service"},
		{[]string{"-url", "http://127.0.0.1/", "-errors", "0.1"}, "-errors shapes"},
	} {
		var out bytes.Buffer
		_, err := parseFlags(tc.args, &out)
		if _, ok := errors.AsType[*usageError](err); !ok {
			t.Errorf("%q: err = %v, want a *usageError", tc.args, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %q, want it to mention %q", tc.args, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%q: parseFlags printed %q; the caller reports the error", tc.args, out.String())
		}
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseFlags([]string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Usage: retrylab", "-url", "-hedge-quantile", "only aim it at a service you own"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

// run exits 2 with one clear line for a bad flag, and 0 for -h.
func TestRunExitCodes(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"-rate", "0"}, &stdout, &stderr); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	if got := stderr.String(); !strings.HasPrefix(got, "retrylab: -rate must be in (0, 100000]\n") {
		t.Errorf("stderr = %q", got)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
	stderr.Reset()
	if code := run(t.Context(), []string{"-help"}, &stdout, &stderr); code != 0 {
		t.Errorf("-help: exit %d, want 0", code)
	}
	// A report that cannot be written fails before the run, not after it.
	stderr.Reset()
	bad := filepath.Join(t.TempDir(), "no", "such", "dir", "lab.html")
	if code := run(t.Context(), []string{"-report", bad, "-duration", "1h"}, &stdout, &stderr); code != 1 || stdout.Len() != 0 {
		t.Errorf("-report %s: exit %d, stdout %q; want 1 and nothing", bad, code, stdout.String())
	}
}
