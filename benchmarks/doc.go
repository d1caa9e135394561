// Package benchmarks compares retry with the Go libraries that people use
// for the same jobs, in one run:
//
//	go test -run '^$' -bench . -benchmem -cpu 1,2
//
// It is a module of its own, so that the retry module never depends on
// them. Every library is configured as its own documentation shows (each
// configuration cites the page), and a test checks that each configuration
// works before its speed means anything. README.md has the results.
package benchmarks
