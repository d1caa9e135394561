package retry

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// defaultBulkheadSlots is the limit of a BulkheadConfig without one.
const defaultBulkheadSlots = 10

// BulkheadConfig sets up a Bulkhead. The zero value is valid: 10 calls in
// flight, no waiting, a suggested wait of 1s.
type BulkheadConfig struct {
	// MaxConcurrent is the most calls let through at once. Zero means 10.
	MaxConcurrent int

	// MaxWaiters is the most calls that may wait for a slot at once when
	// all are taken; a call beyond it is refused at once with
	// ErrLimitReached. Zero means none wait.
	MaxWaiters int

	// MaxWait is the longest a call waits for a slot before it is refused
	// with ErrWaitTimeout, in real time (or a testing/synctest bubble's).
	// Zero means until the call's context ends. It applies only when
	// MaxWaiters is positive.
	MaxWait time.Duration

	// RetryAfter is the wait that a refusal suggests (ShedError.Wait).
	// Zero means 1s.
	RetryAfter time.Duration
}

// Validate reports the first invalid setting of c, wrapped around
// ErrInvalid.
func (c BulkheadConfig) Validate() error {
	switch {
	case c.MaxConcurrent < 0:
		return invalid("BulkheadConfig.MaxConcurrent is negative (%d)", c.MaxConcurrent)
	case c.MaxWaiters < 0:
		return invalid("BulkheadConfig.MaxWaiters is negative (%d)", c.MaxWaiters)
	case c.MaxWait < 0:
		return invalid("BulkheadConfig.MaxWait is negative (%v)", c.MaxWait)
	case c.RetryAfter < 0:
		return invalid("BulkheadConfig.RetryAfter is negative (%v)", c.RetryAfter)
	}
	return nil
}

// Bulkhead lets at most a fixed number of calls through at once, so that
// one slow dependency cannot take every goroutine, connection or worker of
// its caller. Calls beyond the limit wait, if the config allows, in a
// bounded queue for a bounded time; otherwise they are refused at once
// with a *ShedError (see Admit).
//
// Create one per dependency with NewBulkhead and share it: it is safe for
// concurrent use. The zero value is ready to use and behaves as
// NewBulkhead(BulkheadConfig{}). A Bulkhead must not be copied after
// first use.
type Bulkhead struct {
	once    sync.Once
	cfg     BulkheadConfig
	sem     *semaphore.Weighted // its own lock and FIFO queue of waiters
	waiters atomic.Int64        // calls waiting in sem, bounded by MaxWaiters
}

var _ Admitter = (*Bulkhead)(nil)

// NewBulkhead returns a Bulkhead set up by cfg, or an error wrapping
// ErrInvalid if cfg is invalid.
func NewBulkhead(cfg BulkheadConfig) (*Bulkhead, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Bulkhead{cfg: cfg}
	b.init()
	return b, nil
}

func (b *Bulkhead) init() {
	b.once.Do(func() {
		if b.cfg.MaxConcurrent == 0 {
			b.cfg.MaxConcurrent = defaultBulkheadSlots
		}
		if b.cfg.RetryAfter == 0 {
			b.cfg.RetryAfter = time.Second
		}
		b.sem = semaphore.NewWeighted(int64(b.cfg.MaxConcurrent))
	})
}

// Limit returns the most calls b lets through at once.
func (b *Bulkhead) Limit() int {
	b.init()
	return b.cfg.MaxConcurrent
}

// Acquire takes a slot for one call, waiting for one if b's config
// allows (see Admitter).
func (b *Bulkhead) Acquire(ctx context.Context) (Permit, error) {
	if ctx == nil || b == nil {
		return Permit{}, invalidAcquire(ctx == nil, "*Bulkhead")
	}
	b.init()
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	if b.sem.TryAcquire(1) {
		return Permit{owner: b}, nil
	}
	if b.waiters.Add(1) > int64(b.cfg.MaxWaiters) {
		b.waiters.Add(-1)
		return Permit{}, refuse(ErrLimitReached, b.cfg.MaxConcurrent, b.cfg.RetryAfter)
	}
	defer b.waiters.Add(-1)
	wctx := ctx
	if b.cfg.MaxWait > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeoutCause(ctx, b.cfg.MaxWait, ErrWaitTimeout)
		defer cancel()
	}
	if err := b.sem.Acquire(wctx, 1); err != nil {
		if ctx.Err() != nil {
			return Permit{}, ctx.Err()
		}
		return Permit{}, refuse(ErrWaitTimeout, b.cfg.MaxConcurrent, b.cfg.RetryAfter)
	}
	return Permit{owner: b}, nil
}

func (b *Bulkhead) release(Permit, error) { b.sem.Release(1) }
