package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestMemoryReleaseAfterQuiet: pokes in quick succession lead to one
// release, a quiet spell after the last of them.
func TestMemoryReleaseAfterQuiet(t *testing.T) {
	var runs atomic.Int32
	done := make(chan time.Time, 10)
	r := newMemoryRelease(100*time.Millisecond, time.Hour, func() {
		runs.Add(1)
		done <- time.Now()
	})
	defer r.stop()
	var last time.Time
	for range 5 {
		last = time.Now()
		r.poke()
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case at := <-done:
		if at.Sub(last) < 100*time.Millisecond {
			t.Errorf("released %v after the last poke, before the quiet spell of 100ms", at.Sub(last))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no release 5 s after the last poke")
	}
	time.Sleep(300 * time.Millisecond)
	if n := runs.Load(); n != 1 {
		t.Errorf("%d releases for one burst of pokes, want 1", n)
	}
}

// TestMemoryReleaseUnderSteadyPolls: pokes that never pause for the quiet
// spell still lead to a release, maxDelay after the first.
func TestMemoryReleaseUnderSteadyPolls(t *testing.T) {
	var runs atomic.Int32
	r := newMemoryRelease(time.Hour, 150*time.Millisecond, func() { runs.Add(1) })
	defer r.stop()
	for start := time.Now(); time.Since(start) < time.Second; {
		r.poke()
		time.Sleep(10 * time.Millisecond)
	}
	if n := runs.Load(); n < 2 {
		t.Errorf("%d releases in 1 s of pokes with a max delay of 150ms, want at least 2", n)
	}
}

// TestMemoryReleaseStop: after stop, a pending release never runs, and
// stop waits for one already running.
func TestMemoryReleaseStop(t *testing.T) {
	var runs atomic.Int32
	r := newMemoryRelease(50*time.Millisecond, time.Hour, func() { runs.Add(1) })
	r.poke()
	r.stop()
	r.poke()
	time.Sleep(200 * time.Millisecond)
	if n := runs.Load(); n != 0 {
		t.Errorf("%d releases after stop, want none", n)
	}

	started, finish := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	r = newMemoryRelease(time.Millisecond, time.Hour, func() {
		close(started)
		<-finish
		finished.Store(true)
	})
	r.poke()
	<-started
	stopped := make(chan struct{})
	go func() {
		r.stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("stop returned while the release was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(finish)
	<-stopped
	if !finished.Load() {
		t.Error("stop returned before the release finished")
	}
}

// TestDaemonReleasesMemoryAfterRenders: rendering a topic feed, which
// reads the topic's stories from the store, leads to a release too; a
// feed served from the cache does not.
func TestDaemonReleasesMemoryAfterRenders(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tributary.yaml")
	replaceFile(t, cfgPath, "listen: \"127.0.0.1:0\"\ndata_dir: \"data\"\nsources:\n"+
		"  - name: wire\n    url: \"http://127.0.0.1:1/wire.rss\"\ntopics:\n  - name: all\n    query: 'forum'\n")
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	app, err := OpenApp(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	var released atomic.Int32
	app.release = newMemoryRelease(50*time.Millisecond, time.Hour, func() { released.Add(1) })
	get := func() {
		rec := httptest.NewRecorder()
		app.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/topics/all.rss", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /topics/all.rss: status %d", rec.Code)
		}
	}
	get()
	eventually(t, "a release after a render", func() bool { return released.Load() == 1 })
	get()
	time.Sleep(200 * time.Millisecond)
	if got := released.Load(); got != 1 {
		t.Errorf("%d releases after a feed served from the cache, want none", got-1)
	}
}

// TestDaemonReleasesMemoryAfterPolls: the daemon's scheduled polls lead to
// a release once they pause (storage.TestReleaseMapped shows what it
// releases), and none comes after Close.
func TestDaemonReleasesMemoryAfterPolls(t *testing.T) {
	_, srv := startFeedFarm(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tributary.yaml")
	// Retention off: no prune pokes, only the polls.
	replaceFile(t, cfgPath, "listen: \"127.0.0.1:0\"\ndata_dir: \"data\"\nschedule: \"@every 1h\"\nretention: {max_age: 0}\nsources:\n"+
		"  - name: wire\n    url: \""+srv.URL+"/wire.rss\"\n  - name: un\n    url: \""+srv.URL+"/un.atom\"\n")
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	app, err := OpenApp(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	var released atomic.Int32
	app.release = newMemoryRelease(50*time.Millisecond, time.Hour, func() {
		app.releaseMemory()
		released.Add(1)
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx) }()
	eventually(t, "a release after the first polls", func() bool { return released.Load() > 0 })
	if !strings.Contains(logs.String(), `msg=polled source=wire`) || !strings.Contains(logs.String(), `msg="memory released"`) {
		t.Errorf("the log does not show the polls and the release:\n%s", logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	n := released.Load()
	app.release.poke()
	time.Sleep(200 * time.Millisecond)
	if got := released.Load(); got != n {
		t.Errorf("%d releases after Close", got-n)
	}
	// A release that fails (here, of the closed store) says so and goes
	// on to the heap.
	app.releaseMemory()
	if !strings.Contains(logs.String(), `level=WARN msg="could not release the store's mapped pages"`) {
		t.Errorf("a failed release logged no warning:\n%s", logs.String())
	}
}
