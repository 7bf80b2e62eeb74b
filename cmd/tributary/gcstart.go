package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// Tuning of the garbage collector for the commands that exit when done:
// every one but run.
//
// A warm poll of 2,000 sources allocates about 27 MB while its live heap
// stays under 5 MB. Go's collector starts with a 4 MB heap goal and sets
// each next one at twice the live heap, so such a poll ran 9 collections
// in 0.15 s, while hundreds of goroutines waited on fetches and commits.
// A process that exits within a second gains little from keeping its
// heap that small.
//
// So, like the Go compiler (cmd/compile's AdjustStartingHeap), a one-shot
// command starts with a higher GOGC, which also raises the collector's
// heap minimum (4 MB × GOGC/100), and sets it back to 100 once a
// collection finds the live heap past startHeapLive: from there on a cold
// poll, whose live heap reaches 50-140 MB, is collected as it always was.
const (
	startGCPercent = 400
	startHeapLive  = 16 << 20
)

// gcStart holds the state of relaxGCWhileSmall.
type gcStart struct {
	sample []metrics.Sample
	done   chan struct{} // closed once GOGC is back at 100
}

// relaxGCWhileSmall applies the start-up tuning above, unless the
// environment sets GOGC or GOMEMLIMIT: an operator's choice wins. It
// returns a channel closed when the tuning has ended, or nil when it was
// not applied.
func relaxGCWhileSmall() <-chan struct{} {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	return startRelaxedGC(startGCPercent, startHeapLive)
}

// startRelaxedGC sets GOGC to percent until a collection finds more than
// liveLimit bytes of live heap, then back to 100.
func startRelaxedGC(percent int, liveLimit uint64) <-chan struct{} {
	g := &gcStart{
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}},
		done:   make(chan struct{}),
	}
	debug.SetGCPercent(percent)
	g.watch(liveLimit)
	return g.done
}

// gcSentinel is an object allocated only to be collected: its cleanup
// runs after the collection that found it unreachable. It is large
// enough not to share a tiny-allocator block with anything else.
type gcSentinel struct{ _ [4]uint64 }

// watch checks the live heap after the next collection.
func (g *gcStart) watch(liveLimit uint64) {
	runtime.AddCleanup(&gcSentinel{}, func(limit uint64) {
		metrics.Read(g.sample)
		if g.sample[0].Value.Kind() == metrics.KindUint64 && g.sample[0].Value.Uint64() < limit {
			g.watch(limit)
			return
		}
		// Past the limit, or a runtime that no longer reports the live
		// heap: back to the default.
		debug.SetGCPercent(100)
		close(g.done)
	}, liveLimit)
}
