package faultserver

import (
	"net/http"
	"strconv"
	"time"
)

// Step is what the server does with one request of a script.
type Step struct {
	// Name names the step in test output.
	Name string
	run  func(x *exchange)
}

// Answer reads the whole request body and answers status, with the header
// fields given as name, value pairs (a name given twice is sent twice).
func Answer(status int, header ...string) Step {
	kv := pairs(header)
	name := strconv.Itoa(status)
	for _, p := range kv {
		name += " " + p[0] + ":" + p[1]
	}
	return Step{Name: name, run: func(x *exchange) {
		x.readBody(-1)
		x.answer(status, kv)
	}}
}

// OK is Answer(200).
func OK() Step { return Answer(http.StatusOK) }

func pairs(kv []string) [][2]string {
	var out [][2]string
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, [2]string{kv[i], kv[i+1]})
	}
	return out
}

// Redirect reads the body and answers status (307 or 308) with a body,
// pointing to the script's dest path, which answers 200.
func Redirect(status int) Step {
	return Step{Name: "redirect " + strconv.Itoa(status), run: func(x *exchange) {
		x.readBody(-1)
		x.answer(status, [][2]string{{"Location", "/s/" + x.sc.id + "/dest"}})
	}}
}

// RedirectLoop reads the body and answers 307 pointing to the script's own
// path, which a client follows until it gives up.
func RedirectLoop() Step {
	return Step{Name: "redirect loop", run: func(x *exchange) {
		x.readBody(-1)
		x.answer(http.StatusTemporaryRedirect, [][2]string{{"Location", "/s/" + x.sc.id}})
	}}
}

// RetryAfterDate formats the time d from now in one of the three HTTP-date
// formats of RFC 9110: 0 IMF-fixdate, 1 RFC 850, 2 asctime.
func RetryAfterDate(d time.Duration, format int) string {
	t := time.Now().Add(d).UTC()
	switch format {
	case 1:
		return t.Format("Monday, 02-Jan-06 15:04:05 GMT")
	case 2:
		return t.Format(time.ANSIC)
	}
	return t.Format(http.TimeFormat)
}

// Reset reads the whole body, then resets: a TCP RST on HTTP/1 (the
// connection closed with SetLinger(0)), a RST_STREAM on HTTP/2.
func Reset() Step {
	return Step{Name: "reset", run: func(x *exchange) {
		x.readBody(-1)
		x.reset()
	}}
}

// Hang reads the whole body, then sends nothing until the client gives up.
func Hang() Step {
	return Step{Name: "hang", run: func(x *exchange) {
		x.readBody(-1)
		x.hang()
	}}
}

// HeadersThenHang reads the body, sends the headers of a 200 with a
// Content-Length, then hangs until the client gives up.
func HeadersThenHang() Step {
	return Step{Name: "headers then hang", run: func(x *exchange) {
		x.readBody(-1)
		x.startOK(0)
		x.hang()
	}}
}

// PartialBody reads the body, sends a 200 that declares 2048 bytes, sends
// 10 and cuts the exchange.
func PartialBody() Step {
	return Step{Name: "partial body then close", run: func(x *exchange) {
		x.readBody(-1)
		x.startOK(10)
		x.abort()
	}}
}

// ReadPartThenClose reads n bytes of the request body at most, then closes
// the connection (HTTP/1) or resets the stream (HTTP/2).
func ReadPartThenClose(n int64) Step {
	return Step{Name: "close after part of the request", run: func(x *exchange) {
		x.readBody(n)
		if x.r.ProtoMajor == 2 {
			x.abort()
		}
		x.closeConn()
	}}
}

// Early answers status at once, without reading the request body.
func Early(status int) Step {
	return Step{Name: "early " + strconv.Itoa(status), run: func(x *exchange) {
		x.answer(status, nil)
		x.sc.mu.Lock()
		x.rec.End = EndRefused
		x.sc.mu.Unlock()
	}}
}

// CloseIfReused closes the connection under a request that came on a
// connection that served one before, without reading its body or
// answering; a request on a new connection gets Answer(200).
func CloseIfReused() Step {
	return Step{Name: "close reused connections", run: func(x *exchange) {
		if x.reused {
			x.closeConn()
			return
		}
		x.readBody(-1)
		x.answer(http.StatusOK, nil)
	}}
}

// AnswerAfterNext reads the body and answers status once the script's next
// request has arrived, or after wait, whichever comes first: a slow answer
// that a hedged copy overtakes. If the client gives up first, it does not
// answer.
func AnswerAfterNext(status int, wait time.Duration) Step {
	return Step{Name: "slow " + strconv.Itoa(status), run: func(x *exchange) {
		x.readBody(-1)
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-x.next:
		case <-t.C:
		case <-x.r.Context().Done():
			x.end(EndGaveUp)
			return
		case <-x.s.done:
			x.end(EndShutdown)
			return
		}
		x.answer(status, nil)
	}}
}

// startOK sends the headers of a 200 whose body is ResponseBody(200), and
// the first n bytes of that body, and flushes them.
func (x *exchange) startOK(n int) {
	body := ResponseBody(http.StatusOK)
	x.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	x.w.WriteHeader(http.StatusOK)
	x.w.Write(body[:n])
	http.NewResponseController(x.w).Flush()
}

// SlowBody reads the request body, sends the headers of a 200 and 10
// bytes of its body at once, and the rest after delay: a body read after
// the attempt's time limit for headers has passed.
func SlowBody(delay time.Duration) Step {
	return Step{Name: "slow body", run: func(x *exchange) {
		x.readBody(-1)
		x.startOK(10)
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-x.r.Context().Done():
			x.end(EndGaveUp)
			return
		case <-x.s.done:
			x.end(EndShutdown)
			return
		}
		x.w.Write(ResponseBody(http.StatusOK)[10:])
		x.end(EndAnswered)
		x.sc.mu.Lock()
		x.rec.Status = http.StatusOK
		x.sc.mu.Unlock()
	}}
}

// Through runs inner behind middleware made by wrap (a load shedder, say):
// a request that the middleware answers itself is recorded with the status
// it wrote and as refused, its body unread; one it lets through runs
// inner.
func Through(name string, wrap func(http.Handler) http.Handler, inner Step) Step {
	return Step{Name: name + ", then " + inner.Name, run: func(x *exchange) {
		passed := false
		sw := &statusWriter{ResponseWriter: x.w}
		wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			passed = true
			y := *x
			y.w, y.r = w, r
			inner.run(&y)
		})).ServeHTTP(sw, x.r)
		if !passed {
			x.sc.mu.Lock()
			x.rec.Status = sw.code
			x.sc.mu.Unlock()
			x.end(EndRefused)
		}
	}}
}

// statusWriter notes the status a middleware writes with WriteHeader (as
// httpx.Shed does when it refuses).
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap gives http.ResponseController the ResponseWriter.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
