package retry

// notify delivers the queued changes of state to OnBreakerChange, outside
// b.mu and in the order they happened. One goroutine delivers at a time:
// a goroutine that finds another delivering leaves its changes to it, so a
// hook that calls back into the breaker, even one that changes its state,
// neither deadlocks nor sees changes out of order.
//
// A panicking hook does not stop the delivery: the remaining changes are
// delivered, and then the first panic is raised again here. A hook that
// calls runtime.Goexit does not stop it either: the remaining changes are
// delivered (by this goroutine, or by one that started delivering
// meanwhile), and then the Goexit goes on.
func (b *Breaker) notify() {
	if b.s.onChange == nil {
		return
	}
	b.mu.Lock()
	if b.notifying {
		b.mu.Unlock()
		return
	}
	b.notifying = true
	var (
		panicked, done bool
		value          any
	)
	defer func() {
		if done {
			return
		}
		// A hook called runtime.Goexit, with b.mu unlocked: hand the
		// delivery on, deliver the rest, and let the Goexit go on (or the
		// first panic, which was raised first).
		b.mu.Lock()
		b.notifying = false
		b.mu.Unlock()
		b.notify()
		if panicked {
			panic(value)
		}
	}()
	for len(b.events) > 0 {
		ev := b.events[0]
		b.events[0] = queuedChange{} // let its context go
		b.events = b.events[1:]
		if len(b.events) == 0 {
			b.events = b.events[:0:0] // let the array go
		}
		b.mu.Unlock()
		if v, ok := b.callHook(ev); ok && !panicked {
			panicked, value = true, v
		}
		b.mu.Lock()
	}
	b.notifying = false
	b.mu.Unlock()
	done = true
	if panicked {
		panic(value)
	}
}

// callHook calls OnBreakerChange and reports a panic instead of raising
// it. A runtime.Goexit in the hook goes on (notify handles it).
func (b *Breaker) callHook(ev queuedChange) (value any, panicked bool) {
	defer func() {
		if panicked {
			value = recover()
		}
	}()
	panicked = true
	b.s.onChange(ev.ctx, ev.change)
	return nil, false
}
