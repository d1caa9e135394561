// Package faultserver is a loopback HTTP server for the tests of this
// module that misbehaves on purpose, one scripted fault per request: the
// answers a flaky service gives (5xx, 429 with every form of Retry-After,
// redirects) and the transport faults it causes (resets, hangs, bodies cut
// short, connections closed under a request). It speaks HTTP/1.1 in clear
// text or HTTP/2 over TLS, and records every request it sees: the body it
// received, the connection it came on, when it came and how it ended.
//
// One Server serves many scripts at once, each under its own path, so that
// the cells of a test matrix can share a server and still count their own
// requests.
//
// It cannot refuse one chosen HTTP/2 stream (REFUSED_STREAM) or send a
// GOAWAY before it: net/http's server sends those only to streams past
// its MaxConcurrentStreams, which the Go client does not open, and on
// Shutdown, whose timing against a request in flight is not the test's
// to choose. That would take a server written on a raw HTTP/2 framer.
package faultserver

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a fault-injecting httptest server. It is safe for concurrent
// use.
type Server struct {
	srv      *httptest.Server
	done     chan struct{}          // closed by Close: every hang ends
	sessions tls.ClientSessionCache // shared by the transports it makes

	mu      sync.Mutex
	scripts map[string]*Script
	conns   map[string]*connInfo // by remote address
	nextID  int
}

type connInfo struct {
	conn   net.Conn
	served int
}

// New starts a Server: HTTP/2 over TLS if http2 is set, else HTTP/1.1 in
// clear text. Close it when done.
func New(http2 bool) *Server {
	s := &Server{
		done: make(chan struct{}), sessions: tls.NewLRUClientSessionCache(64),
		scripts: map[string]*Script{}, conns: map[string]*connInfo{},
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // aborted handlers and failed handshakes are the point
	s.srv.Config.ConnState = s.connState
	if http2 {
		s.srv.EnableHTTP2 = true
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	return s
}

// Close ends every hang and shuts the server down, waiting for its
// handlers.
func (s *Server) Close() {
	close(s.done)
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Transport returns a new transport that trusts the server's certificate
// and speaks its protocol; the caller closes its idle connections. Its
// connections are its own, but it resumes the TLS sessions of the others,
// which makes a new connection cheap.
func (s *Server) Transport() *http.Transport {
	tr := s.srv.Client().Transport.(*http.Transport).Clone()
	if s.srv.TLS == nil {
		tr.TLSClientConfig = nil
	} else {
		tr.TLSClientConfig.ClientSessionCache = s.sessions
	}
	return tr
}

// UntrustingTransport returns a new transport that does not trust the
// server's certificate (it trusts the system's roots only). It speaks
// HTTP/1.1 over TLS unless http2 is set. Use it with a Server started with
// http2: a clear-text server has no certificate to distrust.
func UntrustingTransport(http2 bool) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{}
	if !http2 {
		tr.ForceAttemptHTTP2 = false
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return tr
}

func (s *Server) connState(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := c.RemoteAddr().String()
	switch st {
	case http.StateNew:
		s.conns[addr] = &connInfo{conn: c}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, addr)
	}
}

// arrive notes that a request came on the connection at addr and reports
// whether that connection had served one before.
func (s *Server) arrive(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ci := s.conns[addr]
	if ci == nil {
		return false
	}
	ci.served++
	return ci.served > 1
}

// closeConn closes the whole connection at addr, under every stream it
// carries.
func (s *Server) closeConn(addr string) {
	s.mu.Lock()
	ci := s.conns[addr]
	s.mu.Unlock()
	if ci != nil {
		ci.conn.Close()
	}
}

// Script registers a new script of steps: request i (from 0) to its URL
// gets steps[min(i, len(steps)-1)]. No steps means OK().
func (s *Server) Script(steps ...Step) *Script { return s.script(false, steps) }

// Cycle registers a new script whose steps repeat: request i gets
// steps[i%len(steps)].
func (s *Server) Cycle(steps ...Step) *Script { return s.script(true, steps) }

func (s *Server) script(cycle bool, steps []Step) *Script {
	if len(steps) == 0 {
		steps = []Step{OK()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := strconv.Itoa(s.nextID)
	sc := &Script{s: s, id: id, steps: steps, cycle: cycle}
	s.scripts[id] = sc
	return sc
}

// step returns the step of request n (from 0).
func (sc *Script) step(n int) Step {
	if sc.cycle {
		return sc.steps[n%len(sc.steps)]
	}
	return sc.steps[min(n, len(sc.steps)-1)]
}

// serve routes a request to its script: /s/<id> runs the script's next
// step, /s/<id>/dest (where redirects point) answers 200.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) < 2 || parts[0] != "s" {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	sc := s.scripts[parts[1]]
	s.mu.Unlock()
	if sc == nil {
		http.NotFound(w, r)
		return
	}
	reused := s.arrive(r.RemoteAddr)
	dest := len(parts) > 2 && parts[2] == "dest"
	rec, n, next := sc.arrive(r, reused, dest)
	step := OK()
	if !dest {
		step = sc.step(n)
	}
	x := &exchange{s: s, sc: sc, w: w, r: r, rec: rec, reused: reused, next: next}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				x.end(EndAborted)
			}
			panic(v)
		}
	}()
	step.run(x)
}

// Script is one scripted sequence of faults, under its own URL, with the
// records of the requests it saw.
type Script struct {
	s     *Server
	id    string
	steps []Step
	cycle bool

	mu      sync.Mutex
	records []*Record
	arrived int           // requests to the scripted path (not to dest)
	next    chan struct{} // closed when the next request arrives
	onHang  func()
}

// URL is the script's URL: each request to it runs the next step.
func (sc *Script) URL() string { return sc.s.srv.URL + "/s/" + sc.id }

// OnHang sets a function called (from the handler's goroutine) each time a
// hanging step starts to hang: a test may give up then, deterministically.
func (sc *Script) OnHang(f func()) {
	sc.mu.Lock()
	sc.onHang = f
	sc.mu.Unlock()
}

func (sc *Script) hung() {
	sc.mu.Lock()
	f := sc.onHang
	sc.mu.Unlock()
	if f != nil {
		f()
	}
}

func (sc *Script) arrive(r *http.Request, reused, dest bool) (*Record, int, <-chan struct{}) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.next != nil {
		close(sc.next)
	}
	sc.next = make(chan struct{})
	rec := &Record{
		Path: r.URL.Path, Method: r.Method, Proto: r.Proto, Conn: r.RemoteAddr, Reused: reused,
		Declared: r.ContentLength, Arrived: time.Now(), Header: r.Header.Clone(), End: EndPending,
	}
	n := sc.arrived
	if !dest {
		sc.arrived++
		rec.Step = n
	} else {
		rec.Step = -1
	}
	sc.records = append(sc.records, rec)
	return rec, n, sc.next
}

// Records returns a copy of what the script has seen so far, in order of
// arrival.
func (sc *Script) Records() []Record {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := make([]Record, len(sc.records))
	for i, r := range sc.records {
		out[i] = *r
		out[i].Body = append([]byte(nil), r.Body...)
	}
	return out
}

// Record is what the server saw of one request.
type Record struct {
	Path     string
	Step     int // the index of the step run (its arrival on the script's path), -1 for dest
	Method   string
	Proto    string
	Header   http.Header
	Conn     string // the connection's remote address
	Reused   bool   // the connection had served a request before
	Arrived  time.Time
	Declared int64 // the request's ContentLength (-1 unknown)
	// Read is set when the step read the body to its end (or to an error);
	// Body holds what it read, BodyErr the error that ended it (nil for a
	// clean EOF). A step may read only part of a body, or none.
	Read    bool
	Body    []byte
	BodyErr error
	// Whole reports a body read to a clean EOF whose length matched a
	// declared length (any length when it was undeclared).
	Whole  bool
	Status int // the status answered, if the step answered
	End    End
}

// End says how an exchange ended.
type End string

// The ends of an exchange.
const (
	EndPending  End = "pending"             // still running
	EndAnswered End = "answered"            // a complete response was written
	EndReset    End = "reset"               // connection reset (HTTP/1) or stream reset (HTTP/2)
	EndClosed   End = "closed"              // connection closed under the request
	EndAborted  End = "aborted"             // the response was cut short
	EndGaveUp   End = "client gave up"      // a hang ended by the client
	EndShutdown End = "server shut down"    // a hang ended by Close
	EndRefused  End = "refused, unread"     // answered without reading the body
	EndUnknown  End = "ended some way else" // for completeness
)

// exchange is one request being handled.
type exchange struct {
	s      *Server
	sc     *Script
	w      http.ResponseWriter
	r      *http.Request
	rec    *Record
	reused bool
	next   <-chan struct{} // closed when the script's next request arrives
}

func (x *exchange) end(e End) {
	x.sc.mu.Lock()
	if x.rec.End == EndPending {
		x.rec.End = e
	}
	x.sc.mu.Unlock()
}

// readBody reads up to limit bytes of the request body (all if negative)
// into the record.
func (x *exchange) readBody(limit int64) {
	var body io.Reader = x.r.Body
	if limit >= 0 {
		body = io.LimitReader(x.r.Body, limit)
	}
	b, err := io.ReadAll(body)
	x.sc.mu.Lock()
	defer x.sc.mu.Unlock()
	x.rec.Body = b
	x.rec.BodyErr = err
	x.rec.Read = limit < 0
	x.rec.Whole = limit < 0 && err == nil && (x.r.ContentLength < 0 || int64(len(b)) == x.r.ContentLength)
}

// hang blocks until the client gives up or the server closes.
func (x *exchange) hang() {
	x.sc.hung()
	select {
	case <-x.r.Context().Done():
		x.end(EndGaveUp)
	case <-x.s.done:
		x.end(EndShutdown)
	}
}

// abort cuts the exchange: a stream reset on HTTP/2, a closed connection
// on HTTP/1.
func (x *exchange) abort() {
	x.end(EndAborted)
	panic(http.ErrAbortHandler)
}

// reset resets the connection (HTTP/1: a TCP RST through SetLinger(0)) or
// the stream (HTTP/2).
func (x *exchange) reset() {
	if x.r.ProtoMajor == 2 {
		x.end(EndReset)
		panic(http.ErrAbortHandler) // RST_STREAM
	}
	conn, _, err := http.NewResponseController(x.w).Hijack()
	if err != nil {
		x.abort()
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
	x.end(EndReset)
}

// closeConn closes the connection under the request (every stream of an
// HTTP/2 connection).
func (x *exchange) closeConn() {
	x.end(EndClosed)
	if x.r.ProtoMajor == 2 {
		x.s.closeConn(x.r.RemoteAddr)
		x.hang() // the handler ends with its connection's context
		return
	}
	conn, _, err := http.NewResponseController(x.w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// answer writes a complete response.
func (x *exchange) answer(status int, header [][2]string) {
	for _, kv := range header {
		x.w.Header().Add(kv[0], kv[1])
	}
	body := ResponseBody(status)
	x.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	x.w.WriteHeader(status)
	if x.r.Method != http.MethodHead {
		x.w.Write(body)
	}
	x.sc.mu.Lock()
	x.rec.Status = status
	x.sc.mu.Unlock()
	x.end(EndAnswered)
}

// ResponseBody is the body of every response of the given status that the
// server completes: 2 KiB for 200, a short line for others.
func ResponseBody(status int) []byte {
	if status == http.StatusOK {
		return Payload("response", 2048)
	}
	return []byte(fmt.Sprintf("fault server: status %d\n", status))
}

// Payload returns n bytes that depend on seed and on their position, so a
// body that lost, doubled or moved bytes is seen as different.
func Payload(seed string, n int) []byte {
	b := make([]byte, n)
	h := uint32(2166136261)
	for i := range len(seed) {
		h = (h ^ uint32(seed[i])) * 16777619
	}
	for i := range b {
		h = h*1664525 + 1013904223
		b[i] = 'a' + byte(h>>24)%26
	}
	return b
}
