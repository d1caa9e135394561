package httpx_test

import (
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// Config.Validate names each bad field, and New returns exactly its error.
func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg   httpx.Config
		field string
	}{
		{httpx.Config{MaxReplayBytes: -1}, "Config.MaxReplayBytes"},
		{httpx.Config{MaxDrainBytes: -1}, "Config.MaxDrainBytes"},
		{httpx.Config{DrainTimeout: -1}, "Config.DrainTimeout"},
		{httpx.Config{AttemptTimeout: -time.Second}, "Config.AttemptTimeout"},
		{httpx.Config{Base: (*http.Transport)(nil)}, "Config.Base"},
		{httpx.Config{AttemptHeader: "Bad Header"}, "Config.AttemptHeader"},
		{httpx.Config{Retry: &retry.Policy{MaxAfter: -time.Second}}, "httpx: invalid argument: Config.Retry: Policy.MaxAfter"},
		{httpx.Config{Retry: &retry.Policy{AttemptTimeout: time.Second}}, "Config.Retry.AttemptTimeout"},
		{httpx.Config{Retry: &retry.Policy{SplitDeadline: true}}, "Config.Retry.SplitDeadline"},
		{httpx.Config{SplitDeadline: true, Retry: &retry.Policy{MaxAttempts: retry.Unlimited}}, "Unlimited"},
		{httpx.Config{Retry: &retry.Policy{Retryable: func(error) bool { return true }}}, "Config.Retry.Retryable"},
		{httpx.Config{Hedge: &retry.HedgePolicy{Delay: -time.Second}}, "httpx: invalid argument: Config.Hedge: HedgePolicy.Delay"},
		{httpx.Config{Hedge: &retry.HedgePolicy{Retryable: func(error) bool { return true }}}, "Config.Hedge.Retryable"},
		{httpx.Config{Hedge: &retry.HedgePolicy{OnDiscard: func(any) {}}}, "Config.Hedge.OnDiscard"},
	} {
		err := tt.cfg.Validate()
		if !errors.Is(err, httpx.ErrInvalid) || !errors.Is(err, retry.ErrInvalid) || !strings.Contains(err.Error(), tt.field) ||
			strings.Count(err.Error(), "invalid argument") != 1 {
			t.Errorf("Validate() = %v; want ErrInvalid naming %s", err, tt.field)
			continue
		}
		if tr, newErr := httpx.New(tt.cfg); tr != nil || newErr == nil || newErr.Error() != err.Error() {
			t.Errorf("New = %v, %v; want nil and Validate's error %v", tr, newErr, err)
		}
		if c, newErr := httpx.NewClient(tt.cfg); c != nil || newErr == nil || newErr.Error() != err.Error() {
			t.Errorf("NewClient = %v, %v; want nil and Validate's error %v", c, newErr, err)
		}
	}
	if err := (httpx.Config{}).Validate(); err != nil {
		t.Errorf("the zero Config: %v", err)
	}
}

// retryAtOnce is a 503 that asks for a retry at once, so that the zero
// Transport, whose backoff runs on real time, does not wait.
var retryAtOnce = withHeader(status(http.StatusServiceUnavailable, "busy"), "Retry-After", "0")

// The zero Transport (which used to refuse every request) sends through
// http.DefaultTransport with the zero Policy: a 503 is retried, the 200
// comes back whole, and the 503's connection was reused.
func TestZeroTransportHTTP1(t *testing.T) {
	srv := newScript(t, false, retryAtOnce, status(http.StatusOK, "ok"))
	var tr httpx.Transport
	defer tr.CloseIdleConnections() // http.DefaultTransport's
	resp, err := (&http.Client{Transport: &tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("%s %q; want 200 ok", resp.Status, body)
	}
	if hits, conns := srv.hits.Load(), srv.conns.Load(); hits != 2 || conns != 1 {
		t.Fatalf("%d requests on %d connections; want 2 on 1", hits, conns)
	}
}

// The same over HTTP/2. http.DefaultTransport trusts only the system's
// certificates, so the request is made by a child process whose
// SSL_CERT_FILE holds the test server's.
func TestZeroTransportHTTP2(t *testing.T) {
	if url := os.Getenv("HTTPX_ZERO_URL"); url != "" {
		zeroTransportChild(t, url)
		return
	}
	srv := newScript(t, true, retryAtOnce, status(http.StatusOK, "ok"))
	certs := filepath.Join(t.TempDir(), "cert.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(certs, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestZeroTransportHTTP2$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "HTTPX_ZERO_URL="+srv.URL, "SSL_CERT_FILE="+certs)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if hits, conns := srv.hits.Load(), srv.conns.Load(); hits != 2 || conns != 1 {
		t.Fatalf("%d requests on %d connections; want 2 on 1", hits, conns)
	}
}

func zeroTransportChild(t *testing.T, url string) {
	var tr httpx.Transport
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: &tr}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK || body != "ok" || resp.ProtoMajor != 2 {
		t.Fatalf("%s %s %q; want HTTP/2 200 ok", resp.Proto, resp.Status, body)
	}
}

// The zero Transport decides as New(Config{}) does: three attempts, then
// the last retryable response, body intact.
func TestZeroTransportMatchesNew(t *testing.T) {
	fromNew, err := httpx.New(httpx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var zero httpx.Transport
	for name, rt := range map[string]*httpx.Transport{"zero": &zero, "New(Config{})": fromNew} {
		t.Run(name, func(t *testing.T) {
			defer rt.CloseIdleConnections()
			srv := newScript(t, false, retryAtOnce, retryAtOnce, retryAtOnce, status(http.StatusOK, "ok"))
			resp, err := (&http.Client{Transport: rt}).Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			if body := readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable || body != "busy" {
				t.Fatalf("%s %q; want the third 503, body intact", resp.Status, body)
			}
			if hits := srv.hits.Load(); hits != 3 {
				t.Fatalf("%d requests; want 3", hits)
			}
		})
	}
}
