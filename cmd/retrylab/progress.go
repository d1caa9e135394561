package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// isTerminal reports whether w is a terminal (a character device), where a
// progress line that rewrites itself makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// showProgress rewrites one line on w every 200ms with r's progress, until
// the returned stop is called; stop clears the line.
func showProgress(w io.Writer, r *runner, start time.Time) (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				done, ok := r.done.Load(), r.ok.Load()
				pct := 0.0
				if done > 0 {
					pct = 100 * float64(ok) / float64(done)
				}
				fmt.Fprintf(w, "\r\033[K%-8s %5d/%d calls  %4.1fs  %5.1f%% ok", r.c.name, done, len(r.calls), time.Since(start).Seconds(), pct)
			}
		}
	}()
	return func() { close(quit); <-finished }
}
