module github.com/retrykit/retry

go 1.26

require (
	github.com/benbjohnson/clock v1.3.5
	go.uber.org/goleak v1.3.0
)

require pgregory.net/rapid v1.3.0

require golang.org/x/sync v0.21.0
