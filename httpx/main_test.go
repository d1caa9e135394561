package httpx_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind, such as the
// read and write loops of a connection whose response was never closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
