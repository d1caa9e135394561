package httpx_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// markBase records, per request, what retry.AttemptFrom finds on the
// request's context, and answers codes[i].
type markBase struct {
	mu    sync.Mutex
	marks []string
	codes []int
}

func (b *markBase) RoundTrip(r *http.Request) (*http.Response, error) {
	a, ok := retry.AttemptFrom(r.Context())
	b.mu.Lock()
	i := len(b.marks)
	if ok {
		b.marks = append(b.marks, fmt.Sprintf("%d/%v", a.Number, a.Hedge))
	} else {
		b.marks = append(b.marks, "none")
	}
	code := b.codes[min(i, len(b.codes)-1)]
	b.mu.Unlock()
	return &http.Response{StatusCode: code, Status: http.StatusText(code), Header: http.Header{}, Request: r,
		Body: io.NopCloser(strings.NewReader(""))}, nil
}

// Retry.MarkAttempts: the base transport sees each attempt's mark
// (retry.AttemptFrom on the request's context), with or without an
// AttemptTimeout (whose requests run on a context of their own).
func TestMarkAttemptsLostWithAttemptTimeout(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprint(timeout), func(t *testing.T) {
			base := &markBase{codes: []int{503, 200}}
			p := fastPolicy(3)
			p.MarkAttempts = true
			rt, err := httpx.New(httpx.Config{Base: base, Retry: p, AttemptTimeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", "http://h.example/", nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got, want := strings.Join(base.marks, ","), "1/false,2/false"; got != want {
				t.Fatalf("AttemptFrom in the base transport: %s, want %s", got, want)
			}
		})
	}
}

// Hedge marks its attempts, and the base transport of a hedged call sees
// the mark on each copy's request.
func TestHedgedAttemptMarkNotOnRequest(t *testing.T) {
	base := &markBase{codes: []int{200}}
	p := fastPolicy(3)
	p.MarkAttempts = true
	rt, err := httpx.New(httpx.Config{Base: base, Retry: p, Hedge: &retry.HedgePolicy{MaxAttempts: 2, Delay: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://h.example/", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := strings.Join(base.marks, ","); got == "none" {
		t.Fatalf("AttemptFrom in the base transport of a hedged call: %s, want a mark", got)
	}
}
