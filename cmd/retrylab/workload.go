package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// call is one call of the workload: the same list goes through every client.
type call struct {
	id   uint64
	at   time.Duration // when it starts, from the start of the run
	post bool          // a POST with a body, else a GET
	key  bool          // the POST carries an Idempotency-Key
}

// workload draws the calls of one run from the seed: -rate calls a second
// for -duration.
func workload(o *options) []call {
	n := max(1, int(o.rate*o.duration.Seconds()))
	r := rand.New(rand.NewPCG(o.seed, 0xca11))
	calls := make([]call, n)
	for i := range calls {
		c := call{id: uint64(i + 1), at: time.Duration(float64(i) / o.rate * float64(time.Second))}
		if o.url == "" && r.Float64() < o.postShare {
			c.post = true
			c.key = r.IntN(2) == 0
		}
		calls[i] = c
	}
	return calls
}

// request builds the HTTP request of c against target.
func (c call) request(ctx context.Context, target string, o *options) (*http.Request, error) {
	id := strconv.FormatUint(c.id, 10)
	if !c.post {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err == nil && o.url == "" {
			req.Header.Set(callHeader, id)
		}
		return req, err
	}
	// A bytes.Reader gives the request a GetBody, so httpx can resend it.
	body := bytes.NewReader(postBody(o.seed, c.id, o.bodyBytes))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set(callHeader, id)
	req.Header.Set("Content-Type", "text/plain")
	if c.key {
		req.Header.Set("Idempotency-Key", "lab-"+id)
	}
	return req, nil
}
