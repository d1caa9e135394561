package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) || isTerminal(new(bytes.Buffer)) {
		t.Error("a file or a buffer taken for a terminal")
	}
}

// The progress line stops when told, clears itself, and leaves no
// goroutine behind (see TestMain).
func TestProgressStops(t *testing.T) {
	var out bytes.Buffer
	r := &runner{calls: make([]call, 10), c: &client{name: "plain"}}
	r.done.Store(4)
	r.ok.Store(3)
	stop := showProgress(&out, r, time.Now())
	stop()
	if got := out.String(); !strings.HasSuffix(got, "\r\033[K") {
		t.Errorf("progress output %q does not end by clearing the line", got)
	}
}
