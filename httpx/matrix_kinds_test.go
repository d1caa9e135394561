package httpx_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/retrykit/retry/internal/faultserver"
)

// The sizes of the matrix's request bodies, around its MaxReplayBytes.
const (
	matrixMaxReplay = 4096
	smallBody       = 1000 // kept in memory
	mediumBody      = 1500 // a GetBody's, copied in memory to hedge
	largeBody       = 6000 // over MaxReplayBytes
)

// reqKind is a shape of request: method, body and how it can be replayed.
type reqKind struct {
	name   string
	method string
	size   int   // body bytes sent; 0 for none
	length int64 // declared ContentLength
	// getBody: the request has a GetBody (http.Client can follow a 307
	// with it); shared: its bodies share one reader; stream: length
	// unknown; key: an Idempotency-Key; badLength: the reader is not of
	// the declared length.
	getBody, shared, stream, key, badLength bool
	// stall: the body stops after half its bytes, and the caller gives
	// up then (with a cause): httpx, which reads such a body into memory
	// before the first attempt, must end with the caller's cancel and
	// its cause, having sent nothing.
	stall bool
}

var matrixKinds = []reqKind{
	{name: "GET", method: http.MethodGet},
	{name: "HEAD", method: http.MethodHead},
	{name: "POST", method: http.MethodPost, size: mediumBody, length: mediumBody, getBody: true},
	{name: "POST+key", method: http.MethodPost, size: mediumBody, length: mediumBody, getBody: true, key: true},
	{name: "PUT shared GetBody", method: http.MethodPut, size: largeBody, length: largeBody, getBody: true, shared: true},
	{name: "PUT own GetBody", method: http.MethodPut, size: mediumBody, length: mediumBody, getBody: true},
	{name: "PUT snapshot", method: http.MethodPut, size: smallBody, length: smallBody},
	{name: "PUT over MaxReplayBytes", method: http.MethodPut, size: largeBody, length: largeBody},
	{name: "PUT stream", method: http.MethodPut, size: smallBody, length: -1, stream: true},
	{name: "PUT NoBody", method: http.MethodPut},
	{name: "PUT bad length", method: http.MethodPut, size: smallBody, length: smallBody + 200, badLength: true},
	{name: "PUT snapshot that stalls, the caller gives up", method: http.MethodPut, size: smallBody, length: smallBody, stall: true},
}

// idempotent: httpx may send it again after the server may have acted.
func (k reqKind) idempotent() bool { return k.method != http.MethodPost || k.key }

// replayable: httpx can send the body more than once (it has none, a
// GetBody, or one it keeps in memory), seen through a proxy or not.
func (k reqKind) replayable(proxied bool) bool {
	if k.size == 0 {
		return true
	}
	if k.stream {
		return false
	}
	if k.getBody && !proxied {
		return true
	}
	return k.length <= matrixMaxReplay
}

// hedgeable: httpx hedges it (idempotent, with independent bodies).
func (k reqKind) hedgeable() bool {
	return k.idempotent() && !k.badLength && k.replayable(false) && !(k.getBody && k.length > matrixMaxReplay)
}

// followable: http.Client can follow a 307 or 308 with the body.
func (k reqKind) followable() bool { return k.size == 0 || k.getBody }

// bodies tracks the request bodies that a request hands out, to check
// that every one is closed.
type bodies struct {
	handed atomic.Int64
	closed atomic.Int64
	// onStall is called when a stalling body stalls.
	onStall func()
}

// stallingBody sends its first part, then blocks until it is closed.
type stallingBody struct {
	first  io.Reader
	b      *bodies
	closed chan struct{}
	stall  sync.Once
	once   sync.Once
}

func (s *stallingBody) Read(p []byte) (int, error) {
	if n, err := s.first.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	s.stall.Do(s.b.onStall)
	<-s.closed
	return 0, errors.New("matrix: the body was closed while it stalled")
}

func (s *stallingBody) Close() error {
	s.once.Do(func() {
		close(s.closed)
		s.b.closed.Add(1)
	})
	return nil
}

type trackedReqBody struct {
	io.Reader
	b    *bodies
	once sync.Once
}

func (t *trackedReqBody) Close() error {
	t.once.Do(func() { t.b.closed.Add(1) })
	return nil
}

func (b *bodies) track(r io.Reader) io.ReadCloser {
	b.handed.Add(1)
	return &trackedReqBody{Reader: r, b: b}
}

// payload is the body that a request of kind k in cell id sends.
func (k reqKind) payload(id string) []byte {
	if k.size == 0 {
		return nil
	}
	return faultserver.Payload(id, k.size)
}

// build makes the request of kind k to url, and the tracker of its bodies.
// Sent through a proxy (proxied), a shared GetBody gets independent
// bodies: the client that sends to the proxy is net/http's own, and
// http.Client rewinds the body for a redirect while that client's writer
// may still be reading the last one (golang/go#30597; the race that
// httpx's gate prevents).
func (k reqKind) build(url, id string, proxied bool) (*http.Request, *bodies, error) {
	req, err := http.NewRequest(k.method, url, nil)
	if err != nil {
		return nil, nil, err
	}
	bs := &bodies{}
	p := k.payload(id)
	switch {
	case k.method == http.MethodPut && k.size == 0:
		req.Body = http.NoBody
	case k.size == 0:
	case k.stall:
		bs.handed.Add(1)
		req.Body = &stallingBody{first: bytes.NewReader(p[:len(p)/2]), b: bs, closed: make(chan struct{})}
	case k.shared && !proxied:
		file := bytes.NewReader(p) // one reader, seeked back: not safe for concurrent reads, as a file
		req.Body = bs.track(file)
		req.GetBody = func() (io.ReadCloser, error) {
			if _, err := file.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
			return bs.track(file), nil
		}
	case k.getBody:
		req.Body = bs.track(bytes.NewReader(p))
		req.GetBody = func() (io.ReadCloser, error) { return bs.track(bytes.NewReader(p)), nil }
	default:
		// A body of the caller's own type: no GetBody.
		req.Body = bs.track(bytes.NewReader(p))
	}
	req.ContentLength = k.length
	if k.key {
		req.Header.Set("Idempotency-Key", "key-"+id)
	}
	return req, bs, nil
}
