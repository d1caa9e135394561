module github.com/retrykit/retry/shedbench

go 1.26

replace github.com/retrykit/retry => ../

require (
	github.com/failsafe-go/failsafe-go v0.9.8
	github.com/retrykit/retry v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
)

require (
	github.com/bits-and-blooms/bitset v1.24.4 // indirect
	github.com/influxdata/tdigest v0.0.1 // indirect
	golang.org/x/sync v0.21.0 // indirect
)
