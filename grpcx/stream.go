package grpcx

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/retrykit/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Stream is the stream client interceptor (grpc.StreamClientInterceptor).
// Every attempt asks the breaker; a stream is retried, on the Method's
// codes and within its Retry policy and budget, only while it is
// uncommitted: nothing received yet (no message, no header), and the
// messages sent so far fit in Method.MaxReplayBytes, kept to be sent again
// to the next attempt. Streams are never hedged: a stream of a method
// configured for hedging is made once. The retry policy's AttemptTimeout
// and SplitDeadline do not apply to streams. As in grpc-go, taking the
// stream's Context commits it, and the caller's grpc.OnFinish options run
// once, when the stream ends.
func (ic *Interceptor) Stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, name string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ic.init()
	m := ic.lookup(name)
	tgt := target(cc)
	opts, finish := takeOnFinish(opts) // grpc-go calls them once per stream
	s := &retriedStream{
		ic: ic, ctx: ctx, desc: desc, cc: cc, name: name, streamer: streamer, opts: opts,
		breaker: ic.breaker(tgt, name), codes: m.codes, maxReplay: m.maxReplay,
		policy: m.policy,
	}
	s.policy.AttemptTimeout, s.policy.SplitDeadline = 0, false
	if ic.cfg.Budget != nil {
		s.policy.Budget = ic.cfg.Budget(tgt, name)
	}
	if s.policy.Budget != nil {
		s.budget = &streamBudget{Budget: s.policy.Budget}
		s.policy.Budget = s.budget
	}
	if m.maxReplay < 0 || m.hedge != nil || ic.builtin(cc, name) {
		s.policy.MaxAttempts = 1
		s.committed.Store(true)
	}
	if finish != nil {
		s.onFinish = finish
		s.stopFinish = context.AfterFunc(ctx, func() { s.finished(status.FromContextError(ctx.Err()).Err()) })
	}
	if _, err := retry.Retry(ctx, &s.policy, s.open); err != nil {
		err = statusOf(err)
		s.streamDone(err)
		return nil, err
	}
	return s, nil
}

// streamDone calls the caller's OnFinish options, once, when the stream
// has ended for good.
func (s *retriedStream) streamDone(err error) {
	if s.onFinish == nil {
		return
	}
	s.stopFinish()
	s.finished(err)
}

// finished calls the OnFinish options once; the caller's cancellation may
// call it too, from its own goroutine.
func (s *retriedStream) finished(err error) {
	s.finishOnce.Do(func() {
		for _, f := range s.onFinish {
			f(err)
		}
	})
}

// retriedStream is a client stream that may be replaced by a new attempt
// while it is uncommitted.
type retriedStream struct {
	ic       *Interceptor
	ctx      context.Context // the caller's
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	name     string
	streamer grpc.Streamer
	opts     []grpc.CallOption
	breaker  *retry.Breaker
	codes    []codes.Code
	policy   retry.Policy
	budget   *streamBudget // nil without a budget

	maxReplay int
	committed atomic.Bool
	attempts  int   // attempts opened; only RecvMsg's goroutine reopens
	pending   error // a failure already seen, which the reopening loop starts from

	// The caller's grpc.OnFinish options, taken off the attempts.
	onFinish   []func(error)
	stopFinish func() bool
	finishOnce sync.Once

	mu         sync.Mutex // guards what SendMsg and CloseSend share with a reopening
	cs         grpc.ClientStream
	end        func(error) // ends the current attempt: breaker, context, watcher
	buf        []any       // messages sent while uncommitted, to send again
	bufBytes   int
	closedSend bool
}

var _ grpc.ClientStream = (*retriedStream)(nil)

// open is an attempt of the retry loops: it starts a new stream, asking the
// breaker first, and sends it every message kept. The first attempt of a
// loop that reopens a failed stream is that failure, not a new stream.
func (s *retriedStream) open(context.Context) (struct{}, error) {
	if err := s.pending; err != nil {
		s.pending = nil
		return struct{}{}, err
	}
	done := func(error) {}
	if s.breaker != nil {
		d, err := s.breaker.Allow()
		if err != nil {
			return struct{}{}, err
		}
		done = d
	}
	s.attempts++
	ctx := s.ctx
	if s.attempts > 1 {
		ctx = withPreviousAttempts(ctx, s.attempts-1)
	}
	ctx, cancel := context.WithCancel(ctx)
	// A caller that cancels its context instead of reading the stream to
	// its end must not hold a half-open breaker's probe slot.
	stop := context.AfterFunc(ctx, func() { done(context.Canceled) })
	var once sync.Once
	end := func(err error) {
		once.Do(func() {
			stop()
			if s.ctx.Err() != nil {
				err = context.Canceled // the caller's doing: says nothing of the server
			}
			done(err)
			cancel()
		})
	}
	cs, err := s.streamer(ctx, s.desc, s.cc, s.name, s.opts...)
	if err != nil {
		end(err)
		return struct{}{}, s.ic.failed(ctx, err, nil, nil, s.cc, s.name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.buf {
		if err := cs.SendMsg(m); err != nil {
			break // the stream failed: RecvMsg says how
		}
	}
	if s.closedSend {
		cs.CloseSend()
	}
	s.cs, s.end = cs, end
	return struct{}{}, nil
}

func (s *retriedStream) current() grpc.ClientStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cs
}

// commit makes the stream final: it will not be retried any more.
func (s *retriedStream) commit() {
	if s.committed.Load() {
		return
	}
	s.mu.Lock()
	s.committed.Store(true)
	s.buf, s.bufBytes = nil, 0
	s.mu.Unlock()
}

// finish ends the current attempt with err (nil for a clean end).
func (s *retriedStream) finish(err error) {
	s.mu.Lock()
	end := s.end
	s.mu.Unlock()
	end(err)
}

// SendMsg sends m, and keeps a copy to send again while the stream may
// still be retried. A message that does not fit the replay buffer commits
// the stream.
func (s *retriedStream) SendMsg(m any) error {
	s.mu.Lock()
	cs := s.cs
	uncommitted := !s.committed.Load()
	if uncommitted {
		pm, ok := m.(proto.Message)
		if size := 0; ok {
			size = proto.Size(pm)
			if s.bufBytes+size <= s.maxReplay {
				s.buf = append(s.buf, proto.Clone(pm))
				s.bufBytes += size
			} else {
				ok = false
			}
		}
		if !ok {
			s.committed.Store(true)
			s.buf, s.bufBytes, uncommitted = nil, 0, false
		}
	}
	s.mu.Unlock()
	err := cs.SendMsg(m)
	if err == io.EOF && uncommitted {
		// The attempt failed; RecvMsg will find out how, and may send
		// the message again to the next one.
		return nil
	}
	return err
}

// CloseSend closes the sending side, now and on every later attempt.
func (s *retriedStream) CloseSend() error {
	s.mu.Lock()
	s.closedSend = true
	cs := s.cs
	s.mu.Unlock()
	return cs.CloseSend()
}

// RecvMsg receives the next message. While the stream is uncommitted,
// a failure with a retryable code starts a new attempt, which is sent
// every message kept, and receives from it instead.
func (s *retriedStream) RecvMsg(m any) error {
	err := s.recvMsg(m)
	if s.onFinish != nil && (err != nil || !s.desc.ServerStreams) {
		s.streamDone(endError(err))
	}
	return err
}

func (s *retriedStream) recvMsg(m any) error {
	cs := s.current()
	err := cs.RecvMsg(m)
	if err == nil || err == io.EOF {
		s.budget.success()
	}
	if s.committed.Load() {
		if err != nil || !s.desc.ServerStreams {
			s.finish(endError(err))
		}
		return err
	}
	switch {
	case err == nil:
		s.commit()
		s.finishSingleReply()
		return nil
	case err == io.EOF:
		s.commit()
		s.finish(nil)
		return err
	}
	err = WithPushback(err, cs.Trailer())
	s.finish(err)
	if !retryableError(err, s.codes) || s.ctx.Err() != nil || s.ic.builtin(s.cc, s.name) || headersReceived(cs) {
		return err
	}
	return s.reopen(m, err)
}

// finishSingleReply ends the attempt of a stream whose server sends one
// message (a client stream): grpc-go finishes such a stream once it has
// received it, and the caller reads no further.
func (s *retriedStream) finishSingleReply() {
	if !s.desc.ServerStreams {
		s.finish(nil)
	}
}

// headersReceived reports whether the server of a failed attempt sent its
// headers before its status: the stream was then committed (gRFC A6), and
// grpc-go retries only trailers-only answers.
func headersReceived(cs grpc.ClientStream) bool {
	md, _ := cs.Header() // the attempt has ended: no wait
	return md != nil
}

// endError is what an attempt that ended with err tells the breaker.
func endError(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}

// reopen retries a stream that failed with err before it was committed,
// within what is left of the retry policy.
func (s *retriedStream) reopen(m any, err error) error {
	p := s.policy // Retry keeps no reference
	switch max := p.MaxAttempts; {
	case max == retry.Unlimited:
	case max == 0:
		p.MaxAttempts = 3 - s.attempts + 1
	default:
		p.MaxAttempts = max - s.attempts + 1
	}
	if p.MaxAttempts != retry.Unlimited && p.MaxAttempts < 2 {
		return err
	}
	s.pending = err
	eof := false
	attempt := func(ctx context.Context) (struct{}, error) {
		if s.committed.Load() { // sent more than the buffer holds meanwhile
			return struct{}{}, retry.Permanent(err)
		}
		if _, err := s.open(ctx); err != nil {
			return struct{}{}, err
		}
		if s.committed.Load() { // the same, while it opened: end it
			s.finish(context.Canceled)
			return struct{}{}, retry.Permanent(err)
		}
		cs := s.current()
		err := cs.RecvMsg(m)
		if err == nil || err == io.EOF {
			s.budget.success()
		}
		switch {
		case err == nil:
			s.commit()
			s.finishSingleReply()
		case err == io.EOF:
			s.commit()
			s.finish(nil)
			eof = true
		default:
			err = WithPushback(err, cs.Trailer())
			s.finish(err)
			if headersReceived(cs) {
				err = retry.Permanent(err)
			}
		}
		return struct{}{}, err
	}
	if _, err := retry.Retry(s.ctx, &p, attempt); err != nil {
		return statusOf(err)
	}
	if eof {
		return io.EOF
	}
	return nil
}

// streamBudget is a stream's budget in its retry loops (the one that
// opens it and any that reopen it): the call counts as one first attempt,
// and as a success only once it receives something (see received), not
// when an attempt merely opens.
type streamBudget struct {
	retry.Budget
	counted  bool // First was passed on; only the loops' goroutine reads it
	received atomic.Bool
}

func (b *streamBudget) First() {
	if !b.counted {
		b.counted = true
		b.Budget.First()
	}
}

func (b *streamBudget) Result(ok bool) {
	if !ok {
		b.Budget.Result(false)
	}
}

// success counts the stream's success, once.
func (b *streamBudget) success() {
	if b != nil && !b.received.Swap(true) {
		b.Budget.Result(true)
	}
}

// Header returns the current attempt's header; receiving it commits the
// stream, as grpc-go's own retries do. An attempt that ended without one
// (nil: a trailers-only answer) received nothing, and may still be retried.
func (s *retriedStream) Header() (metadata.MD, error) {
	md, err := s.current().Header()
	if err == nil && md != nil {
		s.commit()
	}
	return md, err
}

// Trailer returns the current attempt's trailer.
func (s *retriedStream) Trailer() metadata.MD { return s.current().Trailer() }

// Context returns the current attempt's context, and commits the stream,
// as grpc-go's own retries do: a retry would cancel the context the
// caller holds while the stream goes on.
func (s *retriedStream) Context() context.Context {
	s.commit()
	return s.current().Context()
}
