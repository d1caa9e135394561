package httpx

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter parses a Retry-After header value into a wait from now: either
// delta-seconds (a non-negative integer) or an HTTP-date in any of the three
// formats of RFC 9110 (IMF-fixdate, RFC 850, asctime). A date in the past
// is a wait of zero. A huge number of seconds saturates at the largest
// Duration instead of overflowing. Anything else (a negative or fractional
// number, garbage, an empty value) reports false.
func ParseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && allDigits(v) {
				return time.Duration(math.MaxInt64), true
			}
			return 0, false
		}
		if secs > uint64(math.MaxInt64/int64(time.Second)) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// retryAfter reads the Retry-After of resp. More than one header value is
// ambiguous and counts as none.
func retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	values := resp.Header.Values("Retry-After")
	if len(values) != 1 {
		return 0, false
	}
	return ParseRetryAfter(values[0], now)
}
