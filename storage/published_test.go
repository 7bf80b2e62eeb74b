package storage

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	bolt "go.etcd.io/bbolt"
)

// TestPublishedKeyOrder: the retention index orders items by the UTC day
// of their Published, then by FirstSeen, then by item key; the exact time
// is the value, and a time given in another zone is the same key.
func TestPublishedKeyOrder(t *testing.T) {
	day := t0.Truncate(publishedDay)
	k := itemKey("src", "a")
	tests := []struct {
		name        string
		first, then []byte // first must sort before then
	}{
		{"the day before, seen later", publishedKey(day.Add(-time.Nanosecond), t0.Add(time.Hour), k), publishedKey(day, t0, k)},
		{"the same day, seen earlier, published later", publishedKey(day.Add(20*time.Hour), t0, k), publishedKey(day.Add(time.Hour), t0.Add(time.Second), k)},
		{"the same day and first sight, by item key", publishedKey(day.Add(5*time.Hour), t0, itemKey("src", "a")), publishedKey(day.Add(time.Hour), t0, itemKey("src", "b"))},
		{"the last instant of a day, the first of the next", publishedKey(day.Add(publishedDay-time.Nanosecond), t0.Add(time.Hour), k), publishedKey(day.Add(publishedDay), t0, k)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if bytes.Compare(tt.first, tt.then) >= 0 {
				t.Errorf("%x does not sort before %x", tt.first, tt.then)
			}
		})
	}
	east := time.FixedZone("UTC+8", 8*3600)
	pub := day.Add(20 * time.Hour) // the next calendar day in UTC+8
	if a, b := publishedKey(pub, t0, k), publishedKey(pub.In(east), t0.In(east), k); !bytes.Equal(a, b) {
		t.Errorf("a zone changes the key: %x, %x", a, b)
	}
	if !bytes.HasPrefix(publishedKey(pub, t0, k), publishedDayKey(pub)) || !bytes.HasPrefix(publishedKey(day, t0, k), publishedDayKey(pub)) {
		t.Error("keys of a day do not start with its day key")
	}
	ikey, at, err := publishedEntry(publishedKey(pub, t0, k), timeKeyBytes(pub))
	if err != nil || !bytes.Equal(ikey, k) || at != timeKeyNum(pub) {
		t.Errorf("publishedEntry = %q, %d, %v", ikey, at, err)
	}
	for _, bad := range [][2][]byte{{publishedKey(pub, t0, nil), timeKeyBytes(pub)}, {publishedKey(pub, t0, k), nil}, {k, timeKeyBytes(pub)}} {
		if _, _, err := publishedEntry(bad[0], bad[1]); err == nil {
			t.Errorf("publishedEntry(%x, %x) accepted a malformed entry", bad[0], bad[1])
		}
	}
}

// dayItems stores items published over three days, each day's first seen
// in the opposite order of their publication (so that the index's order
// within a day is not the items' order in time). It returns the times by
// item ID.
func dayItems(t *testing.T, db *DB) map[string]time.Time {
	t.Helper()
	day := t0.Truncate(publishedDay)
	pubs := []time.Time{
		day.Add(-20 * time.Hour), day.Add(-time.Nanosecond),
		day, day.Add(time.Hour), day.Add(5 * time.Hour), day.Add(5*time.Hour + time.Nanosecond), day.Add(publishedDay - time.Nanosecond),
		day.Add(publishedDay), day.Add(publishedDay + 3*time.Hour),
	}
	byID := map[string]time.Time{}
	var items []aggregator.Item
	for i, pub := range pubs {
		it := mkItem(fmt.Sprintf("i%d", i), pub, "h", "go")
		it.FirstSeen = t0.Add(-pub.Sub(day)) // later published, earlier seen
		items = append(items, it)
		byID[it.ID] = pub
	}
	up := feed("src", items...)
	up.Reconcile = func(_, in *aggregator.Item) bool { return true } // keeps FirstSeen
	// A title key each, so that the recent index holds every item.
	up.Cluster = func(it *aggregator.Item, _ aggregator.StoryLookup) error {
		it.Keys, it.StoryID = aggregator.StoryKeys{Title: "title " + it.ID}, it.ID
		return nil
	}
	if _, err := db.SaveFeed(context.Background(), up); err != nil {
		t.Fatal(err)
	}
	return byID
}

// TestPruneWithinDay: a cutoff anywhere in a day removes exactly the items
// published before it, although the index orders that day's items by when
// they were first seen.
func TestPruneWithinDay(t *testing.T) {
	day := t0.Truncate(publishedDay)
	cutoffs := []time.Duration{-20 * time.Hour, -time.Nanosecond, 0, time.Nanosecond, time.Hour, 5*time.Hour + time.Nanosecond, 5*time.Hour + 2*time.Nanosecond, publishedDay - time.Nanosecond, publishedDay, 2 * publishedDay}
	for _, off := range cutoffs {
		cutoff := day.Add(off)
		t.Run(fmt.Sprint(off), func(t *testing.T) {
			ctx := context.Background()
			db := openAt(t, filepath.Join(t.TempDir(), "db"), Options{Now: func() time.Time { return t0 }}) // cleanup checks every index
			byID := dayItems(t, db)
			var want, kept []string
			for id, pub := range byID {
				if pub.Before(cutoff) {
					want = append(want, id)
				} else {
					kept = append(kept, id)
				}
			}
			res, err := db.Prune(ctx, cutoff)
			if err != nil {
				t.Fatal(err)
			}
			if res.Items != len(want) {
				t.Errorf("pruned %d items, want %d (%v)", res.Items, len(want), want)
			}
			for _, id := range want {
				if _, err := db.Item(ctx, "src", id); err == nil {
					t.Errorf("%s (published %v) survived a cutoff of %v", id, byID[id], cutoff)
				}
			}
			for _, id := range kept {
				if _, err := db.Item(ctx, "src", id); err != nil {
					t.Errorf("%s (published %v) lost to a cutoff of %v: %v", id, byID[id], cutoff, err)
				}
			}
		})
	}
}

// TestRecentLoadByDay: the recent index loads the stored items published
// within [from, to) from the retention index, bounds on a day's edge or
// within it, and each once.
func TestRecentLoadByDay(t *testing.T) {
	day := t0.Truncate(publishedDay)
	db := openAt(t, filepath.Join(t.TempDir(), "db"), Options{Now: func() time.Time { return t0 }})
	byID := dayItems(t, db)
	bounds := []time.Duration{-2 * publishedDay, -20 * time.Hour, -time.Nanosecond, 0, time.Nanosecond, 5 * time.Hour, 5*time.Hour + time.Nanosecond, publishedDay - time.Nanosecond, publishedDay, 3 * publishedDay}
	for _, lo := range bounds {
		for i := -1; i < len(bounds); i++ { // -1: no upper bound
			from := day.Add(lo)
			var to *uint64
			var hi time.Duration
			if i >= 0 {
				hi = bounds[i]
				n := timeKeyNum(day.Add(hi))
				to = &n
			}
			var want []string
			for id, pub := range byID {
				if !pub.Before(from) && (to == nil || pub.Before(day.Add(hi))) {
					want = append(want, string(itemKey("src", id)))
				}
			}
			ix := newRecentIndex(func() time.Time { return t0 })
			ix.emptyLists()
			var got []string
			err := db.bolt.View(func(tx *bolt.Tx) error {
				rt := ix.begin(tx)
				defer ix.mu.Unlock()
				if err := rt.load(timeKeyNum(from), to); err != nil {
					return err
				}
				for _, it := range ix.items {
					if it.key != "" {
						got = append(got, it.key)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("load [%v, %v) (upper bound %v): %q, want %q", lo, hi, to != nil, got, want)
			}
		}
	}
}

// TestMigrateV4 opens a schema 4 store (the retention index keyed by each
// item's time): read-only, it reads as before; writable, the index is
// rebuilt by day (the cleanup checks every entry), and retention and
// merging work on it.
func TestMigrateV4(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v4.db")
	db := openAt(t, path, Options{Now: func() time.Time { return t0 }})
	byID := dayItems(t, db)
	rewriteAs(t, db, 4, func(tx *bolt.Tx) error {
		if err := unorderStories(tx); err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketPublished); err != nil {
			return err
		}
		pub, err := tx.CreateBucket(bucketPublished)
		if err != nil {
			return err
		}
		for id, at := range byID {
			if err := pub.Put(indexKey(at, itemKey("src", id)), nil); err != nil {
				return err
			}
		}
		return nil
	})

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if ro.schema != 4 {
		t.Errorf("read-only open: schema %d, want 4", ro.schema)
	}
	if _, err := ro.Item(ctx, "src", "i0"); err != nil {
		t.Errorf("Item on the unmigrated read-only store: %v", err)
	}
	ro.Close()

	db = openAt(t, path, Options{Now: func() time.Time { return t0 }}) // cleanup checks every index
	if db.schema != schemaVersion {
		t.Errorf("schema after migration %d", db.schema)
	}
	cutoff := t0.Truncate(publishedDay).Add(5 * time.Hour)
	want := 0
	for _, at := range byID {
		if at.Before(cutoff) {
			want++
		}
	}
	res, err := db.Prune(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if res.Items != want {
		t.Errorf("prune after migration: %d items, want %d", res.Items, want)
	}
	// A merge loads the recent index from the rebuilt retention index;
	// recentState checks it against the items in its window.
	m := aggregator.NewStoryMerger([]aggregator.Source{{Name: "src"}, {Name: "other"}})
	up := feed("other", mkItem("copy", t0, "h"))
	up.Cluster = m.Cluster
	if _, err := db.SaveFeed(ctx, up); err != nil {
		t.Fatal(err)
	}
	if n, _, loaded := recentState(t, db); !loaded || n == 0 {
		t.Errorf("recent index after a merge: %d items, loaded %v", n, loaded)
	}
}

// TestMigrateV4CorruptItem: an item record that cannot be read fails
// schema 5's migration, naming the item, and leaves the store as it was.
func TestMigrateV4CorruptItem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "corrupt.db")
	db := openAt(t, path, Options{Now: func() time.Time { return t0 }})
	dayItems(t, db)
	var before int
	rewriteAs(t, db, 4, func(tx *bolt.Tx) error {
		before = tx.Bucket(bucketPublished).Stats().KeyN
		return tx.Bucket(bucketItems).Put(itemKey("src", "i3"), []byte{codecBinary, 0xff})
	})
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "migrate schema 4 to 5") || !strings.Contains(err.Error(), "i3") {
		t.Errorf("Open of a store with a corrupt item: %v, want the migration's error naming the item", err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if ro.schema != 4 {
		t.Errorf("the failed migration left schema %d", ro.schema)
	}
	var after int
	_ = ro.bolt.View(func(tx *bolt.Tx) error { after = tx.Bucket(bucketPublished).Stats().KeyN; return nil })
	if after != before {
		t.Errorf("the failed migration left %d retention entries of %d", after, before)
	}
}

// TestPublishedFollowsTime: when a stored item's Published changes, its
// retention entry follows — rewritten in place within the day, moved to
// another day — and a change of zone alone leaves it as it is.
func TestPublishedFollowsTime(t *testing.T) {
	ctx := context.Background()
	day := t0.Truncate(publishedDay)
	first := day.Add(3 * time.Hour)
	tests := []struct {
		name string
		next time.Time
	}{
		{"later the same day", day.Add(9 * time.Hour)},
		{"earlier the same day", day.Add(time.Minute)},
		{"the day before", day.Add(-2 * time.Hour)},
		{"the day after", day.Add(publishedDay + time.Hour)},
		{"another zone", first.In(time.FixedZone("UTC-5", -5*3600))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openAt(t, filepath.Join(t.TempDir(), "db"), Options{Now: func() time.Time { return t0 }}) // cleanup checks every index
			if _, err := db.SaveFeed(ctx, feed("src", mkItem("a", first, "h1"))); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SaveFeed(ctx, feed("src", mkItem("a", tt.next, "h2"))); err != nil {
				t.Fatal(err)
			}
			var entries [][2][]byte
			err := db.bolt.View(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketPublished).ForEach(func(k, v []byte) error {
					entries = append(entries, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			want := [2][]byte{publishedKey(tt.next, t0, itemKey("src", "a")), timeKeyBytes(tt.next)}
			if len(entries) != 1 || !bytes.Equal(entries[0][0], want[0]) || !bytes.Equal(entries[0][1], want[1]) {
				t.Errorf("retention index %x, want the one entry %x", entries, want)
			}
		})
	}
}

// TestPruneMalformedEntry: a retention entry without its time (a damaged
// store) fails the prune with an error naming it, and nothing is deleted.
func TestPruneMalformedEntry(t *testing.T) {
	ctx := context.Background()
	db := openAt(t, filepath.Join(t.TempDir(), "db"), Options{Now: func() time.Time { return t0 }})
	byID := dayItems(t, db)
	bad := publishedKey(t0.Add(-48*time.Hour), t0, itemKey("src", "i0"))
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPublished).Put(bad, nil) }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Prune(ctx, t0.Add(publishedDay)); err == nil || !strings.Contains(err.Error(), "malformed published entry") {
		t.Errorf("Prune over a malformed entry: %v, want an error naming it", err)
	}
	for id := range byID {
		if _, err := db.Item(ctx, "src", id); err != nil {
			t.Errorf("%s lost to the failed prune: %v", id, err)
		}
	}
	// Repaired, the store prunes (and the cleanup finds every index whole).
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPublished).Delete(bad) }); err != nil {
		t.Fatal(err)
	}
	if res, err := db.Prune(ctx, t0.Add(publishedDay)); err != nil || res.Items == 0 {
		t.Errorf("Prune after the repair = %+v, %v", res, err)
	}
}

// TestRecentLoadMalformedEntry: a retention entry without its time fails
// the merge that loads the recent index, with an error naming it; the
// feed is not stored, and once the entry is repaired it is.
func TestRecentLoadMalformedEntry(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	db := openAt(t, path, Options{Now: func() time.Time { return t0 }})
	dayItems(t, db)
	bad := publishedKey(t0, t0, itemKey("src", "i0"))
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPublished).Put(bad, []byte{1}) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path, Options{Now: func() time.Time { return t0 }}) // its index not loaded
	m := aggregator.NewStoryMerger([]aggregator.Source{{Name: "src"}, {Name: "other"}})
	save := func() error {
		up := feed("other", mkItem("copy", t0, "h"))
		up.Cluster = m.Cluster
		_, err := db.SaveFeed(ctx, up)
		return err
	}
	if err := save(); err == nil || !strings.Contains(err.Error(), "malformed published entry") {
		t.Errorf("a merge over a malformed entry: %v, want an error naming it", err)
	}
	if _, err := db.Item(ctx, "other", "copy"); err == nil {
		t.Error("the feed of the failed merge was stored")
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPublished).Delete(bad) }); err != nil {
		t.Fatal(err)
	}
	if err := save(); err != nil {
		t.Errorf("the merge after the repair: %v", err)
	}
}
