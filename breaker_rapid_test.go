package retry_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/retrykit/retry"
)

// breakerModel is the reference model of a Breaker with the
// consecutive-failures rule and a fixed open time: the rules of the
// package doc, written as plainly as possible.
type breakerModel struct {
	failures, probes, successes int // the config: F, N, M
	open                        time.Duration

	state    retry.BreakerState
	gen      int
	run      int // consecutive failures while closed
	until    time.Time
	inFlight int // probes in flight
	probeOK  int
	forced   string // "", "open" or "closed": the operator's hold
	changes  []string
}

// pendingCall is a call that was let through and has not finished.
type pendingCall struct {
	gen   int
	probe bool
	done  func(error)
}

func (m *breakerModel) set(to retry.BreakerState) {
	m.changes = append(m.changes, m.state.String()+">"+to.String())
	m.state = to
	m.gen++
}

// admit returns the rejection expected at now, or nil and the call.
func (m *breakerModel) admit(now time.Time) (error, pendingCall) {
	switch m.state {
	case retry.BreakerClosed:
		return nil, pendingCall{gen: m.gen}
	case retry.BreakerOpen:
		if m.forced == "open" && m.until.IsZero() || now.Before(m.until) {
			return retry.ErrBreakerOpen, pendingCall{}
		}
		m.forced = ""
		m.set(retry.BreakerHalfOpen)
		m.inFlight, m.probeOK = 0, 0
	}
	if m.inFlight >= m.probes {
		return retry.ErrTooManyProbes, pendingCall{}
	}
	m.inFlight++
	return nil, pendingCall{gen: m.gen, probe: true}
}

func (m *breakerModel) finish(c pendingCall, o retry.BreakerOutcome, now time.Time) {
	if c.gen != m.gen {
		return
	}
	if !c.probe {
		switch o {
		case retry.BreakerSuccess:
			m.run = 0
		case retry.BreakerFailure:
			if m.run++; m.run >= m.failures && m.forced != "closed" {
				m.set(retry.BreakerOpen)
				m.until = now.Add(m.open)
			}
		}
		return
	}
	m.inFlight--
	switch o {
	case retry.BreakerSuccess:
		if m.probeOK++; m.probeOK >= m.successes {
			m.set(retry.BreakerClosed)
			m.run = 0
		}
	case retry.BreakerFailure:
		m.set(retry.BreakerOpen)
		m.until = now.Add(m.open)
	}
}

// force is an operator's command: ForceOpen(d) as "open", ForceClosed as
// "closed", Reset as "".
func (m *breakerModel) force(to string, d time.Duration, now time.Time) {
	m.forced = to
	if to == "open" {
		m.until = time.Time{}
		if d > 0 {
			m.until = now.Add(d)
		}
		m.set(retry.BreakerOpen)
		return
	}
	m.set(retry.BreakerClosed)
	m.run = 0
}

// isForced is what Snapshot.Forced should say at now.
func (m *breakerModel) isForced(now time.Time) bool {
	return m.forced == "closed" || m.forced == "open" && (m.until.IsZero() || now.Before(m.until))
}

var outcomeErrs = map[retry.BreakerOutcome]error{retry.BreakerSuccess: nil, retry.BreakerFailure: errBoom, retry.BreakerIgnored: context.Canceled}

// TestBreakerModel drives a Breaker and the model with the same random
// actions (Allow, finishing a held call with each outcome, a panicking
// call, an operator's ForceOpen, ForceClosed or Reset, the clock moving)
// and checks after each that they agree: same state, force and counts,
// half-open in flight ≤ HalfOpenProbes, open admits nothing before its
// time, counts ≥ 0, one callback per change, in order.
func TestBreakerModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		m := &breakerModel{
			failures:  rapid.IntRange(1, 3).Draw(rt, "ConsecutiveFailures"),
			probes:    rapid.IntRange(1, 3).Draw(rt, "HalfOpenProbes"),
			successes: rapid.IntRange(1, 3).Draw(rt, "HalfOpenSuccesses"),
			open:      time.Duration(rapid.IntRange(1, 5).Draw(rt, "OpenSeconds")) * time.Second,
		}
		clk := newManualClock()
		rec := new(recorder)
		b, err := retry.NewBreaker(retry.BreakerConfig{
			ConsecutiveFailures: m.failures, HalfOpenProbes: m.probes, HalfOpenSuccesses: m.successes,
			OpenDuration: m.open, Clock: clk, Hooks: changeHooks(rec.hook),
		})
		if err != nil {
			rt.Fatal(err)
		}
		var pending []pendingCall

		checkAdmit := func(got error, want error) bool {
			if want == nil {
				if got != nil {
					rt.Fatalf("rejected with %v, model let it through", got)
				}
				return true
			}
			if !errors.Is(got, want) {
				rt.Fatalf("got %v, model says %v", got, want)
			}
			return false
		}

		rt.Repeat(map[string]func(*rapid.T){
			"allow": func(rt *rapid.T) {
				done, err := b.Allow()
				want, c := m.admit(clk.Now())
				if checkAdmit(err, want) {
					c.done = done
					pending = append(pending, c)
				}
			},
			"finish": func(rt *rapid.T) {
				if len(pending) == 0 {
					rt.Skip("nothing in flight")
				}
				i := rapid.IntRange(0, len(pending)-1).Draw(rt, "call")
				o := rapid.SampledFrom([]retry.BreakerOutcome{retry.BreakerSuccess, retry.BreakerFailure, retry.BreakerIgnored}).Draw(rt, "outcome")
				c := pending[i]
				pending = append(pending[:i], pending[i+1:]...)
				c.done(outcomeErrs[o])
				m.finish(c, o, clk.Now())
			},
			"panic": func(rt *rapid.T) {
				var err error
				func() {
					defer func() { recover() }()
					_, err = retry.Guard(context.Background(), b, func(context.Context) (int, error) { panic("fn") })
				}()
				want, c := m.admit(clk.Now())
				if checkAdmit(err, want) {
					m.finish(c, retry.BreakerFailure, clk.Now())
				}
			},
			"force": func(rt *rapid.T) {
				switch to := rapid.SampledFrom([]string{"open", "closed", ""}).Draw(rt, "force"); to {
				case "open":
					d := time.Duration(rapid.IntRange(0, 3).Draw(rt, "force seconds")) * time.Second
					if err := b.ForceOpen(d); err != nil {
						rt.Fatal(err)
					}
					m.force(to, d, clk.Now())
				case "closed":
					b.ForceClosed()
					m.force(to, 0, clk.Now())
				default:
					b.Reset()
					m.force(to, 0, clk.Now())
				}
			},
			"advance": func(rt *rapid.T) {
				clk.Add(time.Duration(rapid.IntRange(0, 3000).Draw(rt, "ms")) * time.Millisecond)
			},
			"": func(rt *rapid.T) {
				s := b.Snapshot()
				if s.State != m.state || int(s.Generation) != m.gen+1 {
					rt.Fatalf("state %v gen %d, model %v gen %d", s.State, s.Generation, m.state, m.gen+1)
				}
				if s.Forced != m.isForced(clk.Now()) {
					rt.Fatalf("forced %v, model %q until %v", s.Forced, m.forced, m.until)
				}
				if s.Probes > m.probes || s.Probes < 0 || s.ProbeSuccesses < 0 || s.ConsecutiveFailures < 0 {
					rt.Fatalf("counts out of range: %+v", s)
				}
				switch m.state {
				case retry.BreakerClosed:
					if s.ConsecutiveFailures != int64(m.run) {
						rt.Fatalf("run %d, model %d", s.ConsecutiveFailures, m.run)
					}
				case retry.BreakerOpen:
					if !s.OpenUntil.Equal(m.until) {
						rt.Fatalf("open until %v, model %v", s.OpenUntil, m.until)
					}
				case retry.BreakerHalfOpen:
					if s.Probes != m.inFlight || s.ProbeSuccesses != m.probeOK {
						rt.Fatalf("probes %d ok %d, model %d ok %d", s.Probes, s.ProbeSuccesses, m.inFlight, m.probeOK)
					}
				}
				if got, want := rec.String(), fmt.Sprint(m.changes); got != want {
					rt.Fatalf("changes %s, model %s", got, want)
				}
			},
		})
	})
}
