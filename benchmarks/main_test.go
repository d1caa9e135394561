package benchmarks

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test or benchmark leaves a goroutine behind,
// the peers' included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
