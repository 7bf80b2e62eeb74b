package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// gcPercent reads GOGC's current value.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestRelaxedGCEndsPastItsLiveHeap(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })

	const limit = 32 << 20
	done := startRelaxedGC(400, limit)
	if got := gcPercent(); got != 400 {
		t.Fatalf("GOGC at the start = %d, want 400", got)
	}
	// Collections that find a small live heap keep it.
	for range 3 {
		runtime.GC()
	}
	time.Sleep(10 * time.Millisecond) // cleanups run on a goroutine of their own
	select {
	case <-done:
		t.Fatal("the tuning ended with a live heap under its limit")
	default:
	}
	if got := gcPercent(); got != 400 {
		t.Fatalf("GOGC after collections of a small heap = %d, want 400", got)
	}

	// The first collection to find more ends it.
	live := make([]byte, 2*limit)
	deadline := time.Now().Add(10 * time.Second)
	for ended := false; !ended; {
		runtime.GC()
		select {
		case <-done:
			ended = true
		case <-time.After(10 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("the tuning did not end with a live heap past its limit")
			}
		}
	}
	runtime.KeepAlive(live)
	if got := gcPercent(); got != 100 {
		t.Errorf("GOGC after the tuning = %d, want 100", got)
	}
}

func TestRelaxedGCLeavesTheOperatorsSetting(t *testing.T) {
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			prev := debug.SetGCPercent(150)
			t.Cleanup(func() { debug.SetGCPercent(prev) })
			t.Setenv(env, "150")
			if done := relaxGCWhileSmall(); done != nil {
				t.Errorf("with %s set, the tuning was applied", env)
			}
			if got := gcPercent(); got != 150 {
				t.Errorf("GOGC = %d, want 150 as it was", got)
			}
		})
	}
}
