package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/aggregator/cpugate"
	bolt "go.etcd.io/bbolt"
)

// TestConcurrentSavesShareCommit saves feeds from many goroutines at once,
// as the poller does, one of them invalid: the others are all stored in
// full, the invalid one not at all, and each caller gets its own result.
func TestConcurrentSavesShareCommit(t *testing.T) {
	const writers = 8
	db := openAt(t, filepath.Join(t.TempDir(), "tributary.db"), Options{Now: func() time.Time { return t0 }})
	ctx := context.Background()

	type outcome struct {
		res aggregator.SaveResult
		err error
	}
	out := make([]outcome, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var items []aggregator.Item
			for i := range 5 {
				items = append(items, mkItem(fmt.Sprintf("w%d-%d", w, i), t0.Add(-time.Duration(i)*time.Hour), "h"))
			}
			if w == 3 {
				items[4].ID = "" // invalid: the whole feed must fail
			}
			res, err := db.SaveFeed(ctx, feed(fmt.Sprintf("src%d", w), items...))
			if err == nil {
				err = db.SaveState(ctx, aggregator.SourceState{Source: fmt.Sprintf("src%d", w), ETag: "after"})
			}
			out[w] = outcome{res, err}
		})
	}
	wg.Wait()

	for w, o := range out {
		src := fmt.Sprintf("src%d", w)
		st, err := db.SourceState(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		if w == 3 {
			if o.err == nil || !strings.Contains(o.err.Error(), "empty ID") {
				t.Errorf("invalid feed: err = %v, want the empty ID error", o.err)
			}
			if st.ItemCount != 0 || st.LastStatus != 0 {
				t.Errorf("invalid feed left something: %+v", st)
			}
			continue
		}
		if o.err != nil {
			t.Errorf("%s: %v", src, o.err)
			continue
		}
		if o.res.New != 5 {
			t.Errorf("%s: New = %d, want 5 (a result shared or lost between feeds?)", src, o.res.New)
		}
		if st.ItemCount != 5 || st.ETag != "after" {
			t.Errorf("%s: stored state %+v, want 5 items and the later ETag", src, st)
		}
		for i := range 5 {
			if _, err := db.Item(ctx, src, fmt.Sprintf("w%d-%d", w, i)); err != nil {
				t.Errorf("%s: %v", src, err)
			}
		}
	}
}

// TestCandidateWithoutTokens checks that an item stored before story
// tokens were kept (Tokens nil, as in records written by older versions)
// is still compared by its text when it turns up as a candidate. The
// titles differ, so only the near-duplicate rule, which needs the old
// item's lede, can merge them.
func TestCandidateWithoutTokens(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	m := aggregator.NewStoryMerger([]aggregator.Source{
		{Name: "wire", Title: "World Wire"}, {Name: "post", Title: "Morning Post"},
	})
	const lede = "<p>The United Nations forum on business and human rights opened in Geneva on Monday, " +
		"with 2,000 delegates from 140 countries discussing forced labour in supply chains.</p>"
	old := aggregator.Item{
		ID: "urn:old", Identity: "a", Link: "https://wire.example/a",
		Title: "UN human rights forum opens in Geneva", Summary: lede, Hash: "h1",
		Published: t0.Add(-time.Hour),
	}
	up := feed("wire", old)
	up.Cluster = func(it *aggregator.Item, l aggregator.StoryLookup) error {
		err := m.Cluster(it, l)
		it.Tokens = nil // stored as an older version would have
		return err
	}
	if _, err := db.SaveFeed(ctx, up); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Item(ctx, "wire", "urn:old"); err != nil || got.Tokens != nil || len(got.Keys.Bands) == 0 {
		t.Fatalf("stored %+v, %v: want keys without tokens", got, err)
	}

	copyOf := aggregator.Item{
		ID: "urn:new", Identity: "b", Link: "https://post.example/b",
		Title: "Geneva: 2,000 delegates at UN forum on business and human rights", Summary: lede, Hash: "h2",
		Published: t0,
	}
	up = feed("post", copyOf)
	// A new merger, as after a restart: none of its cached documents.
	up.Cluster = aggregator.NewStoryMerger([]aggregator.Source{
		{Name: "wire", Title: "World Wire"}, {Name: "post", Title: "Morning Post"},
	}).Cluster
	if _, err := db.SaveFeed(ctx, up); err != nil {
		t.Fatal(err)
	}
	got, err := db.Item(ctx, "post", "urn:new")
	if err != nil {
		t.Fatal(err)
	}
	if got.StoryID != "urn:old" || got.Tokens == nil {
		t.Errorf("copy stored in story %q (tokens %v), want story urn:old with tokens", got.StoryID, got.Tokens)
	}
}

// TestGroupCommitGroups checks that saves queued while a commit runs go
// in the next commit together, that a panic in one save reaches its own
// caller while the others are committed, and that the queue drains.
func TestGroupCommitGroups(t *testing.T) {
	db := openTestDB(t)
	g := db.commits
	put := func(k string) func(tx *bolt.Tx, _ *recentTx) error {
		return func(tx *bolt.Tx, _ *recentTx) error { return tx.Bucket(bucketMeta).Put([]byte("test-"+k), []byte(k)) }
	}
	start := txID(t, db)

	// The first save holds its commit until the others are queued.
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- g.update(func(tx *bolt.Tx, rt *recentTx) error { <-release; return put("first")(tx, rt) })
	}()
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.leading && len(g.queue) == 0 })

	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	panics := make([]any, n)
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			if i == 3 {
				errs[i] = g.update(func(*bolt.Tx, *recentTx) error { panic("boom") })
				return
			}
			errs[i] = g.update(put(fmt.Sprint(i)))
		})
	}
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.queue) == n })
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		switch {
		case i == 3 && panics[i] != "boom":
			t.Errorf("save 3 panicked with %v, want boom in its own goroutine", panics[i])
		case i != 3 && (errs[i] != nil || panics[i] != nil):
			t.Errorf("save %d: %v, %v", i, errs[i], panics[i])
		}
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for i := range n {
			if got := tx.Bucket(bucketMeta).Get([]byte(fmt.Sprint("test-", i))); (i == 3) != (got == nil) {
				return fmt.Errorf("save %d stored %q", i, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// first; the group of ten, rolled back by the panic (no commit); the
	// panicking save alone (rolled back); the nine others together.
	if commits := txID(t, db) - start; commits != 2 {
		t.Errorf("%d commits, want 2: the first save's and one for the nine others", commits)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.leading || len(g.queue) != 0 {
		t.Errorf("after the saves: leading %v, %d queued", g.leading, len(g.queue))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommitTakesCPUFirst: the saves run holding a token of the
// CPU gate, taken ahead of polls that waited longer, and given back
// once the saves are done.
func TestGroupCommitTakesCPUFirst(t *testing.T) {
	gate := cpugate.New(1)
	db := openAt(t, filepath.Join(t.TempDir(), "tributary.db"), Options{Now: func() time.Time { return t0 }, CPU: gate})
	ctx := context.Background()
	if err := gate.Enter(ctx); err != nil { // a poll parsing: the only core
		t.Fatal(err)
	}

	var saved atomic.Bool // set by the save, inside the transaction
	pollSawSave := make(chan bool, 1)
	go func() { // a poll that waits for the core before the save does
		if err := gate.Enter(ctx); err != nil {
			t.Error(err)
			pollSawSave <- false
			return
		}
		pollSawSave <- saved.Load()
		gate.Leave()
	}()
	time.Sleep(20 * time.Millisecond) // let the poll queue first

	up := feed("src", mkItem("a", t0, "h"))
	reconcile := up.Reconcile
	up.Reconcile = func(stored, incoming *aggregator.Item) bool {
		saved.Store(true)
		return reconcile(stored, incoming)
	}
	done := make(chan error, 1)
	go func() {
		_, err := db.SaveFeed(ctx, up)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the save ran while every core was taken (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}

	gate.Leave()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !<-pollSawSave {
		t.Error("the poll that waited got the core before the store's saves")
	}
	// The token came back: it can be taken at once.
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := gate.Enter(tctx); err != nil {
		t.Fatalf("token not given back after the commit: %v", err)
	}
	gate.Leave()
}

// TestGroupCommitLingersForStateSaves: a queue of state saves alone waits
// for company before it commits: until a save of items arrives, or until
// the group is full, or at most the linger.
func TestGroupCommitLingersForStateSaves(t *testing.T) {
	put := func(k string) func(tx *bolt.Tx, _ *recentTx) error {
		return func(tx *bolt.Tx, _ *recentTx) error { return tx.Bucket(bucketMeta).Put([]byte("test-"+k), []byte(k)) }
	}
	tests := []struct {
		name  string
		light int  // state saves queued first
		heavy bool // then a save of items
	}{
		{"a save of items ends the wait", 5, true},
		{"a full group ends the wait", maxGroup, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			g := db.commits
			g.linger = time.Minute
			start := txID(t, db)
			var wg sync.WaitGroup
			errs := make(chan error, tt.light+1)
			for i := range tt.light - 1 {
				wg.Go(func() { errs <- g.updateLight(put(fmt.Sprint("light-", i))) })
			}
			waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.queue) == tt.light-1 })
			time.Sleep(20 * time.Millisecond) // a commit that did not wait would show now
			if commits := txID(t, db) - start; commits != 0 {
				t.Fatalf("%d commits while state saves alone were queued, want them to wait", commits)
			}
			wg.Go(func() { errs <- g.updateLight(put("last-light")) })
			if tt.heavy {
				waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.queue) == tt.light })
				wg.Go(func() { errs <- g.update(put("heavy")) })
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the saves still wait: nothing ended the linger")
			}
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if commits := txID(t, db) - start; commits != 1 {
				t.Errorf("%d commits, want 1 for every save", commits)
			}
		})
	}

	t.Run("a lone state save commits after the linger", func(t *testing.T) {
		db := openTestDB(t)
		db.commits.linger = 30 * time.Millisecond
		begun := time.Now()
		if err := db.commits.updateLight(put("alone")); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(begun); waited < db.commits.linger {
			t.Errorf("committed after %v, before the linger of %v", waited, db.commits.linger)
		}
	})
}
