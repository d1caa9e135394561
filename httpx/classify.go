package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// DefaultRetryable is the classifier of a Transport whose Retryable is
// nil. It retries:
//
//   - the statuses 429 Too Many Requests, 502 Bad Gateway, 503 Service
//     Unavailable and 504 Gateway Timeout. Not 500: an internal error is
//     as often a bug that fails every time as a passing fault; a
//     classifier of your own can add it. Never 501 or any other 4xx, but
//     for 409 Conflict on a request with an Idempotency-Key, by which the
//     server says that the first request with that key is still being
//     processed (a 422 for a reused key is final);
//   - transport errors: refused or reset connections, timeouts of the
//     attempt, an EOF before the response, and the like.
//
// It does not retry errors that another attempt cannot fix: certificate
// verification, invalid headers, unsupported schemes, a URL with no host.
// The caller's own cancellation is never retried, whatever a classifier
// says.
func DefaultRetryable(resp *http.Response, err error) bool {
	if err != nil {
		return retryableError(err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusConflict:
		return resp.Request != nil && hasKey(resp.Request.Header)
	}
	return false
}

func retryableError(err error) bool {
	// Typed checks first, through *url.Error and any other wrapping.
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority),
		errors.As(err, &hostnameErr), errors.As(err, &invalidCert),
		errors.As(err, &recordErr): // TLS spoken to a plain-text server
		return false
	}
	msg := err.Error()
	return !refusedRequest(err) && !strings.Contains(msg, "invalid header field") &&
		!strings.Contains(msg, "stopped after") // too many redirects
}

// refusedRequest reports whether net/http refused the request before
// sending it, or found its body not as declared: the request is at fault,
// and neither another attempt nor the server's health would change that.
// net/http reports these as plain errors; their text is all there is.
func refusedRequest(err error) bool {
	msg := err.Error()
	for _, s := range []string{
		"unsupported protocol scheme",
		"no Host in request URL",
		"nil Request.URL",
		"nil Request.Header",
		"request header",      // HTTP/2 refuses Connection, Upgrade, Transfer-Encoding
		"invalid Host header", // HTTP/2 refuses a Host that HTTP/1 would blank
		"with Body length",    // http: ContentLength=N with Body length M
		"with a longer Body",
		"larger than specified content length", // HTTP/2's word for a long body
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Idempotent reports whether req may be sent more than once: its method is
// GET, HEAD, OPTIONS, TRACE, PUT or DELETE, or it carries an
// Idempotency-Key or X-Idempotency-Key header (a key present with a nil
// value counts, as in net/http).
func Idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	return hasKey(req.Header)
}

func hasKey(h http.Header) bool {
	if _, ok := h["Idempotency-Key"]; ok {
		return true
	}
	_, ok := h["X-Idempotency-Key"]
	return ok
}

// notProcessed reports whether an attempt's outcome proves that the server
// did not act on the request, so that even a request that is not
// idempotent may be sent again: the connection was never made, or the
// server answered 429 or 503.
func notProcessed(resp *http.Response, err error) bool {
	if err == nil {
		return resp.StatusCode == http.StatusTooManyRequests ||
			resp.StatusCode == http.StatusServiceUnavailable
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
