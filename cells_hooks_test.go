package retry_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/retrykit/retry"
)

// cellRes is a value that counts its Close calls.
type cellRes struct {
	n      int
	closed *atomic.Int32
}

func (r *cellRes) Close() error { r.closed.Add(1); return nil }

// trip is a set of hooks, one of which panics or calls Goexit on its k-th call.
type trip struct {
	hook   string
	k      int
	goexit bool
	mu     sync.Mutex
	counts map[string]int
}

func (tr *trip) at(name string) {
	tr.mu.Lock()
	if tr.counts == nil {
		tr.counts = map[string]int{}
	}
	tr.counts[name]++
	hit := name == tr.hook && tr.counts[name] == tr.k
	tr.mu.Unlock()
	if hit {
		if tr.goexit {
			runtime.Goexit()
		}
		panic("cell: " + name)
	}
}

func (tr *trip) First()      { tr.at("First") }
func (tr *trip) Extra() bool { tr.at("Extra"); return true }
func (tr *trip) Result(ok bool) {
	tr.at(fmt.Sprint("Result ", ok))
}

// Every hook of a hedged call, panicking or calling Goexit, at every call
// it gets: each successful value is returned or closed exactly once, no
// attempt's context outlives the call, no goroutine is left.
func TestHedgeHookPanicsNeverLeak(t *testing.T) {
	hooks := []string{"First", "Extra", "Result true", "Result false", "OnHedge", "Retryable", "OnDiscard", "OnAttempt", "OnDone"}
	for _, hook := range hooks {
		for k := 1; k <= 3; k++ {
			for _, goexit := range []bool{false, true} {
				if hook == "OnDiscard" && !goexit {
					continue // documented: OnDiscard must not panic
				}
				name := fmt.Sprintf("%s#%d/goexit=%v", hook, k, goexit)
				t.Run(name, func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						tr := &trip{hook: hook, k: k, goexit: goexit}
						var closed atomic.Int32
						var made atomic.Int32
						var mu sync.Mutex
						var ctxs []context.Context
						var vals []*cellRes
						fn := func(ctx context.Context) (*cellRes, error) {
							a, _ := retry.AttemptFrom(ctx)
							mu.Lock()
							ctxs = append(ctxs, ctx)
							mu.Unlock()
							switch a.Number {
							case 1: // slow success, lands after the winner
								time.Sleep(20 * ms)
							case 2:
								time.Sleep(2 * ms)
								return nil, errTransient
							case 3:
								time.Sleep(5 * ms)
							case 4:
								time.Sleep(6 * ms)
							}
							made.Add(1)
							r := &cellRes{n: a.Number, closed: &closed}
							mu.Lock()
							vals = append(vals, r)
							mu.Unlock()
							return r, nil
						}
						h := &retry.HedgePolicy{MaxAttempts: 4, Delay: ms, Budget: tr,
							Hooks: &retry.Hooks{
								OnHedge:   func(context.Context, retry.HedgeEvent) { tr.at("OnHedge") },
								OnAttempt: func(context.Context, retry.AttemptEvent) { tr.at("OnAttempt") },
								OnDone:    func(context.Context, retry.CallEvent) { tr.at("OnDone") },
							},
							Retryable: func(error) bool { tr.at("Retryable"); return true },
							OnDiscard: func(v any) {
								if c, ok := v.(*cellRes); ok {
									c.Close()
								}
								tr.at("OnDiscard")
							},
						}
						var got *cellRes
						var release func()
						done := make(chan struct{})
						go func() {
							defer close(done)
							defer func() { recover() }()
							got, release, _ = retry.HedgeWithRelease(context.Background(), h, fn)
						}()
						<-done
						time.Sleep(time.Second) // every attempt ends
						if got != nil {
							got.Close()
							release()
						}
						mu.Lock()
						defer mu.Unlock()
						if c, m := closed.Load(), made.Load(); c != m {
							t.Errorf("%d values made, %d Close calls (returned included); want equal", m, c)
						}
						for i, ctx := range ctxs {
							if ctx.Err() == nil {
								t.Errorf("attempt %d's context outlived the call", i+1)
							}
						}
					})
				})
			}
		}
	}
}
