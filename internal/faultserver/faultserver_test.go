package faultserver_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/retrykit/retry/internal/faultserver"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func protocols(t *testing.T, f func(t *testing.T, srv *faultserver.Server, c *http.Client)) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP1", true: "HTTP2"}[h2], func(t *testing.T) {
			srv := faultserver.New(h2)
			defer srv.Close()
			tr := srv.Transport()
			defer tr.CloseIdleConnections()
			f(t, srv, &http.Client{Transport: tr})
		})
	}
}

// TestScriptRecords checks that steps run in order, the last repeating,
// and that each request's body, connection and answer are recorded.
func TestScriptRecords(t *testing.T) {
	protocols(t, func(t *testing.T, srv *faultserver.Server, c *http.Client) {
		sc := srv.Script(faultserver.Answer(503, "Retry-After", "1"), faultserver.OK())
		body := faultserver.Payload("x", 3000)
		for _, want := range []int{503, 200, 200} {
			resp, err := c.Post(sc.URL(), "text/plain", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want || !bytes.Equal(got, faultserver.ResponseBody(want)) {
				t.Errorf("status %d with %d bytes; want %d", resp.StatusCode, len(got), want)
			}
		}
		recs := sc.Records()
		if len(recs) != 3 {
			t.Fatalf("%d records; want 3", len(recs))
		}
		for i, r := range recs {
			if !r.Whole || !bytes.Equal(r.Body, body) || r.Step != i || r.End != faultserver.EndAnswered {
				t.Errorf("record %d: whole %v, %d bytes, step %d, end %q", i, r.Whole, len(r.Body), r.Step, r.End)
			}
			if r.Conn != recs[0].Conn || r.Reused != (i > 0) {
				t.Errorf("record %d: on %s (reused %v); want all on %s", i, r.Conn, r.Reused, recs[0].Conn)
			}
		}
		if recs[0].Status != 503 || recs[0].Header == nil {
			t.Errorf("record 0: status %d", recs[0].Status)
		}
	})
}

// TestTransportFaults checks that each transport fault fails the client's
// request, and that a hang ends when the client gives up.
func TestTransportFaults(t *testing.T) {
	protocols(t, func(t *testing.T, srv *faultserver.Server, c *http.Client) {
		for _, step := range []faultserver.Step{faultserver.Reset(), faultserver.ReadPartThenClose(1)} {
			sc := srv.Script(step)
			resp, err := c.Post(sc.URL(), "text/plain", bytes.NewReader(faultserver.Payload("y", 100)))
			if err == nil {
				resp.Body.Close()
				t.Errorf("%s: status %d; want an error", step.Name, resp.StatusCode)
			}
		}
		sc := srv.Script(faultserver.PartialBody())
		resp, err := c.Get(sc.URL())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Error("partial body: read whole")
		}
		resp.Body.Close()

		sc = srv.Script(faultserver.Hang())
		ctx, cancel := context.WithCancel(context.Background())
		sc.OnHang(cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sc.URL(), nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Error("hang: answered")
		}
		for range 10000 { // the handler sees the client go
			if sc.Records()[0].End == faultserver.EndGaveUp {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Errorf("hang ended %q; want %q", sc.Records()[0].End, faultserver.EndGaveUp)
	})
}

// TestUntrusted checks that the untrusting transport fails the handshake.
func TestUntrusted(t *testing.T) {
	srv := faultserver.New(true)
	defer srv.Close()
	for _, h2 := range []bool{false, true} {
		tr := faultserver.UntrustingTransport(h2)
		resp, err := (&http.Client{Transport: tr}).Get(srv.Script().URL())
		if err == nil {
			resp.Body.Close()
			t.Error("an untrusted certificate was accepted")
		}
		tr.CloseIdleConnections()
	}
}
