package retry

import (
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"time"
)

// windowTotals are the counts of a rolling window at one moment.
type windowTotals struct {
	calls, failures, slow int64 // calls counts successes and failures
	nanos                 int64 // total duration of the calls
}

// timeWindow counts the calls of the last buckets·period of time. Every
// bucket is split into stripes, one cache line each, and a call adds to a
// random stripe, so that parallel calls seldom write the same line. A
// bucket belongs to one period, its epoch: a writer that finds an older
// epoch clears the bucket before reuse, and readers skip buckets outside
// the window, so a long idle gap leaves no stale counts behind.
//
// Periods are numbers of whole bucket periods since the window's base, so
// that every function here takes the time as an argument.
type timeWindow struct {
	period  int64 // nanoseconds
	buckets int64
	mask    uint32 // stripes - 1
	cells   []cell // stripe-major: cells[stripe*buckets + bucket]
}

type cell struct {
	// epoch is the period counted plus one; 0 means never used, and
	// recycling while the counters are being cleared.
	epoch                       atomic.Int64
	calls, failures, slow, nano atomic.Int64
	_                           [24]byte // one cache line per cell
}

const recycling = -1

// stripes returns the stripes of a time window: two per processor, so
// that parallel calls rarely share a cache line; a power of two, at most
// 32.
func stripes() int {
	n := 1
	for n < 2*runtime.GOMAXPROCS(0) && n < 32 {
		n *= 2
	}
	return n
}

func newTimeWindow(period time.Duration, buckets, stripes int) *timeWindow {
	return &timeWindow{
		period:  int64(period),
		buckets: int64(buckets),
		mask:    uint32(stripes - 1),
		cells:   make([]cell, buckets*stripes),
	}
}

// periodOf returns the period that elapsed (time since the base) falls in.
func (w *timeWindow) periodOf(elapsed time.Duration) int64 {
	if elapsed < 0 {
		return 0
	}
	return int64(elapsed) / w.period
}

// add counts a call that ended in period p. A call that ends in a period
// whose bucket a later period has already taken is dropped. One that
// finds its bucket being recycled by another goroutine (a few
// instructions, at a bucket edge) waits for it, so that no call of the
// current period is lost.
func (w *timeWindow) add(p int64, failed, slow bool, d time.Duration) {
	stripe := int64(rand.Uint32() & w.mask)
	c := &w.cells[stripe*w.buckets+p%w.buckets]
	e := p + 1
	for {
		got := c.epoch.Load()
		if got == e {
			break
		}
		if got == recycling {
			runtime.Gosched()
			continue
		}
		if got > e {
			return
		}
		if c.epoch.CompareAndSwap(got, recycling) {
			c.calls.Store(0)
			c.failures.Store(0)
			c.slow.Store(0)
			c.nano.Store(0)
			c.epoch.Store(e)
			break
		}
	}
	c.calls.Add(1)
	if failed {
		c.failures.Add(1)
	}
	if slow {
		c.slow.Add(1)
	}
	if d > 0 {
		c.nano.Add(int64(d))
	}
}

// totals sums the buckets of the window that ends with period p.
func (w *timeWindow) totals(p int64) windowTotals {
	var t windowTotals
	oldest := p + 1 - w.buckets + 1 // as an epoch
	for i := range w.cells {
		c := &w.cells[i]
		e := c.epoch.Load()
		if e < oldest || e > p+1 {
			continue
		}
		t.calls += c.calls.Load()
		t.failures += c.failures.Load()
		t.slow += c.slow.Load()
		t.nanos += c.nano.Load()
	}
	return t
}

// countWindow counts the last n calls in a ring of slots. Each slot holds a
// call's outcome and duration in one word, so that a writer swaps it in
// and adjusts the running totals by the difference with the call it
// replaces, without a lock.
type countWindow struct {
	next                         atomic.Uint64
	slots                        []atomic.Uint64
	_                            [40]byte
	calls, failures, slow, nanos atomic.Int64
}

const (
	slotUsed   = 1 << 0
	slotFailed = 1 << 1
	slotSlow   = 1 << 2
	slotShift  = 3
)

func newCountWindow(n int) *countWindow {
	return &countWindow{slots: make([]atomic.Uint64, n)}
}

// add counts a call, replacing the oldest. If the call took longer than
// the one it replaced, which is the only way the average can rise, it
// returns the total duration and the count of the calls in the window with
// it (as far as concurrent writers let it tell); else zeros.
func (w *countWindow) add(failed, slow bool, d time.Duration) (nanos, calls int64) {
	v := uint64(slotUsed)
	if failed {
		v |= slotFailed
	}
	if slow {
		v |= slotSlow
	}
	v |= uint64(min(max(d, 0), time.Duration(1<<(63-slotShift)-1))) << slotShift
	i := w.next.Add(1) - 1
	old := w.slots[i%uint64(len(w.slots))].Swap(v)
	if old&slotUsed == 0 {
		w.calls.Add(1)
	}
	if f := int64(v&slotFailed) - int64(old&slotFailed); f != 0 {
		w.failures.Add(f / slotFailed)
	}
	if s := int64(v&slotSlow) - int64(old&slotSlow); s != 0 {
		w.slow.Add(s / slotSlow)
	}
	if n := int64(v>>slotShift) - int64(old>>slotShift); n != 0 {
		total := w.nanos.Add(n)
		if n > 0 {
			return total, int64(min(i+1, uint64(len(w.slots))))
		}
	}
	return 0, 0
}

// totals reads the running totals. Concurrent writers apply their
// differences one after the other, so a total may be off by a call or two
// for a moment, and is clamped to be non-negative.
func (w *countWindow) totals() windowTotals {
	return windowTotals{
		calls:    max(w.calls.Load(), 0),
		failures: max(w.failures.Load(), 0),
		slow:     max(w.slow.Load(), 0),
		nanos:    max(w.nanos.Load(), 0),
	}
}
