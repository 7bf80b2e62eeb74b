package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/storage/benchstore"
	bolt "go.etcd.io/bbolt"
)

// recentState returns how many items the recent index holds, its horizon
// as a time and whether it is loaded, after checking it against the store.
func recentState(t *testing.T, db *DB) (items int, horizon time.Time, loaded bool) {
	t.Helper()
	if err := db.bolt.View(func(tx *bolt.Tx) error { return checkRecent(tx, db.recent) }); err != nil {
		t.Fatal(err)
	}
	db.recent.mu.Lock()
	defer db.recent.mu.Unlock()
	distinct := map[uint32]bool{}
	db.recent.titles.all(func(_ uint64, e recentEntry) { distinct[e.slot] = true })
	db.recent.bands.all(func(_ uint64, e recentEntry) { distinct[e.slot] = true })
	var k [timeKeyLen]byte
	binary.BigEndian.PutUint64(k[:], db.recent.horizon)
	return len(distinct), parseTimeKey(k[:]), db.recent.loaded
}

// storedXinhua opens a new store at path, without the consistency check
// of openAt, with Xinhua's copy of the seed story saved through the story
// merger; the clock reads an hour after it was published.
func storedXinhua(t *testing.T, path string) (db *DB, m *aggregator.StoryMerger, now time.Time) {
	t.Helper()
	seed := seedItems()
	m = aggregator.NewStoryMerger(seedSources())
	now = seed[1].Published.Add(time.Hour)
	db, err := Open(path, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SaveFeed(context.Background(), storyFeed(m, now, nil, "xinhua", seed[1])); err != nil {
		t.Fatal(err)
	}
	return db, m, now
}

func storyOf(t *testing.T, db *DB, it aggregator.Item) string {
	t.Helper()
	got, err := db.Item(context.Background(), it.Source, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got.StoryID
}

// TestRecentIndexRollback: a feed that fails after some of its items
// were indexed, or whose merge hook panics, leaves the index as the
// committed store describes it, and merging goes on from there.
func TestRecentIndexRollback(t *testing.T) {
	ctx := context.Background()
	seed := seedItems()
	m := aggregator.NewStoryMerger(seedSources())
	now := seed[1].Published.Add(time.Hour)
	db := openAt(t, filepath.Join(t.TempDir(), "tributary.db"), Options{Now: func() time.Time { return now }})
	if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "xinhua", seed[1])); err != nil {
		t.Fatal(err)
	}
	if n, _, loaded := recentState(t, db); !loaded || n != 1 {
		t.Fatalf("after one merge the index holds %d items (loaded %v), want 1", n, loaded)
	}

	// CGTN's copy is indexed, then the feed's second item fails.
	bad := seed[0]
	bad.ID = ""
	if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "cgtn-world", seed[0], bad)); err == nil {
		t.Fatal("SaveFeed of a feed with an empty item ID succeeded")
	}
	if n, _, _ := recentState(t, db); n != 1 {
		t.Errorf("after a failed feed the index holds %d items, want 1", n)
	}

	// The merge hook panics on the second item.
	up := storyFeed(m, now, nil, "cgtn-world", seed[0], aggregator.Item{ID: "boom", Hash: "h", Published: now})
	up.Cluster = func(it *aggregator.Item, l aggregator.StoryLookup) error {
		if it.ID == "boom" {
			panic("boom")
		}
		return m.Cluster(it, l)
	}
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the hook's panic", r)
			}
		}()
		_, _ = db.SaveFeed(ctx, up)
	}()
	if n, _, _ := recentState(t, db); n != 1 {
		t.Errorf("after a panicking hook the index holds %d items, want 1", n)
	}

	if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "cgtn-world", seed[0])); err != nil {
		t.Fatal(err)
	}
	if got, want := storyOf(t, db, seed[0]), seed[1].ID; got != want {
		t.Errorf("CGTN's copy is in story %q, want Xinhua's %q", got, want)
	}
}

// TestRecentIndexFreesSlots: the table behind the index reuses the slot
// of an item no entry names any more, once its transaction commits: an
// item whose keys change, and items pruned.
func TestRecentIndexFreesSlots(t *testing.T) {
	ctx := context.Background()
	seed := seedItems()
	m := aggregator.NewStoryMerger(seedSources())
	now := seed[1].Published.Add(time.Hour)
	db := openAt(t, filepath.Join(t.TempDir(), "tributary.db"), Options{Now: func() time.Time { return now }})
	table := func() (taken, free int) {
		t.Helper()
		recentState(t, db) // checks every slot against the entries naming it
		db.recent.mu.Lock()
		defer db.recent.mu.Unlock()
		return len(db.recent.items) - len(db.recent.free), len(db.recent.free)
	}
	if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "xinhua", seed[1])); err != nil {
		t.Fatal(err)
	}
	if taken, free := table(); taken != 1 || free != 0 {
		t.Fatalf("after one item the table has %d slots taken and %d free, want 1 and 0", taken, free)
	}

	// Edited, the item's title key and bands change: its entries move to
	// a new slot and the old one is freed.
	edited := seed[1]
	edited.Title = "An entirely different headline about the weather"
	edited.Summary = "Rain is expected over the weekend in the north of the country."
	edited.Content = ""
	edited.Hash = "edited"
	if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "xinhua", edited)); err != nil {
		t.Fatal(err)
	}
	if taken, free := table(); taken != 1 || free != 1 {
		t.Fatalf("after an edit the table has %d slots taken and %d free, want 1 and 1", taken, free)
	}

	// A new item takes the free slot.
	if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "cgtn-world", seed[0])); err != nil {
		t.Fatal(err)
	}
	if taken, free := table(); taken != 2 || free != 0 {
		t.Fatalf("after a second item the table has %d slots taken and %d free, want 2 and 0", taken, free)
	}

	// Pruned, both go.
	if res, err := db.Prune(ctx, now.Add(time.Hour)); err != nil || res.Items != 2 {
		t.Fatalf("Prune = %+v, %v; want 2 items pruned", res, err)
	}
	if taken, free := table(); taken != 0 || free != 2 {
		t.Fatalf("after pruning the table has %d slots taken and %d free, want 0 and 2", taken, free)
	}
}

// TestRecentIndexAfterRestart: the index is rebuilt from the store, so a
// copy arriving after a restart joins the story stored before it.
func TestRecentIndexAfterRestart(t *testing.T) {
	ctx := context.Background()
	seed := seedItems()
	path := filepath.Join(t.TempDir(), "tributary.db")
	db, m, now := storedXinhua(t, path)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path, Options{Now: func() time.Time { return now }})
	if _, _, loaded := recentState(t, db); loaded {
		t.Error("the index is loaded at open; it should wait for the first merge")
	}
	for _, it := range []aggregator.Item{seed[0], seed[2]} {
		if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, it.Source, it)); err != nil {
			t.Fatal(err)
		}
		if got, want := storyOf(t, db, it), seed[1].ID; got != want {
			t.Errorf("%s's copy is in story %q, want Xinhua's %q", it.Source, got, want)
		}
	}
	if n, _, _ := recentState(t, db); n != 3 {
		t.Errorf("the index holds %d items, want 3", n)
	}
}

// TestRecentIndexCoversADayLate: loaded, the index reaches recentKeep
// back, a story window and a day, so an item published up to a day ago
// finds its candidates without extending it; an item published before
// that extends it to its own window.
func TestRecentIndexCoversADayLate(t *testing.T) {
	ctx := context.Background()
	m := aggregator.NewStoryMerger(seedSources())
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	db := openAt(t, filepath.Join(t.TempDir(), "tributary.db"), Options{Now: func() time.Time { return now }})
	steps := []struct {
		name        string
		published   time.Time
		wantHorizon time.Time
	}{
		{"an hour old (loads the index)", now.Add(-time.Hour), now.Add(-recentKeep)},
		{"a day old", now.Add(-recentLate), now.Add(-recentKeep)},
		{"an hour more", now.Add(-recentLate - time.Hour), now.Add(-recentLate - time.Hour - aggregator.StoryWindow)},
	}
	for i, step := range steps {
		id := fmt.Sprintf("item%d", i)
		it := aggregator.Item{ID: id, Source: "xinhua", Identity: id, Link: "https://news.cn/" + id,
			Title: fmt.Sprintf("Storm closes %d schools across the north", i+2), Hash: id, Published: step.published}
		if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "xinhua", it)); err != nil {
			t.Fatal(err)
		}
		if n, horizon, loaded := recentState(t, db); !loaded || n != i+1 || !horizon.Equal(step.wantHorizon) {
			t.Errorf("after the item %s: loaded %v, %d items, horizon %v; want true, %d, %v",
				step.name, loaded, n, horizon, i+1, step.wantHorizon)
		}
	}
}

// TestRecentIndexShrinksAfterBigTrim: a trim that drops most of the
// index, as the hourly trim does after an old backlog extended it days
// back, leaves an index the size of what is left, not of what it grew
// to: its table holds a slot per item. The store's checks (recentState)
// show that the index still lists exactly the stored items since its
// horizon.
func TestRecentIndexShrinksAfterBigTrim(t *testing.T) {
	ctx := context.Background()
	vocab := benchstore.Vocabulary()
	m := aggregator.NewStoryMerger([]aggregator.Source{{Name: "alpha"}, {Name: "new"}})
	now := t0
	db := openAt(t, filepath.Join(t.TempDir(), "tributary.db"), Options{Now: func() time.Time { return now }})
	r := rand.New(rand.NewPCG(3, 4))
	items := make([]aggregator.Item, 600)
	for i := range items {
		items[i] = benchItem(r, vocab, "alpha", i, now.Add(-time.Duration(r.Int64N(int64(30*24*time.Hour)))))
	}
	up := feed("alpha", items...)
	up.Cluster = func(it *aggregator.Item, _ aggregator.StoryLookup) error {
		it.Keys, it.StoryID = m.Keys(it), it.ID
		return nil
	}
	if _, err := db.SaveFeed(ctx, up); err != nil {
		t.Fatal(err)
	}
	save := func(n int, published time.Time) (items, table int) {
		t.Helper()
		up := feed("new", benchItem(r, vocab, "new", n, published))
		up.Cluster = m.Cluster
		if _, err := db.SaveFeed(ctx, up); err != nil {
			t.Fatal(err)
		}
		items, _, _ = recentState(t, db)
		db.recent.mu.Lock()
		defer db.recent.mu.Unlock()
		return items, len(db.recent.items)
	}
	loaded, _ := save(1, now.Add(-time.Hour))
	if n, table := save(2, now.Add(-29*24*time.Hour)); n < 500 || table != n {
		t.Fatalf("after a month-old item: %d items in a table of %d; want nearly all 600, one slot each", n, table)
	}
	now = now.Add(2 * time.Hour)
	n, table := save(3, now.Add(-time.Hour))
	if n > loaded+2 || table != n {
		t.Errorf("after the trim: %d items in a table of %d; want about the %d loaded at first, one slot each", n, table, loaded)
	}
}

// TestRecentIndexExtendsAndTrims: an item published long before the
// horizon extends the index back to its window, so an old copy still
// merges; the hourly trim brings the horizon back to recentKeep.
func TestRecentIndexExtendsAndTrims(t *testing.T) {
	ctx := context.Background()
	seed := seedItems()
	m := aggregator.NewStoryMerger(seedSources())
	now := seed[1].Published.Add(30 * 24 * time.Hour)
	db := openAt(t, filepath.Join(t.TempDir(), "tributary.db"), Options{Now: func() time.Time { return now }})
	fresh := aggregator.Item{ID: "fresh", Source: "xinhua", Identity: "fresh", Link: "https://news.cn/fresh",
		Title: "Parliament passes the annual budget after a long debate", Hash: "h", Published: now.Add(-time.Hour)}
	if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "xinhua", fresh, seed[1])); err != nil {
		t.Fatal(err)
	}
	n, horizon, _ := recentState(t, db)
	if n != 2 || horizon.After(seed[1].Published.Add(-aggregator.StoryWindow)) {
		t.Errorf("after a month-old item: %d items, horizon %v; want 2, at or before %v", n, horizon, seed[1].Published.Add(-aggregator.StoryWindow))
	}

	// Within the hour the index stays extended; after it, a commit trims.
	now = now.Add(2 * time.Hour)
	other := fresh
	other.ID, other.Identity, other.Link, other.Title = "other", "other", "https://news.cn/other", "Storm closes schools across the north"
	if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "xinhua", other)); err != nil {
		t.Fatal(err)
	}
	n, horizon, _ = recentState(t, db)
	if want := now.Add(-recentKeep); n != 2 || !horizon.Equal(want) {
		t.Errorf("after the trim: %d items, horizon %v; want 2 (the month-old one dropped), %v", n, horizon, want)
	}

	// A month-old copy extends the index again and joins its story.
	if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "cgtn-world", seed[0])); err != nil {
		t.Fatal(err)
	}
	if got, want := storyOf(t, db, seed[0]), seed[1].ID; got != want {
		t.Errorf("the month-old copy is in story %q, want %q", got, want)
	}
	if n, _, _ := recentState(t, db); n != 4 {
		t.Errorf("after the extension the index holds %d items, want 4", n)
	}
}

// trimmableStore stores 240 items 15 minutes apart, the first four older
// than recentKeep before the returned clock's reading, at which a trim is
// due and drops those four. It returns the store, its clock, and the
// stored items.
func trimmableStore(t *testing.T) (*DB, *time.Time, []aggregator.Item) {
	t.Helper()
	ctx := context.Background()
	m := aggregator.NewStoryMerger(seedSources())
	start := t0.Add(-30 * 24 * time.Hour)
	const spacing = 15 * time.Minute // 60 hours in all, less than recentKeep
	now := start.Add(240 * spacing)
	db := openAt(t, filepath.Join(t.TempDir(), "tributary.db"), Options{Now: func() time.Time { return now }})
	words := strings.Fields("harbour budget storm election vaccine bridge strike drought summit rail tariff court")
	items := make([]aggregator.Item, 240)
	for i := range items {
		w := func(k int) string { return words[(i*7+k*5)%len(words)] }
		items[i] = aggregator.Item{ID: fmt.Sprint("item-", i), Source: "xinhua", Identity: fmt.Sprint("id-", i),
			Link:    fmt.Sprintf("https://news.cn/%d", i),
			Title:   fmt.Sprintf("Report %d on the %s and the %s in province %d", i, w(0), w(1), i),
			Summary: fmt.Sprintf("Officials in province %d said the %s would follow the %s, the %s and the %s.", i, w(2), w(3), w(4), w(5)),
			Hash:    "h", Published: start.Add(time.Duration(i) * spacing)}
		m.Prepare(&items[i])
	}
	if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "xinhua", items...)); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := recentState(t, db); n != len(items) {
		t.Fatalf("the index holds %d items, want %d", n, len(items))
	}
	now = start.Add(4*spacing + recentKeep) // items 0–3 are older than recentKeep
	return db, &now, items
}

// TestRecentTrimDue: the trim happens as a write transaction begins, and
// the index then stands whether that transaction commits or not. The
// next trim waits until the horizon has fallen recentTrimSlack behind
// recentKeep, however many hours pass before.
func TestRecentTrimDue(t *testing.T) {
	ctx := context.Background()
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("fail=", fail), func(t *testing.T) {
			db, now, items := trimmableStore(t)
			err := db.update(func(tx *bolt.Tx, _ *recentTx) error {
				if fail {
					return errors.New("the transaction fails")
				}
				return nil
			})
			if (err != nil) != fail {
				t.Fatalf("update: %v", err)
			}
			n, horizon, loaded := recentState(t, db)
			if want := now.Add(-recentKeep); !loaded || n != 236 || !horizon.Equal(want) {
				t.Errorf("after the trim: loaded %v, %d items, horizon %v; want 236, %v", loaded, n, horizon, want)
			}
			// Within the slack, no other trim.
			trimmed := *now
			for _, after := range []time.Duration{30 * time.Minute, 2 * time.Hour, recentTrimSlack} {
				*now = trimmed.Add(after)
				if _, err := db.SaveFeed(ctx, feed("xinhua")); err != nil {
					t.Fatal(err)
				}
				if _, h, _ := recentState(t, db); !h.Equal(horizon) {
					t.Errorf("%v after the trim, the horizon moved to %v, want %v", after, h, horizon)
				}
			}
			// Past it, the next: the items of those six hours and a
			// minute go.
			*now = trimmed.Add(recentTrimSlack + time.Minute)
			if _, err := db.SaveFeed(ctx, feed("xinhua")); err != nil {
				t.Fatal(err)
			}
			gone := 0
			for _, it := range items {
				if !it.Published.Before(horizon) && it.Published.Before(now.Add(-recentKeep)) {
					gone++
				}
			}
			if n2, h, _ := recentState(t, db); !h.Equal(now.Add(-recentKeep)) || gone < 20 || n2 != n-gone {
				t.Errorf("past the slack: %d items, horizon %v; want %d (of which %d go), %v", n2, h, n-gone, gone, now.Add(-recentKeep))
			}
		})
	}
}

// TestMigrateV2 opens a schema 2 database: its title and band buckets
// go, each topic's count is stored, and merging still finds the stories
// stored before.
func TestMigrateV2(t *testing.T) {
	ctx := context.Background()
	seed := seedItems()
	m := aggregator.NewStoryMerger(seedSources())
	now := seed[1].Published.Add(time.Hour)
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := Open(path, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	all := func(*aggregator.Item) []string { return []string{"hr"} }
	for _, it := range seed[:2] {
		if _, err := db.SaveFeed(ctx, storyFeed(m, now, all, it.Source, it)); err != nil {
			t.Fatal(err)
		}
	}
	// Make it schema 2: the title and band buckets, no stored counts,
	// topic indexes keyed by time.
	rewriteAs(t, db, 2, func(tx *bolt.Tx) error {
		if err := unnumberStories(tx); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketStoryTitleV2, bucketStoryBandV2} {
			b, err := tx.CreateBucket(name)
			if err != nil {
				return err
			}
			if err := b.Put([]byte("an old entry"), nil); err != nil {
				return err
			}
		}
		return tx.DeleteBucket(bucketTopicCount)
	})

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ro.TopicItemCount(ctx, "hr"); err != nil || n != 1 {
		t.Errorf("TopicItemCount on an unmigrated read-only database = %d, %v; want 1", n, err)
	}
	if s, err := ro.TopicStories(ctx, "hr", 0); err != nil || len(s) != 1 {
		t.Errorf("TopicStories on an unmigrated read-only database = %d, %v; want 1 story", len(s), err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, path, Options{Now: func() time.Time { return now }}) // cleanup checks every index
	err = db.bolt.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketStoryTitleV2, bucketStoryBandV2} {
			if tx.Bucket(name) != nil {
				return errors.New("bucket " + string(name) + " survived the migration")
			}
		}
		if v := tx.Bucket(bucketMeta).Get(keySchema); string(v) != "\x00\x00\x00\x06" {
			t.Errorf("schema after migration %x", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.TopicItemCount(ctx, "hr"); err != nil || n != 1 {
		t.Errorf("TopicItemCount after migration = %d, %v; want 1", n, err)
	}
	for _, it := range seed[2:] {
		if _, err := db.SaveFeed(ctx, storyFeed(m, now, all, it.Source, it)); err != nil {
			t.Fatal(err)
		}
	}
	stories := topicStories(t, db, "hr", 0)
	if len(stories) != 1 || len(stories[0].Members) != 4 {
		t.Errorf("hr after migration has %v, want one story of four", storyIDs(stories))
	}
	if n, err := db.TopicItemCount(ctx, "hr"); err != nil || n != 1 {
		t.Errorf("TopicItemCount = %d, %v; want 1", n, err)
	}
	var sources []string
	for _, it := range stories[0].Members {
		sources = append(sources, it.Source)
	}
	slices.Sort(sources)
	if want := []string{"cgtn-world", "chinadaily", "globaltimes", "xinhua"}; !slices.Equal(sources, want) {
		t.Errorf("members %v, want %v", sources, want)
	}
}

// TestCachedHeadFollowsWrites: a merge candidate's head, once cached, is
// served without reading its record, so every way an item's stored head
// changes must drop it: an update, absorbing its story into another, its
// deletion, a topic sync, and a transaction that rolled back after
// caching a head of its own writes.
func TestCachedHeadFollowsWrites(t *testing.T) {
	ctx := context.Background()
	tokens := &aggregator.StoryTokens{Title: []string{"forum"}}
	a, b := mkItem("a", t0, "ha"), mkItem("b", t0.Add(time.Minute), "hb")
	a.Tokens, b.Tokens = tokens, tokens
	keyB := itemKey("src", "b")

	// head looks b up as a merge candidate, which caches its head.
	head := func(t *testing.T, db *DB) (aggregator.Item, error) {
		t.Helper()
		var got aggregator.Item
		err := db.update(func(tx *bolt.Tx, rt *recentTx) error {
			items, err := (&txLookup{tx: tx, recent: rt}).items([][]byte{keyB})
			if err == nil {
				got = items[0]
			}
			return err
		})
		return got, err
	}
	tests := []struct {
		name   string
		change func(t *testing.T, db *DB)
		check  func(t *testing.T, got aggregator.Item, err error)
	}{
		{
			name: "updated",
			change: func(t *testing.T, db *DB) {
				edited := b
				edited.Title, edited.Hash = "Edited", "hb2"
				if _, err := db.SaveFeed(ctx, feed("src", edited)); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, got aggregator.Item, err error) {
				if err != nil || got.Title != "Edited" {
					t.Errorf("after an update: title %q, %v; want Edited", got.Title, err)
				}
			},
		},
		{
			name: "absorbed into another story",
			change: func(t *testing.T, db *DB) {
				err := db.update(func(tx *bolt.Tx, rt *recentTx) error {
					return absorbStories(tx, rt, "a", []string{"b"}, topicChanges{})
				})
				if err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, got aggregator.Item, err error) {
				if err != nil || got.StoryID != "a" {
					t.Errorf("after absorbing: story %q, %v; want a", got.StoryID, err)
				}
			},
		},
		{
			name: "deleted",
			change: func(t *testing.T, db *DB) {
				err := db.update(func(tx *bolt.Tx, rt *recentTx) error {
					if _, err := deleteItem(tx, rt, keyB, topicChanges{}); err != nil {
						return err
					}
					return addCount(tx, "src", -1)
				})
				if err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, got aggregator.Item, err error) {
				if err == nil || !strings.Contains(err.Error(), "missing item") {
					t.Errorf("after deleting: %+v, %v; want a missing item", got.ID, err)
				}
			},
		},
		{
			name: "topics synced",
			change: func(t *testing.T, db *DB) {
				all := func(*aggregator.Item) bool { return true }
				if _, err := db.SyncTopics(ctx, []aggregator.TopicMembership{{Name: "all", Fingerprint: "1", Match: all}}, nil); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, got aggregator.Item, err error) {
				if err != nil || !slices.Equal(got.Topics, []string{"all"}) {
					t.Errorf("after a topic sync: topics %q, %v; want [all]", got.Topics, err)
				}
			},
		},
		{
			name: "rolled back",
			change: func(t *testing.T, db *DB) {
				err := db.update(func(tx *bolt.Tx, rt *recentTx) error {
					lost := b
					lost.StoryID = "lost"
					v, err := encodeItem(&lost)
					if err != nil {
						return err
					}
					if err := tx.Bucket(bucketItems).Put(keyB, v); err != nil {
						return err
					}
					rt.cacheHead(keyB, lost)
					return errors.New("the save fails")
				})
				if err == nil {
					t.Fatal("the failing save committed")
				}
			},
			check: func(t *testing.T, got aggregator.Item, err error) {
				if err != nil || got.StoryID != "b" {
					t.Errorf("after a rollback: story %q, %v; want b", got.StoryID, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			if _, err := db.SaveFeed(ctx, feed("src", a, b)); err != nil {
				t.Fatal(err)
			}
			if got, err := head(t, db); err != nil || got.StoryID != "b" {
				t.Fatalf("before: story %q, %v", got.StoryID, err)
			}
			if _, ok := db.recent.heads.Get(string(keyB)); !ok {
				t.Fatal("looking b up as a candidate did not cache its head")
			}
			tt.change(t, db)
			got, err := head(t, db)
			tt.check(t, got, err)
		})
	}
}

// TestRecentIndexLoadError: a published index entry naming no item (a
// damaged store) fails the first merge with an error naming it, loses
// nothing, and leaves the index unloaded so the next merge tries again.
func TestRecentIndexLoadError(t *testing.T) {
	ctx := context.Background()
	seed := seedItems()
	path := filepath.Join(t.TempDir(), "tributary.db")
	db, m, now := storedXinhua(t, path)
	ghost := publishedKey(now, now, itemKey("xinhua", "ghost"))
	put := func(fn func(b *bolt.Bucket) error) {
		t.Helper()
		if err := db.bolt.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket(bucketPublished)) }); err != nil {
			t.Fatal(err)
		}
	}
	put(func(b *bolt.Bucket) error { return b.Put(ghost, timeKeyBytes(now)) })
	// Reopened, the index is loaded by the next merge, which meets the
	// entry.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path, Options{Now: func() time.Time { return now }})

	_, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "cgtn-world", seed[0]))
	if err == nil || !strings.Contains(err.Error(), "published index names missing item") || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("SaveFeed over a damaged published index: %v; want an error naming the missing item", err)
	}
	if _, err := db.Item(ctx, seed[0].Source, seed[0].ID); !errors.Is(err, aggregator.ErrNotFound) {
		t.Errorf("the failed feed's item was stored: %v", err)
	}
	if _, _, loaded := recentState(t, db); loaded {
		t.Error("the index stayed loaded after its load failed")
	}

	put(func(b *bolt.Bucket) error { return b.Delete(ghost) })
	if _, err := db.SaveFeed(ctx, storyFeed(m, now, nil, "cgtn-world", seed[0])); err != nil {
		t.Fatal(err)
	}
	if got, want := storyOf(t, db, seed[0]), seed[1].ID; got != want {
		t.Errorf("after the repair CGTN's copy is in story %q, want %q", got, want)
	}
}

// TestRecentByBands: a band query returns what a scan of every indexed
// item finds — each band's latest maxBandEntries items in the window
// counted, those sharing at least minShared bands, most shared first, ties
// by key, at most limit — however crowded the window.
func TestRecentByBands(t *testing.T) {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		items     int
		pool      int // distinct band values the items draw from
		minShared int
		limit     int
	}{
		{"sparse", 40, 200, 2, 16},
		{"crowded", 600, 24, 2, 16},
		{"crowded, one returned", 600, 24, 2, 1},
		{"crowded, no limit", 600, 24, 3, 0},
		{"limit above the matches", 30, 40, 1, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.items), uint64(tc.pool)))
			ix := newRecentIndex(func() time.Time { return base })
			ix.loaded = true
			ix.emptyLists()
			type entry struct {
				item  recentItem
				bands []uint64
			}
			var all []entry
			// Every other item's title sketch is one the lookup's keep
			// rejects.
			rejected := map[aggregator.TitleSketch]bool{}
			for i := range tc.items {
				it := recentItem{key: fmt.Sprintf("item-%04d", r.IntN(10000)*10000+i),
					published: timeKeyNum(base.Add(-time.Duration(r.IntN(96*60)) * time.Minute))}
				n := strconv.Itoa(i)
				it.sketch = (&aggregator.StoryTokens{Title: []string{"a" + n, "b" + n, "c" + n, "d" + n}}).Sketch()
				if i%2 == 1 {
					rejected[it.sketch] = true
				}
				slot := ix.newSlot(it.key, it.published, it.sketch)
				var bands []uint64
				for _, b := range r.Perm(tc.pool)[:16] {
					bands = append(bands, uint64(b))
					ix.insert(false, uint64(b), slot)
				}
				all = append(all, entry{it, bands})
			}
			// Several queries in turn: counts must not leak from one to
			// the next.
			for round := range 3 {
				query := []uint64{}
				for _, b := range r.Perm(tc.pool)[:16] {
					query = append(query, uint64(b))
				}
				from, to := base.Add(-48*time.Hour), base

				// The reference: a scan of every item.
				hits := map[string]int{}
				for _, b := range query {
					var in []recentItem
					for _, e := range all {
						if slices.Contains(e.bands, b) && e.item.published >= timeKeyNum(from) && e.item.published <= timeKeyNum(to) {
							in = append(in, e.item)
						}
					}
					slices.SortFunc(in, func(a, b recentItem) int { return compareRecent(b, a) })
					for _, it := range in[:min(len(in), maxBandEntries)] {
						hits[it.key]++
					}
				}
				var want []string
				sketches := map[string]aggregator.TitleSketch{}
				for _, e := range all {
					if hits[e.item.key] >= tc.minShared {
						want = append(want, e.item.key)
						sketches[e.item.key] = e.item.sketch
					}
				}
				slices.SortFunc(want, func(a, b string) int {
					if ha, hb := hits[a], hits[b]; ha != hb {
						return hb - ha
					}
					return strings.Compare(a, b)
				})
				if tc.limit > 0 && len(want) > tc.limit {
					want = want[:tc.limit]
				}
				if len(want) == 0 {
					t.Fatal("the case finds nothing: it tests nothing")
				}
				// The first round keeps every candidate; the others drop
				// the rejected ones from the most shared.
				var keep func(aggregator.TitleSketch) bool
				if round > 0 {
					keep = func(s aggregator.TitleSketch) bool { return !rejected[s] }
					want = slices.DeleteFunc(want, func(k string) bool { return rejected[sketches[k]] })
				}

				rt := ix.begin(nil)
				keys, err := rt.byBands(query, from, to, tc.minShared, tc.limit, keep)
				rt.settle(errors.New("read only"))
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, k := range keys {
					got = append(got, string(k))
				}
				if !slices.Equal(got, want) {
					t.Errorf("query %d: byBands gave %d keys %q\nwant %d %q", round, len(got), got, len(want), want)
				}
			}
		})
	}
}
