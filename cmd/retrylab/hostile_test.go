package main

import (
	"errors"
	"io"
	"strings"
	"testing"
)

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
