// Package shedbench compares retry's adaptive concurrency limiter with
// failsafe-go's adaptivelimiter on the overload simulation of retry's
// tests (virtual time, testing/synctest), and their cost of admission in
// the same run. It is a module of its own so that retry never depends on
// failsafe-go. Run: go test -v -run Compare, go test -bench . -benchmem.
package shedbench
