// Package cpugate shares the processor between the parallel stages of a
// pipeline and its one serial stage.
//
// Polls parse, normalise, match and prepare feeds in parallel, then wait
// for the store's single write transaction. When the polls keep every
// core busy, Go's scheduler gives the transaction's goroutine only its
// turn among them, though every poll ends up waiting for it: on two
// cores, a cold poll's write transaction spent more time runnable than
// running. A Gate holds one token per core. Parallel work runs holding a
// token (Enter), the serial stage takes one ahead of every waiting poll
// (EnterFirst), so it always has a core, and the polls share the rest.
package cpugate

import (
	"context"
	"sync"
)

// Gate is a counting semaphore whose EnterFirst waiters are served before
// its Enter waiters. A nil *Gate admits everyone at once.
type Gate struct {
	mu     sync.Mutex
	free   int
	first  []chan struct{} // EnterFirst waiters, in order
	others []chan struct{} // Enter waiters, in order
}

// New returns a gate of n tokens (at least one).
func New(n int) *Gate {
	return &Gate{free: max(n, 1)}
}

// Enter waits for a token, after every EnterFirst waiter, and returns nil
// once it holds one, or ctx's error without one.
func (g *Gate) Enter(ctx context.Context) error {
	return g.enter(ctx, false)
}

// EnterFirst waits for a token ahead of every Enter waiter.
func (g *Gate) EnterFirst(ctx context.Context) error {
	return g.enter(ctx, true)
}

func (g *Gate) enter(ctx context.Context, first bool) error {
	if g == nil {
		return ctx.Err()
	}
	g.mu.Lock()
	if g.free > 0 && len(g.first) == 0 && (first || len(g.others) == 0) {
		g.free--
		g.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	if first {
		g.first = append(g.first, ready)
	} else {
		g.others = append(g.others, ready)
	}
	g.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		select {
		case <-ready:
			// Handed a token as the context ended: pass it on.
			g.leaveLocked()
		default:
			g.drop(ready)
		}
		return ctx.Err()
	}
}

// Leave gives back a token Enter or EnterFirst returned.
func (g *Gate) Leave() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leaveLocked()
}

// leaveLocked hands the token to the first waiter, if any.
func (g *Gate) leaveLocked() {
	for _, q := range []*[]chan struct{}{&g.first, &g.others} {
		if len(*q) > 0 {
			close((*q)[0])
			*q = (*q)[1:]
			return
		}
	}
	g.free++
}

// drop removes a waiter that gave up.
func (g *Gate) drop(ready chan struct{}) {
	for _, q := range []*[]chan struct{}{&g.first, &g.others} {
		for i, c := range *q {
			if c == ready {
				*q = append((*q)[:i:i], (*q)[i+1:]...)
				return
			}
		}
	}
}
