package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/retrykit/retry"
	"github.com/retrykit/retry/internal/stepclock"
)

// manualClock is a Clock that moves only when told to (a Breaker never
// waits on it).
type manualClock = stepclock.Clock

func newManualClock() *manualClock {
	return stepclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

func newBreaker(t testing.TB, cfg retry.BreakerConfig) *retry.Breaker {
	t.Helper()
	b, err := retry.NewBreaker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var errBoom = errors.New("boom")

// call runs one call through b that returns err, after taking d on clk.
func call(b *retry.Breaker, clk *manualClock, d time.Duration, err error) error {
	_, gerr := retry.Guard(context.Background(), b, func(context.Context) (int, error) {
		if clk != nil {
			clk.Add(d)
		}
		return 1, err
	})
	return gerr
}

// recorder records state changes.
type recorder struct {
	mu      sync.Mutex
	changes []string
}

func (r *recorder) hook(from, to retry.BreakerState) {
	r.mu.Lock()
	r.changes = append(r.changes, from.String()+">"+to.String())
	r.mu.Unlock()
}

// changeHooks returns Hooks that pass each change of state to f.
func changeHooks(f func(from, to retry.BreakerState)) *retry.Hooks {
	return &retry.Hooks{OnBreakerChange: func(_ context.Context, e retry.BreakerChange) { f(e.From, e.To) }}
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.changes)
}

// bstep is one event of a state-machine table: a call with an outcome and a
// duration, or the clock moving.
type bstep struct {
	wait  time.Duration      // advance the clock first
	err   error              // outcome of the call (errSkip: no call)
	took  time.Duration      // how long the call takes
	want  retry.BreakerState // state after the step
	rejct error              // error the call must match (nil: let through)
}

var errSkip = errors.New("no call")

func TestBreakerStateMachine(t *testing.T) {
	ok := error(nil)
	tests := []struct {
		name    string
		cfg     retry.BreakerConfig
		steps   []bstep
		changes string
	}{
		{
			name: "consecutive failures trip, open rejects, one probe closes",
			cfg:  retry.BreakerConfig{ConsecutiveFailures: 3, OpenDuration: time.Second},
			steps: []bstep{
				{err: errBoom}, {err: errBoom}, {err: ok}, // a success resets the run
				{err: errBoom}, {err: errBoom},
				{err: errBoom, want: retry.BreakerOpen},
				{err: ok, want: retry.BreakerOpen, rejct: retry.ErrBreakerOpen},
				{wait: 999 * time.Millisecond, err: ok, want: retry.BreakerOpen, rejct: retry.ErrBreakerOpen},
				{wait: time.Millisecond, err: ok, want: retry.BreakerClosed},
			},
			changes: "[closed>open open>half-open half-open>closed]",
		},
		{
			name: "a failed probe reopens, with a doubled open time up to the cap",
			cfg:  retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, MaxOpenDuration: 3 * time.Second},
			steps: []bstep{
				{err: errBoom, want: retry.BreakerOpen},
				{wait: time.Second, err: errBoom, want: retry.BreakerOpen}, // probe fails: open for 2s
				{wait: 1999 * time.Millisecond, err: ok, want: retry.BreakerOpen, rejct: retry.ErrBreakerOpen},
				{wait: time.Millisecond, err: errBoom, want: retry.BreakerOpen}, // open for 3s (capped, not 4s)
				{wait: 2999 * time.Millisecond, err: ok, want: retry.BreakerOpen, rejct: retry.ErrBreakerOpen},
				{wait: time.Millisecond, err: ok, want: retry.BreakerClosed},
				{err: errBoom, want: retry.BreakerOpen}, // closed again: back to 1s
				{wait: time.Second, err: ok, want: retry.BreakerClosed},
			},
			changes: "[closed>open open>half-open half-open>open open>half-open half-open>open open>half-open half-open>closed closed>open open>half-open half-open>closed]",
		},
		{
			name: "HalfOpenSuccesses successes close",
			cfg:  retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenSuccesses: 3},
			steps: []bstep{
				{err: errBoom, want: retry.BreakerOpen},
				{wait: time.Second, err: ok, want: retry.BreakerHalfOpen},
				{err: ok, want: retry.BreakerHalfOpen},
				{err: context.Canceled, want: retry.BreakerHalfOpen}, // ignored: does not count
				{err: ok, want: retry.BreakerClosed},
			},
			changes: "[closed>open open>half-open half-open>closed]",
		},
		{
			name: "failure ratio over a time window with MinCalls",
			cfg: retry.BreakerConfig{FailureRatio: 0.5, MinCalls: 4, Window: 4 * time.Second,
				BucketPeriod: time.Second, OpenDuration: time.Second},
			steps: []bstep{
				{err: errBoom}, {err: errBoom}, {err: errBoom, want: retry.BreakerClosed}, // 3 calls: too few
				{err: ok, want: retry.BreakerOpen}, // 4 calls, 3 failed: the success that fills the window trips it
			},
			changes: "[closed>open]",
		},
		{
			name: "failure ratio over the last N calls",
			cfg:  retry.BreakerConfig{FailureRatio: 0.6, WindowCalls: 5, MinCalls: 5},
			steps: []bstep{
				{err: errBoom}, {err: errBoom}, {err: ok}, {err: ok}, {err: ok}, {err: ok},
				{err: errBoom},                          // 1 of the last 5
				{err: errBoom},                          // 2 of 5
				{err: errBoom, want: retry.BreakerOpen}, // 3 of 5 = 0.6, though 5 of 9 overall
			},
			changes: "[closed>open]",
		},
		{
			name: "slow successes trip the slow-call rule",
			cfg: retry.BreakerConfig{SlowCallThreshold: 100 * time.Millisecond, SlowCallRatio: 0.5,
				MinCalls: 4, Window: 10 * time.Second},
			steps: []bstep{
				{err: ok, took: 10 * time.Millisecond},
				{err: ok, took: 100 * time.Millisecond}, // at the threshold: slow
				{err: ok, took: 10 * time.Millisecond},
				{err: ok, took: time.Second, want: retry.BreakerOpen}, // 2 of 4 slow, all succeeded
			},
			changes: "[closed>open]",
		},
		{
			name: "average duration trips",
			cfg:  retry.BreakerConfig{MaxAverageDuration: 50 * time.Millisecond, MinCalls: 3, WindowCalls: 10},
			steps: []bstep{
				{err: ok, took: 10 * time.Millisecond},
				{err: ok, took: 20 * time.Millisecond},
				{err: ok, took: 90 * time.Millisecond},                          // average 40ms
				{err: ok, took: 90 * time.Millisecond, want: retry.BreakerOpen}, // average 52.5ms
			},
			changes: "[closed>open]",
		},
		{
			name: "ignored outcomes count as neither",
			cfg:  retry.BreakerConfig{ConsecutiveFailures: 2},
			steps: []bstep{
				{err: errBoom}, {err: context.Canceled}, {err: fmt.Errorf("wrapped: %w", context.Canceled)},
				{err: errBoom, want: retry.BreakerOpen}, // the run was not broken
			},
			changes: "[closed>open]",
		},
		{
			name: "a deadline counts as a failure",
			cfg:  retry.BreakerConfig{ConsecutiveFailures: 1},
			steps: []bstep{
				{err: context.DeadlineExceeded, want: retry.BreakerOpen},
			},
			changes: "[closed>open]",
		},
		{
			name: "Retry-After sets the open time",
			cfg:  retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, MaxOpenDuration: time.Minute},
			steps: []bstep{
				{err: retry.After(errBoom, 5*time.Second), want: retry.BreakerOpen},
				{wait: 4 * time.Second, err: ok, want: retry.BreakerOpen, rejct: retry.ErrBreakerOpen},
				{wait: time.Second, err: ok, want: retry.BreakerClosed},
				{err: retry.After(errBoom, time.Hour), want: retry.BreakerOpen}, // capped at a minute
				{wait: time.Minute, err: ok, want: retry.BreakerClosed},
			},
			changes: "[closed>open open>half-open half-open>closed closed>open open>half-open half-open>closed]",
		},
		{
			name: "a classifier decides",
			cfg: retry.BreakerConfig{ConsecutiveFailures: 1, Classify: func(err error) retry.BreakerOutcome {
				if errors.Is(err, errSkip) {
					return retry.BreakerSuccess
				}
				if err != nil {
					return retry.BreakerFailure
				}
				return retry.BreakerSuccess
			}},
			steps: []bstep{
				{err: fmt.Errorf("not found: %w", errSkip)},
				{err: context.Canceled}, // Ignored whatever the classifier says
				{err: errBoom, want: retry.BreakerOpen},
			},
			changes: "[closed>open]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newManualClock()
			rec := new(recorder)
			cfg := tt.cfg
			cfg.Clock, cfg.Hooks = clk, changeHooks(rec.hook)
			b := newBreaker(t, cfg)
			for i, s := range tt.steps {
				clk.Add(s.wait)
				err := call(b, clk, s.took, s.err)
				switch {
				case s.rejct != nil && !errors.Is(err, s.rejct):
					t.Fatalf("step %d: err = %v, want %v", i, err, s.rejct)
				case s.rejct == nil && !errors.Is(err, s.err) && err != s.err:
					t.Fatalf("step %d: err = %v, want the call's %v", i, err, s.err)
				}
				if got := b.State(); got != s.want {
					t.Fatalf("step %d: state %v, want %v (changes %v)", i, got, s.want, rec)
				}
			}
			if got := rec.String(); got != tt.changes {
				t.Errorf("changes %s, want %s", got, tt.changes)
			}
		})
	}
}

func TestBreakerBadConfig(t *testing.T) {
	type bad struct {
		cfg   retry.BreakerConfig
		field string // the field the error names
	}
	tests := map[string]bad{
		"negative consecutive":   {retry.BreakerConfig{ConsecutiveFailures: -1}, "ConsecutiveFailures"},
		"ratio above 1":          {retry.BreakerConfig{FailureRatio: 1.5}, "FailureRatio"},
		"negative ratio":         {retry.BreakerConfig{FailureRatio: -0.1}, "FailureRatio"},
		"NaN ratio":              {retry.BreakerConfig{FailureRatio: math.NaN()}, "FailureRatio"},
		"slow ratio above 1":     {retry.BreakerConfig{SlowCallThreshold: time.Second, SlowCallRatio: 2}, "SlowCallRatio"},
		"slow ratio alone":       {retry.BreakerConfig{SlowCallRatio: 0.5}, "SlowCallRatio"},
		"negative slow":          {retry.BreakerConfig{SlowCallThreshold: -time.Second}, "SlowCallThreshold"},
		"negative average":       {retry.BreakerConfig{MaxAverageDuration: -1}, "MaxAverageDuration"},
		"negative minimum":       {retry.BreakerConfig{FailureRatio: 0.5, MinCalls: -1}, "MinCalls"},
		"negative window":        {retry.BreakerConfig{FailureRatio: 0.5, Window: -time.Second}, "Window"},
		"negative bucket":        {retry.BreakerConfig{FailureRatio: 0.5, BucketPeriod: -time.Second}, "BucketPeriod"},
		"bucket does not divide": {retry.BreakerConfig{FailureRatio: 0.5, Window: 10 * time.Second, BucketPeriod: 3 * time.Second}, "BucketPeriod"},
		"bucket above window":    {retry.BreakerConfig{FailureRatio: 0.5, Window: time.Second, BucketPeriod: 2 * time.Second}, "BucketPeriod"},
		"window not /10":         {retry.BreakerConfig{FailureRatio: 0.5, Window: 15}, "Window"},
		"too many buckets":       {retry.BreakerConfig{FailureRatio: 0.5, Window: time.Hour, BucketPeriod: time.Millisecond}, "Window"},
		"negative window calls":  {retry.BreakerConfig{FailureRatio: 0.5, WindowCalls: -1}, "WindowCalls"},
		"both windows":           {retry.BreakerConfig{FailureRatio: 0.5, WindowCalls: 10, Window: time.Second}, "WindowCalls"},
		"minimum above calls":    {retry.BreakerConfig{FailureRatio: 0.5, WindowCalls: 10, MinCalls: 11}, "MinCalls"},
		"K below 1":              {retry.BreakerConfig{Adaptive: true, AdaptiveK: 0.5}, "AdaptiveK"},
		"K negative":             {retry.BreakerConfig{Adaptive: true, AdaptiveK: -2}, "AdaptiveK"},
		"K NaN":                  {retry.BreakerConfig{Adaptive: true, AdaptiveK: math.NaN()}, "AdaptiveK"},
		"K infinite":             {retry.BreakerConfig{Adaptive: true, AdaptiveK: math.Inf(1)}, "AdaptiveK"},
		"negative open":          {retry.BreakerConfig{OpenDuration: -time.Second}, "OpenDuration"},
		"negative max open":      {retry.BreakerConfig{MaxOpenDuration: -time.Second}, "MaxOpenDuration"},
		"max open below open":    {retry.BreakerConfig{OpenDuration: time.Minute, MaxOpenDuration: time.Second}, "MaxOpenDuration"},
		"negative probes":        {retry.BreakerConfig{HalfOpenProbes: -1}, "HalfOpenProbes"},
		"negative successes":     {retry.BreakerConfig{HalfOpenSuccesses: -1}, "HalfOpenSuccesses"},
		"max int64 window":       {retry.BreakerConfig{FailureRatio: 0.5, Window: math.MaxInt64, BucketPeriod: 1}, "Window"},
		// A huge count window used to panic in make (or exhaust memory).
		"window calls MaxInt":  {retry.BreakerConfig{FailureRatio: 0.5, WindowCalls: math.MaxInt}, "WindowCalls"},
		"window calls 1<<20+1": {retry.BreakerConfig{FailureRatio: 0.5, WindowCalls: 1<<20 + 1}, "WindowCalls"},
		// Settings that would be silently ignored.
		"window without rule":        {retry.BreakerConfig{Window: time.Second}, "Window"},
		"bucket without rule":        {retry.BreakerConfig{BucketPeriod: time.Second}, "BucketPeriod"},
		"window calls without rule":  {retry.BreakerConfig{WindowCalls: 10}, "WindowCalls"},
		"minimum calls without rule": {retry.BreakerConfig{ConsecutiveFailures: 3, MinCalls: 5}, "MinCalls"},
		"K without Adaptive":         {retry.BreakerConfig{AdaptiveK: 3}, "AdaptiveK"},
		"K with a ratio only":        {retry.BreakerConfig{FailureRatio: 0.5, AdaptiveK: 3}, "AdaptiveK"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rejects(t, retry.NewBreaker, tt.cfg, "BreakerConfig."+tt.field)
		})
	}
	for name, cfg := range map[string]retry.BreakerConfig{
		"zero":         {},
		"ratio 1":      {FailureRatio: 1},
		"K 1":          {Adaptive: true, AdaptiveK: 1},
		"calls window": {FailureRatio: 0.5, WindowCalls: 3}, // MinCalls defaults to 3
		"one bucket":   {FailureRatio: 0.5, Window: time.Second, BucketPeriod: time.Second},
		"max int64":    {FailureRatio: 0.5, Window: math.MaxInt64, BucketPeriod: math.MaxInt64},
		"max calls":    {FailureRatio: 0.5, WindowCalls: 1 << 20},
		"slow window":  {SlowCallThreshold: time.Second, Window: time.Minute},
		"avg calls":    {MaxAverageDuration: time.Second, WindowCalls: 50, MinCalls: 5},
		"adaptive K":   {Adaptive: true, AdaptiveK: 1.5, Window: time.Second},
	} {
		t.Run(name, func(t *testing.T) { accepts(t, retry.NewBreaker, cfg) })
	}
}

func TestGuardBadInput(t *testing.T) {
	b := newBreaker(t, retry.BreakerConfig{})
	fn := func(context.Context) (int, error) { return 1, nil }
	var nilCtx context.Context
	if _, err := retry.Guard(nilCtx, b, fn); !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("nil ctx: %v", err)
	}
	if _, err := retry.Guard[int](context.Background(), b, nil); !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("nil fn: %v", err)
	}
	if _, err := retry.Guard[int](context.Background(), nil, fn); !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("nil breaker: %v", err)
	}
	if _, _, err := retry.GuardFallback[int](context.Background(), nil, fn, nil); !errors.Is(err, retry.ErrInvalid) {
		t.Errorf("GuardFallback nil breaker: %v", err)
	}
}

// A caller whose context is already done does not spend a call (or a
// probe) at all.
func TestGuardDoneContext(t *testing.T) {
	b := newBreaker(t, retry.BreakerConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	_, err := retry.Guard(ctx, b, func(context.Context) (int, error) { called = true; return 0, nil })
	if called || !errors.Is(err, context.Canceled) {
		t.Fatalf("called = %v, err = %v", called, err)
	}
}

func TestRejectedError(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: 10 * time.Second, Clock: clk})
	call(b, nil, 0, errBoom)
	clk.Add(4 * time.Second)
	err := call(b, nil, 0, nil)
	var re *retry.BreakerError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want *BreakerError", err)
	}
	if re.Reason != retry.ErrBreakerOpen || re.Wait != 6*time.Second ||
		!re.Until.Equal(clk.Now().Add(6*time.Second)) {
		t.Errorf("got %+v", re)
	}
	if d, ok := retry.RequestedDelay(err); ok {
		t.Errorf("RequestedDelay = %v: the breaker's wait passed off as server pushback", d)
	}
	if got, want := err.Error(), "circuit breaker is open, next probe in 6s"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if s := b.Snapshot(); s.Rejected != 1 || s.State != retry.BreakerOpen || !s.OpenUntil.Equal(re.Until) {
		t.Errorf("snapshot %+v", s)
	}
}

func TestGuardFallback(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 2, Clock: clk})
	var seen []error
	fallback := func(_ context.Context, err error) (string, error) {
		seen = append(seen, err)
		return "cached", nil
	}
	run := func(err error) (string, bool, error) {
		return retry.GuardFallback(context.Background(), b, func(context.Context) (string, error) {
			return "live", err
		}, fallback)
	}
	if v, fb, err := run(nil); v != "live" || fb || err != nil {
		t.Fatalf("success: %q %v %v", v, fb, err)
	}
	if v, fb, err := run(errBoom); v != "cached" || !fb || err != nil {
		t.Fatalf("failure: %q %v %v", v, fb, err)
	}
	if v, fb, err := run(context.Canceled); v != "live" || fb || !errors.Is(err, context.Canceled) {
		t.Fatalf("ignored: %q %v %v", v, fb, err)
	}
	run(errBoom) // trips
	if v, fb, err := run(nil); v != "cached" || !fb || err != nil {
		t.Fatalf("rejected: %q %v %v", v, fb, err)
	}
	if len(seen) != 3 || seen[0] != errBoom || !errors.Is(seen[2], retry.ErrBreakerOpen) {
		t.Errorf("fallback saw %v", seen)
	}
	// Without a fallback it is Guard.
	_, fb, err := retry.GuardFallback(context.Background(), b, func(context.Context) (int, error) { return 1, nil }, nil)
	if fb || !errors.Is(err, retry.ErrBreakerOpen) {
		t.Errorf("nil fallback: %v %v", fb, err)
	}
	// A fallback that cannot help passes the error on, and says it ran.
	_, fb, err = retry.GuardFallback(context.Background(), b, func(context.Context) (int, error) { return 1, nil }, func(_ context.Context, err error) (int, error) { return 0, err })
	if !fb || !errors.Is(err, retry.ErrBreakerOpen) {
		t.Errorf("declining fallback: %v %v", fb, err)
	}
}

func TestAllow(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 2, OpenDuration: time.Second, Clock: clk})
	for range 2 {
		done, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		done(errBoom)
		done(nil) // later calls are ignored
	}
	done, err := b.Allow()
	if !errors.Is(err, retry.ErrBreakerOpen) {
		t.Fatalf("err = %v", err)
	}
	done(errBoom) // a no-op, safe to call
	clk.Add(time.Second)
	done, err = b.Allow()
	if err != nil || b.State() != retry.BreakerHalfOpen {
		t.Fatal(err, b.State())
	}
	if _, err := b.Allow(); !errors.Is(err, retry.ErrTooManyProbes) {
		t.Fatalf("second probe: %v", err)
	}
	done(nil)
	if b.State() != retry.BreakerClosed {
		t.Fatal(b.State())
	}
}

func TestSnapshot(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{FailureRatio: 0.9, ConsecutiveFailures: 5,
		SlowCallThreshold: time.Second, SlowCallRatio: 0.9, Clock: clk})
	call(b, clk, 2*time.Second, errBoom)
	call(b, clk, 0, nil)
	call(b, clk, time.Second, errBoom)
	s := b.Snapshot()
	want := retry.BreakerSnapshot{State: retry.BreakerClosed, Generation: 1, Calls: 3, Failures: 2, Slow: 2,
		AverageDuration: time.Second, ConsecutiveFailures: 1}
	if s != want {
		t.Errorf("snapshot\n%+v, want\n%+v", s, want)
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[retry.BreakerState]string{retry.BreakerClosed: "closed", retry.BreakerOpen: "open",
		retry.BreakerHalfOpen: "half-open", 7: "BreakerState(7)"} {
		if s.String() != want {
			t.Errorf("%d: %q", s, s.String())
		}
	}
	for o, want := range map[retry.BreakerOutcome]string{retry.BreakerSuccess: "success", retry.BreakerFailure: "failure",
		retry.BreakerIgnored: "ignored", 9: "BreakerOutcome(9)"} {
		if o.String() != want {
			t.Errorf("%d: %q", o, o.String())
		}
	}
}

// A probe counts by its outcome alone: a slow probe that succeeds closes a
// breaker that tripped on slow calls (as documented at HalfOpenSuccesses),
// and the closed breaker then counts slow calls afresh.
func TestBreakerSlowProbeIsSuccess(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{SlowCallThreshold: time.Second, MinCalls: 2,
		WindowCalls: 4, OpenDuration: time.Second, Clock: clk})
	call(b, clk, 2*time.Second, nil)
	call(b, clk, 2*time.Second, nil)
	if b.State() != retry.BreakerOpen {
		t.Fatalf("2 slow calls: %v, want open", b.State())
	}
	clk.Add(time.Second)
	if err := call(b, clk, 5*time.Second, nil); err != nil || b.State() != retry.BreakerClosed {
		t.Fatalf("slow probe: %v, %v; want nil, closed", err, b.State())
	}
	if s := b.Snapshot(); s.Calls != 0 || s.Slow != 0 {
		t.Fatalf("fresh closed period counts %+v", s)
	}
	call(b, clk, 2*time.Second, nil)
	if b.State() != retry.BreakerClosed {
		t.Fatal("one slow call tripped a fresh closed period below MinCalls")
	}
	call(b, clk, 2*time.Second, nil)
	if b.State() != retry.BreakerOpen {
		t.Fatalf("still slow after closing: %v, want open", b.State())
	}
}

// For ErrTooManyProbes and ErrBreakerThrottled, Until and Wait are zero:
// no probe time is known (see BreakerError).
func TestRejectedErrorUntilWithoutOpen(t *testing.T) {
	clk := newManualClock()
	b := newBreaker(t, retry.BreakerConfig{ConsecutiveFailures: 1, OpenDuration: time.Second, Clock: clk})
	call(b, nil, 0, errBoom)
	clk.Add(time.Second)
	done, err := b.Allow() // the only probe slot
	if err != nil {
		t.Fatal(err)
	}
	defer done(nil)
	clk.Add(time.Millisecond)
	_, err = b.Allow()
	var re *retry.BreakerError
	if !errors.As(err, &re) || re.Reason != retry.ErrTooManyProbes {
		t.Fatalf("second probe: %v, want ErrTooManyProbes", err)
	}
	if !re.Until.IsZero() || re.Wait != 0 {
		t.Fatalf("Until %v, Wait %v; want both zero", re.Until, re.Wait)
	}
}
