module github.com/retrykit/retry/benchmarks

go 1.26

replace github.com/retrykit/retry => ../

require (
	github.com/avast/retry-go/v4 v4.7.0
	github.com/cenkalti/backoff/v5 v5.0.3
	github.com/failsafe-go/failsafe-go v0.9.8
	github.com/retrykit/retry v0.0.0-00010101000000-000000000000
	github.com/sony/gobreaker/v2 v2.4.0
	go.uber.org/goleak v1.3.0
)

require github.com/bits-and-blooms/bitset v1.24.4 // indirect
