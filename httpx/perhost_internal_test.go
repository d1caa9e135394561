package httpx

import (
	"net/http/httptest"
	"testing"

	"github.com/retrykit/retry"
)

// The key of a host: lower case, and no port when it is the scheme's
// default (or empty), so that spellings of one address share an entry.
func TestHostKey(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"https://api.example.com/x", "api.example.com"},
		{"https://API.Example.COM:443/x", "api.example.com"},
		{"http://api.example.com/", "api.example.com:80"},
		{"http://api.example.com:80/", "api.example.com:80"},
		{"http://api.example.com:443/", "api.example.com"}, // port 443, as https://api.example.com
		{"https://api.example.com:80/", "api.example.com:80"},
		{"https://api.example.com:8443/", "api.example.com:8443"},
		{"HTTPS://api.example.com:443/", "api.example.com"},
		{"http://api.example.com:/", "api.example.com:80"},
		{"https://api.example.com:/", "api.example.com"},
		{"https://[::1]:443/", "[::1]"},
		{"http://[::1]/", "[::1]:80"},
		{"http://[fe80::1%25en0]:8080/", "[fe80::1%en0]:8080"},
		{"http://127.0.0.1:8080/", "127.0.0.1:8080"},
		{"http://ÄPFEL.example/", "äpfel.example:80"},
		{"https://ÄPFEL.example:8443/", "äpfel.example:8443"},
	} {
		req := httptest.NewRequest("GET", tc.url, nil)
		if got := hostKey(req).String(); got != tc.want {
			t.Errorf("hostKey(%s) = %q, want %q", tc.url, got, tc.want)
		}
	}
	// http://h and https://h are two hosts: ports 80 and 443.
	plain, secure := httptest.NewRequest("GET", "http://h/", nil), httptest.NewRequest("GET", "https://h/", nil)
	if hostKey(plain) == hostKey(secure) {
		t.Error("http://h and https://h share a key")
	}
}

// Breakers names each breaker after its host, under cfg.Name if set.
func TestHostBreakerName(t *testing.T) {
	if got := hostBreaker(retry.BreakerConfig{Name: "payments"}, "api.example.com").Name; got != "payments/api.example.com" {
		t.Errorf("named: %q", got)
	}
	if got := hostBreaker(retry.BreakerConfig{}, "api.example.com:8443").Name; got != "api.example.com:8443" {
		t.Errorf("unnamed: %q", got)
	}
}

// For on a known host allocates nothing, whatever the spelling of a host
// in lower case.
func TestPerHostForAllocs(t *testing.T) {
	p, err := Breakers(retry.BreakerConfig{}, PerHostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{
		"https://api.example.com/x",
		"https://api.example.com:443/x",
		"https://a-rather-long-service-name.namespace.svc.cluster.local:8443/x",
	} {
		req := httptest.NewRequest("GET", url, nil)
		p.For(req)
		if n := testing.AllocsPerRun(100, func() { p.For(req) }); n != 0 {
			t.Errorf("For(%s) on a known host: %v allocations", url, n)
		}
	}
}
