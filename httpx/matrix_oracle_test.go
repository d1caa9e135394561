package httpx_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/httpx"
)

// want is what the oracle expects of one cell.
type want struct {
	statuses []int      // a response with one of these statuses may come back
	bodyErr  bool       // ... and then its body must fail to read; else it reads whole
	errs     []errCheck // or an error that passes one of these
	min, max int        // requests that reach the server (all paths)
	reuse    bool       // all of them on one connection
	// cancelOnHang: the caller gives up (cancels) as the server starts
	// to hang.
	cancelOnHang bool
	// The breaker and budget: no count at all (nothing said anything
	// about the server), or at most maxFailures failures and
	// arrivals+extraCalls outcomes.
	uncounted   bool
	maxFailures int
	extraCalls  int
}

type errCheck struct {
	name string
	ok   func(err, cause error) bool
}

var (
	isInvalid = errCheck{"ErrInvalid", func(err, _ error) bool { return errors.Is(err, httpx.ErrInvalid) }}
	isCaller  = errCheck{"the caller's cancel and its cause", func(err, cause error) bool {
		return errors.Is(err, context.Canceled) && errors.Is(err, cause)
	}}
	// isCause is the caller's cancel through net/http's own HTTP/1
	// transport, which returns the cause alone (the proxy's client).
	isCause          = errCheck{"the caller's cancel cause", func(err, cause error) bool { return errors.Is(err, cause) }}
	isAttemptTimeout = errCheck{"retry.ErrAttemptTimeout", func(err, _ error) bool {
		return errors.Is(err, retry.ErrAttemptTimeout) && errors.Is(err, context.DeadlineExceeded)
	}}
	isNotReplayable = errCheck{"*NotReplayableError", func(err, _ error) bool {
		_, ok := errors.AsType[*httpx.NotReplayableError](err)
		return ok
	}}
	isTransport = errCheck{"a transport error in a *retry.Error", func(err, _ error) bool {
		_, ok := errors.AsType[*retry.Error](err)
		return ok && !errors.Is(err, httpx.ErrInvalid) && !errors.Is(err, context.Canceled)
	}}
	isBare = errCheck{"the attempt's own transport error", func(err, _ error) bool {
		return err != nil && !errors.Is(err, httpx.ErrInvalid) && !errors.Is(err, context.Canceled)
	}}
	isCert = errCheck{"*tls.CertificateVerificationError", func(err, _ error) bool {
		_, ok := errors.AsType[*tls.CertificateVerificationError](err)
		return ok
	}}
	isRedirects = errCheck{"stopped after 10 redirects", func(err, _ error) bool {
		return err != nil && strings.Contains(err.Error(), "stopped after 10 redirects")
	}}
	isClientTimeout = errCheck{"a Client.Timeout", func(err, _ error) bool {
		ne, ok := errors.AsType[net.Error](err)
		return ok && ne.Timeout()
	}}
	isRejected = errCheck{"*retry.BreakerError", func(err, _ error) bool {
		_, ok := errors.AsType[*retry.BreakerError](err)
		return ok
	}}
	isAny = errCheck{"any error", func(err, _ error) bool { return err != nil }}
)

// oracle says what a cell must do: script s, request kind k, client mode
// m. The rules are the documented ones (see the Transport and Config
// docs); a fault whose timing is not the test's to choose gets a bound.
func oracle(s faultScript, k reqKind, m clientMode, h2 bool) want {
	w := want{}
	replayable := k.replayable(m.proxy)
	seq := m.proxy || m.client || m.sequential(k)
	attempts, copies := m.attempts, matrixCopies
	if !replayable {
		attempts = 1
	}
	if seq {
		copies = 1
	}
	switch {
	case k.badLength:
		// Refused before sending: by httpx, or by the proxy's client.
		w.errs = []errCheck{isInvalid}
		if m.proxy {
			w.errs = []errCheck{isAny}
		}
		w.uncounted = true
		return w
	case k.stall:
		// The caller gives up as httpx reads the body to replay it.
		w.errs, w.uncounted = []errCheck{isCaller}, true
		return w
	case m.forcedFor > 0 && s.name == "200":
		// The retry loop waits out the forced open time and sends its
		// probe; a body sent once has no loop to wait in.
		w.statuses, w.min, w.max = []int{200}, 1, 1
		if !k.replayable(false) {
			w.statuses, w.errs, w.min, w.max = nil, []errCheck{isRejected}, 0, 0
		}
		w.maxFailures, w.extraCalls = 1, 1
		return w
	case m.forced:
		// Every attempt is rejected: nothing is sent, nothing counted.
		w.errs, w.uncounted = []errCheck{isRejected}, true
		return w
	case s.special == untrusted:
		w.errs, w.extraCalls, w.maxFailures = []errCheck{isCert}, 1, 1
		return m.proxied(w)
	case s.special == hang:
		switch {
		case m.client:
			w.errs, w.max, w.maxFailures = []errCheck{isClientTimeout}, 1, 1
		case m.timeout:
			// 20ms per attempt: a bound, not a promise that the 200
			// after it comes in time on a busy machine.
			w.statuses = []int{200}
			w.errs = []errCheck{isAttemptTimeout, isNotReplayable}
			w.max = attempts * copies
			// A timed-out attempt counts as a failure, even one cut
			// before it reached the server.
			w.maxFailures, w.extraCalls = w.max, w.max
			w = m.proxied(w)
		case seq:
			w.cancelOnHang, w.min, w.max, w.uncounted = true, 1, 1, true
			w.errs = []errCheck{isCaller}
			if m.proxy {
				w.errs = []errCheck{isCause}
			}
		default: // the hedge after 1ms wins; the hanging copy is cancelled
			w.statuses, w.min, w.max = []int{200}, 2, 2
		}
		return w
	case s.special == headersHang:
		w.statuses, w.bodyErr, w.max = []int{200}, k.method != "HEAD", 1
		if m.client {
			w.errs = []errCheck{isClientTimeout}
			return w
		}
		// The caller gives up as the headers leave: they may be in or not.
		w.cancelOnHang, w.min = true, 1
		w.errs = []errCheck{isCaller}
		if m.proxy {
			w.errs = []errCheck{isCause}
		}
		return w
	case s.special == partial:
		w.statuses, w.bodyErr, w.min, w.max = []int{200}, k.method != "HEAD", 1, 1
		if m.proxy { // the proxy may cut its own answer before its headers leave
			w.errs = []errCheck{isAny}
		}
		return w
	case s.special == redirect || s.special == redirectLoop:
		w.reuse = true
		code := 307
		if strings.Contains(s.name, "308") {
			code = 308
		}
		switch {
		case !k.followable():
			w.statuses, w.min, w.max = []int{code}, 1, 1
		case s.special == redirect:
			w.statuses, w.min, w.max = []int{200}, 2, 2
		default:
			w.errs, w.min, w.max = []errCheck{isRedirects}, 10, 10
		}
		return w
	case s.special == lateBody:
		// The body is read after the attempt's limit for headers passed:
		// it must come whole. Headers later than 20ms on a busy machine
		// mean another attempt, or a timeout if every one is late.
		w.statuses, w.min, w.max = []int{200}, 1, 1
		if m.timeout {
			// An attempt may time out before it reaches the server, too.
			w.min, w.max = 0, attempts*copies
			w.maxFailures, w.extraCalls = w.max, w.max
			w.errs = []errCheck{isAttemptTimeout, isNotReplayable}
			w = m.proxied(w)
		}
		return w
	case s.special == slow:
		// Copies race: the first to answer wins, the other is drained;
		// neither is a failure.
		w.statuses, w.min, w.max, w.reuse = []int{200}, 1, 1, true
		if !seq {
			w.max = 2
		}
		return w
	case s.special == reusedClose:
		w.maxFailures = 2
		switch {
		case attempts == 1:
			w.statuses, w.min, w.max = []int{503}, 1, 1
		case !k.idempotent():
			w.errs, w.min, w.max = []errCheck{isTransport}, 2, 2
		default:
			// net/http resends some requests on its own after a reused
			// connection fails (GET, a keyed POST): once, on a new one.
			w.statuses, w.min, w.max = []int{200}, 3, 3
		}
		return m.proxied(w)
	}
	w = simulate(s, k, h2, attempts, copies, replayable)
	if m.trips {
		// A rejection may end the call (its last attempt allowed, or a
		// wait past MaxAfter), and counts as an attempt: fewer are sent,
		// and the call may end on the outcome of any step before the
		// last the simulation reached.
		v := want{errs: []errCheck{isRejected}, min: 1, max: w.max, maxFailures: w.maxFailures, reuse: w.reuse}
		for i := range w.max {
			switch o := s.outcomes[min(i, len(s.outcomes)-1)]; {
			case o.status != 0:
				v.statuses = append(v.statuses, o.status)
			case replayable:
				v.errs = append(v.errs, isTransport)
			default:
				v.errs = append(v.errs, isNotReplayable, isBare)
			}
		}
		w = w.union(v)
		w.min = min(w.min, 1)
	}
	return m.proxied(w)
}

// simulate runs the retry loop's rules over a script of answers and plain
// transport errors, one step per request. Over HTTP/1, net/http itself
// resends a request that failed on a kept-alive connection (a GET, a
// keyed POST: see the http.Transport doc) before httpx sees the failure,
// again and again while the pool hands it kept-alive connections: up to
// one per connection the call has opened (copies). Which connections the
// pool hands out is its business, so each such failure is simulated with
// every number of resends, and the cell may do any.
func simulate(s faultScript, k reqKind, h2 bool, attempts, copies int, replayable bool) want {
	resends := !h2 && (k.method == "GET" || k.method == "HEAD" || k.key) && replayable
	var w want
	base := copies + 1 // resends after one failure: 0 to copies
	runs := 1
	for range attempts * copies {
		runs *= base
	}
	for run := range runs {
		v, used := simulateOnce(s, k, attempts, copies, replayable, resends, run, base)
		if run == 0 {
			w = v
		} else if run < pow(base, used) { // each choice of resends once
			w = w.union(v)
		}
	}
	return w
}

func pow(b, e int) int {
	p := 1
	for range e {
		p *= b
	}
	return p
}

// simulateOnce is one run of simulate, in which net/http resends the i-th
// failure that it may resend as many times as digit i of run in base
// base says; used is how many such failures there were.
func simulateOnce(s faultScript, k reqKind, attempts, copies int, replayable, resends bool, run, base int) (w want, used int) {
	w.reuse = true
	step := func(i int) outcome { return s.outcomes[min(i, len(s.outcomes)-1)] }
	n := 0
	answered := false // a connection may be back in the pool
	var last outcome
	end := func(o outcome, exhausted bool) (want, int) {
		w.min, w.max = n, n
		switch {
		case o.status != 0:
			w.statuses = []int{o.status}
		case exhausted && !replayable:
			w.errs = []errCheck{isNotReplayable}
		case !replayable: // sent once and not retryable: its own error
			w.errs = []errCheck{isBare}
		default: // retries ran out, or a plain POST's error after sending
			w.errs = []errCheck{isTransport}
		}
		return w, used
	}
	for range attempts {
		var kept outcome // a hedged round returns its last response, if any, when it is the last
		for range copies {
			o := step(n)
			n++
			if o.status == 0 && resends && answered {
				times := run / pow(base, used) % base
				used++
				for ; times > 0 && o.status == 0; times-- {
					w.maxFailures++
					o = step(n) // on another kept-alive connection, or a new one
					n++
				}
			}
			last = o
			if o.status != 0 {
				kept = o
			} else if kept.status != 0 {
				last = kept
			}
			retryable, pushback := classifyStep(o, k)
			if o.status == 0 || o.status >= 500 || o.status == 429 || retryable {
				w.maxFailures++ // for a breaker, or for a budget
			}
			if o.status == 0 {
				w.reuse = false // a new connection follows a broken one
			} else {
				answered = true
			}
			if !retryable || o.huge {
				return end(o, false)
			}
			if pushback {
				break
			}
		}
	}
	return end(last, true)
}

// union is what either w or v allows.
func (w want) union(v want) want {
	for _, st := range v.statuses {
		if !slices.Contains(w.statuses, st) {
			w.statuses = append(w.statuses, st)
		}
	}
	for _, e := range v.errs {
		if !slices.ContainsFunc(w.errs, func(f errCheck) bool { return f.name == e.name }) {
			w.errs = append(w.errs, e)
		}
	}
	w.min, w.max = min(w.min, v.min), max(w.max, v.max)
	w.maxFailures = max(w.maxFailures, v.maxFailures)
	w.reuse = w.reuse && v.reuse
	return w
}

// classifyStep says whether httpx retries a step's outcome for a request
// of kind k, and whether it stops a hedged round.
func classifyStep(o outcome, k reqKind) (retryable, pushback bool) {
	switch o.status {
	case 0, 502, 504:
		return k.idempotent(), false
	case 429, 503:
		return true, true // even a plain POST: the server did not act on it
	case 409:
		return k.key, k.key
	}
	return false, false
}

// proxied turns the errors that httpx returns to a ReverseProxy into the
// proxy's 502.
func (m clientMode) proxied(w want) want {
	if !m.proxy {
		return w
	}
	var errs []errCheck
	for _, e := range w.errs {
		if e.name == isCaller.name || e.name == isCause.name {
			errs = append(errs, e)
			continue
		}
		w.statuses = append(w.statuses, 502)
	}
	w.errs = errs
	return w
}
