package httpx_test

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/retrykit/retry/httpx"
)

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{now.Add(time.Minute).Format(http.TimeFormat), time.Minute, true},
		{"Wednesday, 25-Nov-26 12:00:30 GMT", 30 * time.Second, true}, // RFC 850
		{"Wed Nov 25 12:00:45 2026", 45 * time.Second, true},          // asctime
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"9999999999", time.Duration(math.MaxInt64), true},
		{"18446744073709551616", time.Duration(math.MaxInt64), true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"12abc", 0, false},
	}
	for _, tt := range tests {
		got, ok := httpx.ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzRetryAfter: never a panic, never a negative wait.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "-1", "9999999999", "99999999999999999999999", "Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "", " ", "1.5", "+5"} {
		f.Add(s, int64(0))
		f.Add(s, int64(math.MaxInt64))
		f.Add(s, int64(math.MinInt64))
	}
	f.Fuzz(func(t *testing.T, s string, now int64) {
		d, ok := httpx.ParseRetryAfter(s, time.Unix(0, now))
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("RetryAfter(%q) = %v, %v", s, d, ok)
		}
	})
}
