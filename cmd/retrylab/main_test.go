package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: a worker, a
// progress line, or the read loop of a connection never closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
