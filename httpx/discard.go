package httpx

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// discard drains a response that will not be returned, so that its
// connection can be reused, and closes it exactly once. It reads at most
// limit bytes and waits at most timeout: a larger or slower body is closed
// as it is, which costs its connection but nothing else.
func discard(resp *http.Response, limit int64, timeout time.Duration) {
	if resp == nil || resp.Body == nil {
		return
	}
	var once sync.Once
	closeBody := func() { once.Do(func() { resp.Body.Close() }) }
	t := time.AfterFunc(timeout, closeBody)
	io.CopyN(io.Discard, resp.Body, limit)
	t.Stop()
	closeBody()
}

// cancelOnClose ends an attempt's context when the caller closes the body
// of the response it returned, and not before: the body is read through
// that context.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// wrapBody wraps body so that closing it calls cancel. A body that can also
// be written to (a 101 Switching Protocols response) keeps that ability.
func wrapBody(body io.ReadCloser, cancel func()) io.ReadCloser {
	if rw, ok := body.(io.ReadWriteCloser); ok {
		return &cancelOnCloseRW{cancelOnClose{rw, cancel}, rw}
	}
	return &cancelOnClose{body, cancel}
}

type cancelOnCloseRW struct {
	cancelOnClose
	w io.Writer
}

func (b *cancelOnCloseRW) Write(p []byte) (int, error) { return b.w.Write(p) }
