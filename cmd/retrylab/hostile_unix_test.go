//go:build unix

package main

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// SIGTERM (timeout(1), docker stop, a CI's time limit) killed the lab at
// once, with nothing printed; it now stops the run as Ctrl-C does. Were it
// not caught, the signal would kill this test binary.
func TestHostileSIGTERMStopsTheRun(t *testing.T) {
	ctx, stop := notifyStop(t.Context())
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second): // a bound on a hang, not a measurement
		t.Fatal("SIGTERM did not end the run's context")
	}
}
