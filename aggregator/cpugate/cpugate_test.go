package cpugate

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitQueued waits until the gate has n waiters of each kind.
func waitQueued(t *testing.T, g *Gate, first, others int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.mu.Lock()
		f, o := len(g.first), len(g.others)
		g.mu.Unlock()
		if f == first && o == others {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiters: %d first, %d others; want %d and %d", f, o, first, others)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGateBoundsHolders: at most n hold a token at once, and everyone
// gets one in the end.
func TestGateBoundsHolders(t *testing.T) {
	for _, n := range []int{1, 2, 4} {
		g := New(n)
		var holding, most, done atomic.Int32
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				enter := g.Enter
				if i%5 == 0 {
					enter = g.EnterFirst
				}
				if err := enter(context.Background()); err != nil {
					t.Error(err)
					return
				}
				h := holding.Add(1)
				for {
					m := most.Load()
					if h <= m || most.CompareAndSwap(m, h) {
						break
					}
				}
				time.Sleep(200 * time.Microsecond)
				holding.Add(-1)
				g.Leave()
				done.Add(1)
			})
		}
		wg.Wait()
		if most.Load() > int32(n) || done.Load() != 40 {
			t.Errorf("gate of %d: at most %d held at once, %d of 40 done", n, most.Load(), done.Load())
		}
		if g.free != n {
			t.Errorf("gate of %d: %d tokens free at the end", n, g.free)
		}
	}
}

// TestGateServesFirstAhead: when a token comes back, an EnterFirst
// waiter gets it before Enter waiters that came earlier, and waiters of
// one kind are served in order.
func TestGateServesFirstAhead(t *testing.T) {
	g := New(1)
	if err := g.Enter(context.Background()); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	start := func(name string, enter func(context.Context) error, first, others int) {
		wg.Go(func() {
			if err := enter(context.Background()); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			g.Leave()
		})
		waitQueued(t, g, first, others)
	}
	start("poll1", g.Enter, 0, 1)
	start("poll2", g.Enter, 0, 2)
	start("writer1", g.EnterFirst, 1, 2)
	start("writer2", g.EnterFirst, 2, 2)
	g.Leave()
	wg.Wait()
	want := []string{"writer1", "writer2", "poll1", "poll2"}
	if len(order) != len(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
	// A free token is not taken by Enter while an EnterFirst waits, so
	// this only checks the count.
	if g.free != 1 {
		t.Errorf("%d tokens free at the end, want 1", g.free)
	}
}

// TestGateEnterWaitsBehindFirst: a free token does not go to a newcomer,
// of either kind, while an EnterFirst waiter is queued.
func TestGateEnterWaitsBehindFirst(t *testing.T) {
	g := New(1)
	g.first = append(g.first, make(chan struct{})) // a writer waiting
	for name, enter := range map[string]func(context.Context) error{"Enter": g.Enter, "EnterFirst": g.EnterFirst} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := enter(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with a writer queued: %v, want a timeout", name, err)
		}
	}
	if g.free != 1 || len(g.first) != 1 || len(g.others) != 0 {
		t.Errorf("after the timeouts: %d free, %d first, %d others waiting", g.free, len(g.first), len(g.others))
	}
}

// queueWaiter takes the only token of a new gate and queues an Enter
// behind it, which the returned function cancels; its result comes on
// the channel.
func queueWaiter(t *testing.T) (*Gate, context.CancelFunc, <-chan error) {
	t.Helper()
	g := New(1)
	if err := g.Enter(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	errc := make(chan error, 1)
	go func() { errc <- g.Enter(ctx) }()
	waitQueued(t, g, 0, 1)
	return g, cancel, errc
}

// TestGateCancel: a waiter whose context ends leaves the queue without a
// token.
func TestGateCancel(t *testing.T) {
	g, cancel, errc := queueWaiter(t)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Enter: %v", err)
	}
	waitQueued(t, g, 0, 0)
	g.Leave()
	if g.free != 1 {
		t.Fatalf("%d tokens free, want 1", g.free)
	}
}

// TestGateCancelAsHandedOver: a waiter whose context ends just as a
// token is handed to it passes the token on rather than losing it.
func TestGateCancelAsHandedOver(t *testing.T) {
	g, cancel, errc := queueWaiter(t)
	// Hold the gate's lock while the waiter wakes up cancelled: it then
	// waits for the lock, still queued, and the token is handed to it
	// before it can leave the queue.
	g.mu.Lock()
	cancel()
	time.Sleep(20 * time.Millisecond)
	g.leaveLocked()
	g.mu.Unlock()
	if err := <-errc; err == nil {
		g.Leave() // it took the token after all: a valid outcome
	} else if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if g.free != 1 || len(g.others) != 0 {
		t.Fatalf("%d tokens free (want 1), %d waiting", g.free, len(g.others))
	}
}

// TestGateCancelRace: waiters give up at random moments while tokens
// pass between them, some just as a token is handed to them; no token
// may be lost, so every waiter that stays gets one and all come back.
func TestGateCancelRace(t *testing.T) {
	g := New(2)
	var wg sync.WaitGroup
	var entered atomic.Int32
	for i := range 400 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%7)*50*time.Microsecond)
			defer cancel()
			enter := g.Enter
			if i%3 == 0 {
				enter = g.EnterFirst
			}
			if i%2 == 0 {
				ctx = context.Background() // half of them wait as long as it takes
			}
			if enter(ctx) != nil {
				return
			}
			entered.Add(1)
			time.Sleep(20 * time.Microsecond)
			g.Leave()
		})
	}
	wg.Wait()
	if entered.Load() < 200 {
		t.Errorf("only %d of 400 entered; every patient waiter should have", entered.Load())
	}
	if g.free != 2 || len(g.first) != 0 || len(g.others) != 0 {
		t.Errorf("at the end: %d free (want 2), %d first and %d others waiting", g.free, len(g.first), len(g.others))
	}
}

// TestNilGate admits everyone and reports only a context's end.
func TestNilGate(t *testing.T) {
	var g *Gate
	for range 3 {
		if err := g.Enter(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	g.Leave()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.EnterFirst(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("nil gate, cancelled context: %v", err)
	}
}
