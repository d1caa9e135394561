package httpx_test

import (
	"sync/atomic"
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// upload is a 1 MiB file in the test's temporary folder, and a GetBody
// that rewinds one shared *os.File, as uploads usually do.
type upload struct {
	data []byte
	file *os.File
}

func newUpload(t *testing.T, size int) *upload {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>10)
	}
	path := filepath.Join(t.TempDir(), "upload")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &upload{data: data, file: f}
}

// request returns a PUT of the file whose GetBody seeks the shared file;
// length is its declared ContentLength (-1 for unknown).
func (u *upload) request(t *testing.T, url string, length int64) *http.Request {
	t.Helper()
	if _, err := u.file.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, url, io.NopCloser(u.file))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	req.GetBody = func() (io.ReadCloser, error) {
		if _, err := u.file.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return io.NopCloser(u.file), nil
	}
	return req
}

// wholeBodies checks that every body the server read is the file, whole.
func (u *upload) wholeBodies(t *testing.T, bodies []string) {
	t.Helper()
	want := sha256.Sum256(u.data)
	for i, b := range bodies {
		if b == "" {
			continue // an attempt answered before its body was read
		}
		if got := sha256.Sum256([]byte(b)); got != want {
			t.Errorf("attempt %d: the server read %d bytes that are not the file (%d bytes)", i+1, len(b), len(u.data))
		}
	}
}

// earlyStatus answers code without reading the request body.
func earlyStatus(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// Item 1: a PUT whose GetBody rewinds one shared file, answered 503 twice
// before the server reads it: every attempt that arrives carries the
// whole file. HTTP/2 closes a request body from another goroutine while
// its writer may still be inside Read; a rewind must wait for that Read.
func TestSharedReaderRetriedWhole(t *testing.T) {
	protocols(t, func(t *testing.T, h2 bool) {
		for _, length := range []int64{1 << 20, -1} {
			u := newUpload(t, 1<<20)
			srv := newLazyServer(t, h2, 2)
			client := mustNew(t, httpx.Config{Base: srv.base(t), Retry: fastPolicy(3)})
			for range 5 {
				resp, err := client.Do(u.request(t, srv.URL, length))
				if err != nil {
					t.Fatalf("length %d: %v", length, err)
				}
				readAll(t, resp)
				if resp.StatusCode != 200 {
					t.Fatalf("length %d: status %d", length, resp.StatusCode)
				}
			}
			u.wholeBodies(t, srv.Bodies())
		}
	})
}

// newLazyServer answers 503 without reading the body to the first
// refusals requests of every run of refusals+1, and reads the body of the
// last one; Bodies holds what it read.
func newLazyServer(t *testing.T, h2 bool, refusals int) *script {
	var n atomic.Int64
	var s *script
	s = newScript(t, h2, func(w http.ResponseWriter, r *http.Request) {
		if int(n.Add(1)-1)%(refusals+1) < refusals {
			w.WriteHeader(503)
			return
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		s.record(string(b), r.Header)
	}).lazy()
	return s
}

var _ = bytes.NewReader
var _ = retry.Do
