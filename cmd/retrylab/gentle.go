package main

import (
	"net/http"
	"sync"
	"time"
)

// gentle limits the requests sent to a service that is not the lab's own
// (-url): at most one per every and at most n at once, retries and hedged
// copies included, so that a failing or slow service does not get several
// times the traffic that the flags promise. A request holds its place until
// its answer's headers arrive, not until its body is closed: held that long,
// places ran out with hedged calls that then waited for their deadline. A
// request cancelled while it waits for its time keeps that time taken. It
// is safe for concurrent use.
type gentle struct {
	base  http.RoundTripper
	every time.Duration
	slots chan struct{}

	mu   sync.Mutex
	next time.Time // the earliest time the next request may go
}

func newGentle(base http.RoundTripper, perSecond float64, n int) *gentle {
	return &gentle{
		base:  base,
		every: time.Duration(float64(time.Second) / perSecond),
		slots: make(chan struct{}, n),
	}
}

func (g *gentle) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-g.slots }()
	g.mu.Lock()
	at := time.Now()
	if g.next.After(at) {
		at = g.next
	}
	g.next = at.Add(g.every)
	g.mu.Unlock()
	if !wait(ctx, time.Until(at)) {
		return nil, ctx.Err()
	}
	return g.base.RoundTrip(r)
}
