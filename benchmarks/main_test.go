package benchmarks

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test or benchmark leaves a goroutine behind,
// the peers' included.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// hedgedhttp runs requests on a package-level pool of workers, each
		// of which exits after 10 s without work: not a leak of a call.
		goleak.IgnoreTopFunction("github.com/cristalhq/hedgedhttp.runInPool.func1"))
}
