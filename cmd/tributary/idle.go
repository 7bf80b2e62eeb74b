package main

import (
	"runtime/debug"
	"sync"
	"time"
)

// The daemon gives memory back once its polls and renders calm down:
// releaseQuiet after the last poll, prune or render (of a topic feed or
// a story page) ended, or at the latest releaseMaxDelay after the first
// one since the last release, for a daemon that never pauses that long.
// A render reads its topic's stories from the store: on the store below,
// the first requests of 20 topic feeds in 3 formats after a poll took
// the RSS from 53 MiB to 229 MiB, 157 MiB of it mapped file, which
// stayed mapped until the next poll's release, an hour later. Released
// after the renders, it is now 49.2-49.8 MiB.
//
// What it gives back (App.releaseMemory): the store's pages that bbolt's
// mapping has touched, and the heap the collector has freed. On a store
// of 300,000 items, the first new item after a start loads the story
// index, which reads the records of the last three days all over the
// file: with four days, the daemon's RSS went from 27 MiB to 1.37 GiB,
// of which 1.31 GiB was the mapped file and 56-58 MiB the heap and
// runtime. Released, it is now 46.3-47.0 MiB.
const (
	releaseQuiet    = 10 * time.Second
	releaseMaxDelay = 5 * time.Minute
)

// memoryRelease runs release after a quiet spell of quiet with no poke,
// or at the latest maxDelay after the first poke since it last ran.
type memoryRelease struct {
	quiet, maxDelay time.Duration
	release         func()

	mu      sync.Mutex
	timer   *time.Timer
	pending bool      // a poke came since release last ran
	first   time.Time // the first such poke
	stopped bool
	// running is held while release runs, so that stop can wait for it.
	running sync.Mutex
}

func newMemoryRelease(quiet, maxDelay time.Duration, release func()) *memoryRelease {
	return &memoryRelease{quiet: quiet, maxDelay: maxDelay, release: release}
}

// poke says a poll or prune ended.
func (r *memoryRelease) poke() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	now := time.Now()
	if !r.pending {
		r.pending, r.first = true, now
	}
	delay := min(r.quiet, r.first.Add(r.maxDelay).Sub(now))
	if r.timer == nil {
		r.timer = time.AfterFunc(delay, r.fire)
		return
	}
	r.timer.Reset(delay)
}

// fire runs release, unless stop came first. A poke while it runs starts
// a new wait.
func (r *memoryRelease) fire() {
	r.mu.Lock()
	if r.stopped || !r.pending {
		r.mu.Unlock()
		return
	}
	r.pending = false
	r.running.Lock()
	r.mu.Unlock()
	defer r.running.Unlock()
	r.release()
}

// stop cancels a pending release and waits for one under way: release
// does not run once stop has returned (the store it releases closes
// next).
func (r *memoryRelease) stop() {
	r.mu.Lock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
	r.running.Lock()
	r.running.Unlock()
}

// releaseMemory gives back the store's mapped pages and the free heap.
func (a *App) releaseMemory() {
	start := time.Now()
	if err := a.Store.ReleaseMapped(); err != nil {
		a.Logger.Warn("could not release the store's mapped pages", "err", err)
	}
	debug.FreeOSMemory()
	a.Logger.Debug("memory released", "duration", time.Since(start))
}
