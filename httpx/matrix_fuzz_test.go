package httpx_test

import (
	"net/http"
	"testing"

	fs "github.com/retrykit/retry/internal/faultserver"
)

// fuzzSteps are the steps a fuzzed script is made of: answers and
// transport faults whose outcome the oracle knows, none that hangs.
var fuzzSteps = []struct {
	step    fs.Step
	outcome outcome
}{
	{fs.OK(), outcome{status: 200}},
	{fs.Answer(500), outcome{status: 500}},
	{fs.Answer(502), outcome{status: 502}},
	{fs.Answer(503), outcome{status: 503}},
	{fs.Answer(503, "Retry-After", "0"), outcome{status: 503, after: true}},
	{fs.Answer(429, "Retry-After", "soon"), outcome{status: 429}},
	{fs.Answer(429, "Retry-After", "99999999999"), outcome{status: 429, after: true, huge: true}},
	{fs.Answer(504), outcome{status: 504}},
	{fs.Answer(409), outcome{status: 409}},
	{fs.Answer(404), outcome{status: 404}},
	{fs.Reset(), outcome{}},
	{fs.ReadPartThenClose(10), outcome{}},
	{fs.Early(503), outcome{status: 503}},
}

// fuzzBodies are the body shapes of a fuzzed request.
const (
	bodyNone = iota
	bodyNoBody
	bodyGetBody
	bodyShared
	bodyOwn // no GetBody: kept in memory, or sent once if large
	bodyStream
	bodyBadLength
	bodyShapes
)

// fuzzKind makes a request kind from fuzzed numbers.
func fuzzKind(method, shape uint8, size uint16) reqKind {
	k := reqKind{name: "fuzzed"}
	switch method % 4 {
	case 0:
		k.method = http.MethodGet
	case 1:
		k.method = http.MethodPost
	case 2:
		k.method, k.key = http.MethodPost, true
	default:
		k.method = http.MethodPut
	}
	n := int(size%8192) + 1
	switch shape % bodyShapes {
	case bodyNone:
		if k.method != http.MethodGet {
			k.method = http.MethodPut
		}
	case bodyNoBody:
		k.method = http.MethodPut
	case bodyGetBody:
		k.size, k.length, k.getBody = n, int64(n), true
	case bodyShared:
		k.size, k.length, k.getBody, k.shared = n, int64(n), true, true
	case bodyOwn:
		k.size, k.length = n, int64(n)
	case bodyStream:
		k.size, k.length, k.stream = n, -1, true
	case bodyBadLength:
		// Refused before sending: kept in memory to replay, it is short.
		k.size = min(n, matrixMaxReplay-1)
		k.length, k.badLength = int64(k.size+1), true
	}
	if k.method == http.MethodGet && k.size > 0 {
		k.method = http.MethodPut
	}
	return k
}

// fuzzScript makes a script of up to 6 steps from fuzzed bytes.
func fuzzScript(steps []byte) faultScript {
	s := faultScript{name: "fuzzed"}
	for i, b := range steps {
		if i == 6 {
			break
		}
		st := fuzzSteps[int(b)%len(fuzzSteps)]
		s.steps = append(s.steps, st.step)
		s.outcomes = append(s.outcomes, st.outcome)
	}
	if len(s.steps) == 0 {
		s.steps, s.outcomes = []fs.Step{fs.OK()}, []outcome{{status: 200}}
	}
	return s
}

// FuzzRequestShape sends a request of a fuzzed shape (method, body kind,
// length) through a fuzzed client mode against a fuzzed script of faults,
// and checks the matrix's invariants (see TestMatrix): the outcome and the
// exact number of requests the oracle predicts, bodies received whole or
// not at all, no plain POST sent twice, every body closed. Each input is
// one call, bounded by the script's length and the body's size.
func FuzzRequestShape(f *testing.F) {
	f.Add(uint8(0), uint8(bodyNone), uint16(0), uint8(0), false, []byte{3, 0})
	f.Add(uint8(1), uint8(bodyGetBody), uint16(1500), uint8(0), true, []byte{10, 0})
	f.Add(uint8(3), uint8(bodyShared), uint16(6000), uint8(2), true, []byte{12, 2, 0})
	f.Add(uint8(2), uint8(bodyOwn), uint16(900), uint8(6), false, []byte{2, 2, 8, 0})
	f.Add(uint8(3), uint8(bodyStream), uint16(3000), uint8(8), true, []byte{11})
	f.Add(uint8(3), uint8(bodyBadLength), uint16(10), uint8(4), false, []byte{0})
	f.Add(uint8(1), uint8(bodyOwn), uint16(5000), uint8(9), true, []byte{6, 0})
	servers := map[bool]*fs.Server{false: fs.New(false), true: fs.New(true)}
	f.Cleanup(func() { servers[false].Close(); servers[true].Close() })
	f.Fuzz(func(t *testing.T, method, shape uint8, size uint16, mode uint8, h2 bool, steps []byte) {
		c := cell{
			srv: servers[h2], tlsSrv: servers[true], h2: h2,
			script: fuzzScript(steps),
			kind:   fuzzKind(method, shape, size),
			mode:   matrixModes[int(mode)%len(matrixModes)],
		}
		c.run(t)
	})
}
