package httpx_test

import (
	"context"
	"net/http"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
	fs "github.com/retrykit/retry/internal/faultserver"
)

// faultScript is a row of the matrix: the steps of the fault server, and
// what they mean for the oracle.
type faultScript struct {
	name  string
	steps []fs.Step
	// special: the oracle's rule for a script that is not a sequence of
	// answers and plain transport errors.
	special special
	// outcomes says how each step of a plain script ends for the client
	// (the last one repeats).
	outcomes []outcome
	// fewKinds: the script varies what is independent of the body, so
	// its cells use a few request kinds, not all.
	fewKinds bool
	// shed: a status 503 is httpx.Shed's, with its own body.
	shed bool
}

// responseBody is the body of a complete response of status to a cell of
// the script.
func (s faultScript) responseBody(status int) []byte {
	if s.shed && status == http.StatusServiceUnavailable {
		return []byte("load shed: try again later\n")
	}
	return fs.ResponseBody(status)
}

// fewKinds are the kinds of a fewKinds script: idempotent without a body,
// a plain POST, a shared GetBody, and a body sent once.
var fewKinds = map[string]bool{"GET": true, "POST": true, "PUT shared GetBody": true, "PUT stream": true}

type special int

const (
	plain        special = iota
	hang                 // the first attempt hangs until the client gives up
	headersHang          // headers, then the body hangs
	partial              // headers, then part of the body, then a cut
	redirect             // 307/308 to a path that answers 200
	redirectLoop         // 307 to itself
	reusedClose          // 503, then reused connections are closed under the request
	untrusted            // the client does not trust the server's certificate
	slow                 // a slow 200 that a hedge overtakes
	lateBody             // headers at once, the body after the attempt timeout
)

// outcome is how one step ends for httpx.
type outcome struct {
	status int  // 0 for a transport error
	after  bool // a Retry-After that httpx honours (a wait)
	huge   bool // a Retry-After past Retry.MaxAfter: the call stops with it
}

func answers(status int, header ...string) faultScript {
	return faultScript{
		name:     fs.Answer(status, header...).Name,
		steps:    []fs.Step{fs.Answer(status, header...), fs.OK()},
		outcomes: []outcome{{status: status}, {status: 200}},
	}
}

func always(s faultScript) faultScript {
	s.name += " always"
	s.steps, s.outcomes = s.steps[:1], s.outcomes[:1]
	return s
}

// transportFault is a script whose first step fails with a transport
// error, then answers 200.
func transportFault(name string, step fs.Step) faultScript {
	return faultScript{name: name, steps: []fs.Step{step, fs.OK()}, outcomes: []outcome{{}, {status: 200}}}
}

func (s faultScript) named(name string) faultScript { s.name = name; return s }

var matrixScripts = func() []faultScript {
	ss := []faultScript{
		answers(200),
		answers(500),
		answers(501),
		answers(502),
		always(answers(502)),
		answers(504),
		answers(409),
		always(answers(503)),
	}
	for _, code := range []int{503, 429} {
		for _, ra := range []struct {
			name, value string
			after, huge bool
		}{
			{"absent", "", false, false},
			{"seconds", "2", true, false},
			{"IMF-fixdate", fs.RetryAfterDate(3*time.Second, 0), true, false},
			{"RFC 850", fs.RetryAfterDate(3*time.Second, 1), true, false},
			{"asctime", fs.RetryAfterDate(3*time.Second, 2), true, false},
			{"past date", fs.RetryAfterDate(-time.Hour, 0), true, false},
			{"zero", "0", true, false},
			{"negative", "-1", false, false},
			{"garbage", "soon", false, false},
			{"huge", "99999999999", true, true},
			{"duplicated", "1", false, false},
		} {
			var s faultScript
			switch {
			case ra.name == "absent":
				s = answers(code)
			case ra.name == "duplicated":
				s = answers(code, "Retry-After", "1", "Retry-After", "2")
			default:
				s = answers(code, "Retry-After", ra.value)
			}
			s.name = http.StatusText(code) + ", Retry-After " + ra.name
			s.outcomes[0].after, s.outcomes[0].huge = ra.after, ra.huge
			// 503 without and with seconds meets every kind; the other
			// forms, and 429's, meet a few.
			s.fewKinds = code == 429 || ra.name != "seconds" && ra.name != "absent"
			ss = append(ss, s)
		}
	}
	shed := faultScript{
		name:     "shed by a full Limiter (503, Retry-After 1), then let through by a Bulkhead",
		steps:    []fs.Step{fs.Through("shed", shedding, fs.OK()), fs.Through("admitted", admitting, fs.OK())},
		outcomes: []outcome{{status: 503, after: true}, {status: 200}},
		shed:     true,
	}
	shedAlways := always(shed).named("shed by a full Limiter always")
	shedAlways.fewKinds = true
	ss = append(ss, shed, shedAlways)
	return append(ss,
		faultScript{name: "redirect 307 with body", steps: []fs.Step{fs.Redirect(307)}, special: redirect},
		faultScript{name: "redirect 308 with body", steps: []fs.Step{fs.Redirect(308)}, special: redirect},
		faultScript{name: "redirect loop", steps: []fs.Step{fs.RedirectLoop()}, special: redirectLoop},
		transportFault("reset", fs.Reset()),
		faultScript{name: "hang", steps: []fs.Step{fs.Hang(), fs.OK()}, special: hang},
		faultScript{name: "headers then hang", steps: []fs.Step{fs.HeadersThenHang()}, special: headersHang},
		faultScript{name: "partial body then close", steps: []fs.Step{fs.PartialBody()}, special: partial},
		transportFault("close after part of the request", fs.ReadPartThenClose(100)),
		faultScript{name: "early 503 before the body", steps: []fs.Step{fs.Early(503), fs.OK()}, outcomes: []outcome{{status: 503}, {status: 200}}},
		faultScript{name: "close every reused connection", steps: []fs.Step{fs.Answer(503), fs.CloseIfReused()}, special: reusedClose},
		faultScript{name: "untrusted certificate", steps: []fs.Step{fs.OK()}, special: untrusted},
		faultScript{name: "headers, then the body after the attempt timeout", steps: []fs.Step{fs.SlowBody(60 * time.Millisecond)}, special: lateBody},
		faultScript{name: "slow 200, a hedge overtakes it", steps: []fs.Step{fs.AnswerAfterNext(200, 50*time.Millisecond), fs.OK()}, special: slow},
	)
}()

// shortTimeout reports whether the script's cells get a short
// AttemptTimeout: to cut a hang, or to pass before a body ends.
func (s faultScript) shortTimeout() bool { return s.special == hang || s.special == lateBody }

// hangs reports whether a client needs short limits for the script.
func (s faultScript) hangs() bool { return s.special == hang || s.special == headersHang }

// shedding is httpx.Shed in front of a handler, with a Limiter whose one
// slot is taken for good: it refuses every request with 503 and a
// Retry-After of 1 second, before reading the body. admitting is
// httpx.Shed with a Bulkhead that has room for every cell.
var shedding, admitting = func() (func(http.Handler) http.Handler, func(http.Handler) http.Handler) {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	lim, err := retry.NewLimiter(retry.LimiterConfig{MinLimit: 1, MaxLimit: 1, InitialLimit: 1})
	must(err)
	_, err = lim.Acquire(context.Background())
	must(err)
	bh, err := retry.NewBulkhead(retry.BulkheadConfig{MaxConcurrent: 1 << 20})
	must(err)
	wrap := func(a retry.Admitter) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			h, err := httpx.Shed(httpx.ShedConfig{Admitter: a}, next)
			must(err)
			return h
		}
	}
	return wrap(lim), wrap(bh)
}()
