package httpx_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// One retry budget per host, bounded: at most 100 hosts, and a host idle
// for 5 minutes is dropped. The function is told each host's key.
func ExampleNewPerHost() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()

	budgets, err := httpx.NewPerHost(httpx.PerHostConfig{MaxHosts: 100, IdleTimeout: 5 * time.Minute},
		func(host string) retry.Budget {
			return &retry.TokenBucket{}
		})
	if err != nil {
		panic(err)
	}
	client, err := httpx.NewClient(httpx.Config{Budget: budgets.For})
	if err != nil {
		panic(err)
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(budgets.Len())
	// Output: 1
}

// The breakers of a PerHost, listed for metrics: each is named after its
// host, under the BreakerConfig's name.
func ExamplePerHost_All() {
	breakers, err := httpx.Breakers(retry.BreakerConfig{Name: "payments"}, httpx.PerHostConfig{})
	if err != nil {
		panic(err)
	}
	breakers.For(httptest.NewRequest("GET", "https://API.example.com:443/pay", nil))
	breakers.For(httptest.NewRequest("GET", "https://ledger.example.com:8443/", nil))
	for host, b := range breakers.All() {
		fmt.Println(host, b.State())
	}
	// Output:
	// api.example.com closed
	// ledger.example.com:8443 closed
}
