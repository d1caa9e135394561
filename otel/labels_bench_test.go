package otel

import (
	"testing"
)

// BenchmarkOptions builds the labels of an attempt and looks up their
// options, as every attempt does.
func BenchmarkOptions(b *testing.B) {
	var c optionCache
	for b.Loop() {
		var l labels
		l.name(keyPolicy, "orders")
		l.add(attemptBucket(1), resultSuccess, hedgeFalse)
		_ = c.options(&l)
	}
}
