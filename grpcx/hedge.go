package grpcx

import (
	"context"
	"errors"
	"sync"

	"github.com/retrykit/retry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// protoReply returns reply as a proto message, which hedging needs to give
// each attempt a fresh reply of the same type and copy the winner's.
func protoReply(reply any) (proto.Message, bool) {
	m, ok := reply.(proto.Message)
	return m, ok && m != nil
}

// hedgeReply is what one hedged attempt received.
type hedgeReply struct {
	msg             proto.Message
	header, trailer metadata.MD
	peer            peer.Peer
}

// hedgedCall is the state that a hedged call shares between its attempts:
// read-only but for lastFailed.
type hedgedCall struct {
	*unaryCall
	// replyType makes each attempt's reply. Attempts never touch the
	// caller's reply: one may start as the winner is copied into it.
	replyType protoreflect.MessageType
	opts      []grpc.CallOption // the caller's, without those we answer ourselves

	// What the caller asked for through call options; nil if not.
	header, trailer *metadata.MD
	peer            *peer.Peer

	mu         sync.Mutex
	lastFailed *hedgeReply
}

// hedged makes the call through h: each attempt receives into a reply of
// its own, and the winner's reply, header, trailer and peer are copied into
// the caller's. Attempts never write to what the caller gave.
func (c *unaryCall) hedged(ctx context.Context, h *retry.HedgePolicy, reply proto.Message, opts []grpc.CallOption) error {
	hc := &hedgedCall{unaryCall: c, replyType: reply.ProtoReflect().Type()}
	hc.opts = make([]grpc.CallOption, 0, len(opts)+3)
	for _, o := range opts {
		switch o := o.(type) {
		case grpc.HeaderCallOption:
			hc.header = o.HeaderAddr
		case grpc.TrailerCallOption:
			hc.trailer = o.TrailerAddr
		case grpc.PeerCallOption:
			hc.peer = o.PeerAddr
		default:
			hc.opts = append(hc.opts, o)
		}
	}
	won, err := retry.Hedge(ctx, h, hc.attempt)
	if err != nil {
		hc.mu.Lock()
		last := hc.lastFailed
		hc.mu.Unlock()
		hc.deliver(last)
		return statusOf(err)
	}
	proto.Reset(reply)
	proto.Merge(reply, won.msg)
	hc.deliver(won)
	return nil
}

// deliver sets the caller's header, trailer and peer from r, if any.
func (hc *hedgedCall) deliver(r *hedgeReply) {
	if r == nil {
		return
	}
	if hc.header != nil {
		*hc.header = r.header
	}
	if hc.trailer != nil {
		*hc.trailer = r.trailer
	}
	if hc.peer != nil {
		*hc.peer = r.peer
	}
}

// errBuiltinRetries is the failure of a hedged copy not made because
// grpc-go retries the method itself: it would retry each copy.
var errBuiltinRetries = errors.New("grpcx: no hedged copy: grpc-go retries this method itself")

func (hc *hedgedCall) attempt(ctx context.Context) (*hedgeReply, error) {
	if a, ok := retry.AttemptFrom(ctx); ok && a.Number > 1 {
		// The call was hedged before the connection knew its service
		// config (its first call); once a copy has gone out, it does.
		if hc.ic.builtin(hc.cc, hc.name) {
			return nil, retry.StopHedging(errBuiltinRetries)
		}
		ctx = withPreviousAttempts(ctx, a.Number-1)
	}
	r := &hedgeReply{msg: hc.replyType.New().Interface()}
	opts := append(hc.opts[:len(hc.opts):len(hc.opts)], grpc.Header(&r.header), grpc.Trailer(&r.trailer), grpc.Peer(&r.peer))
	invoke := func(ctx context.Context) (*hedgeReply, error) {
		err := hc.invoker(ctx, hc.name, hc.req, r.msg, hc.cc, opts...)
		if err == nil {
			return r, nil
		}
		if ctx.Err() == nil { // an answer, not a loser cancelled
			hc.mu.Lock()
			hc.lastFailed = r
			hc.mu.Unlock()
		}
		return nil, hc.ic.failed(ctx, err, r.header, r.trailer, hc.cc, hc.name)
	}
	if hc.breaker != nil {
		return retry.Guard(ctx, hc.breaker, invoke)
	}
	return invoke(ctx)
}
