package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// openTestDB opens a fresh database in a temp dir whose clock is fixed at
// now; cleanup runs bbolt's consistency check and closes it.
func openTestDB(t testing.TB) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "tributary.db"), Options{Now: func() time.Time { return t0 }})
}

func openAt(t testing.TB, path string, opts Options) *DB {
	t.Helper()
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		err := db.bolt.View(func(tx *bolt.Tx) error {
			var errs []error
			for err := range tx.Check() {
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		})
		if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			return // the test closed it itself
		}
		if err != nil {
			t.Errorf("tx.Check: %v", err)
		}
		if err := db.bolt.View(checkIndexes(db)); err != nil {
			t.Errorf("indexes: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// checkIndexes verifies that the indexes, stories and counts are exactly
// what the stored items imply: no stale keys, none missing. Once db's
// recent index is loaded, it must hold exactly the items published since
// its horizon.
func checkIndexes(db *DB) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		if err := checkStoreIndexes(tx); err != nil {
			return err
		}
		return checkRecent(tx, db.recent)
	}
}

func checkRecent(tx *bolt.Tx, recent *recentIndex) error {
	got, horizon, loaded, err := recent.recentEntries()
	if err != nil {
		return fmt.Errorf("recent index: %w", err)
	}
	if !loaded {
		if len(got) > 0 {
			return fmt.Errorf("recent index not loaded but holds %d entries", len(got))
		}
		return nil
	}
	want := map[string]bool{}
	err = tx.Bucket(bucketItems).ForEach(func(k, v []byte) error {
		it, err := decodeItem(v)
		if err != nil {
			return err
		}
		if timeKeyNum(it.Published) >= horizon {
			for _, e := range recent.recentEntryKeys(k, &it) {
				want[e] = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !maps.Equal(got, want) {
		var missing, stale []string
		for k := range want {
			if !got[k] {
				missing = append(missing, fmt.Sprintf("%q", k))
			}
		}
		for k := range got {
			if !want[k] {
				stale = append(stale, fmt.Sprintf("%q", k))
			}
		}
		return fmt.Errorf("recent index: missing %v, stale %v", missing, stale)
	}
	return nil
}

func checkStoreIndexes(tx *bolt.Tx) error {
	wantPub := map[string]string{} // key → value
	wantTopic := map[string]map[string]bool{}
	wantCount := map[string]int{}
	wantLinks := map[string]bool{}
	stories := map[string]*storyRecord{}
	err := tx.Bucket(bucketItems).ForEach(func(k, v []byte) error {
		it, err := decodeItem(v)
		if err != nil {
			return err
		}
		if string(k) != string(itemKey(it.Source, it.ID)) {
			return fmt.Errorf("item %q stored under %q", it.ID, k)
		}
		if it.StoryID == "" {
			return fmt.Errorf("item %q has no story", it.ID)
		}
		wantPub[string(publishedKey(it.Published, it.FirstSeen, k))] = string(timeKeyBytes(it.Published))
		if lk := linkIndexKey(&it, k); lk != nil {
			wantLinks[string(lk)] = true
		}
		if stories[it.StoryID] == nil {
			stories[it.StoryID] = &storyRecord{}
		}
		stories[it.StoryID].setMember(&it)
		wantCount[it.Source]++
		return nil
	})
	if err != nil {
		return err
	}
	gotStories := 0
	absorbed := map[string]string{} // absorbed story ID → the record listing it
	seqs := map[string]uint64{}     // story ID → its sequence number
	lags := map[string]uint64{}     // story ID → its KeyLag
	numbered := map[uint64]string{} // sequence number → story ID
	err = tx.Bucket(bucketStories).ForEach(func(k, v []byte) error {
		gotStories++
		r, err := decodeStory(v)
		if err != nil {
			return err
		}
		if r.Seq == 0 {
			return fmt.Errorf("story %q has no sequence number", k)
		}
		if prev, ok := numbered[r.Seq]; ok {
			return fmt.Errorf("stories %q and %q both numbered %d", prev, k, r.Seq)
		}
		numbered[r.Seq], seqs[string(k)] = string(k), r.Seq
		if r.KeyLag > maxKeyLag {
			return fmt.Errorf("story %q has a key lag of %d days", k, r.KeyLag)
		}
		lags[string(k)] = r.KeyLag
		for _, a := range r.Absorbed {
			if prev, ok := absorbed[a]; ok {
				return fmt.Errorf("stories %q and %q both absorbed %q", prev, k, a)
			}
			absorbed[a] = string(k)
		}
		want := stories[string(k)]
		if want == nil {
			return fmt.Errorf("story %q has no items", k)
		}
		if !reflect.DeepEqual(normalizeStory(r), normalizeStory(want)) {
			return fmt.Errorf("story %q = %+v, items say %+v", k, r, want)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if gotStories != len(stories) {
		return fmt.Errorf("%d stories stored, items name %d", gotStories, len(stories))
	}
	// Aliases: exactly the absorbed ids the records list, each naming the
	// record that lists it, none a live story.
	gotAliases := map[string]string{}
	err = tx.Bucket(bucketStoryAlias).ForEach(func(k, v []byte) error {
		if stories[string(k)] != nil {
			return fmt.Errorf("alias %q is a live story", k)
		}
		gotAliases[string(k)] = string(v)
		return nil
	})
	if err != nil {
		return err
	}
	if !maps.Equal(gotAliases, absorbed) {
		return fmt.Errorf("aliases %v, story records say %v", gotAliases, absorbed)
	}
	wantOrder := map[string]string{} // story order index key → its value
	for id, r := range stories {
		pub, _, topics := r.derived()
		// The key day is the stored one: the items do not tell it.
		key := string(topicKey((&storyRecord{KeyLag: lags[id]}).keyDay(pub), seqs[id]))
		if len(topics) > 0 {
			wantOrder[string(storyOrderKey(seqs[id]))] = string(storyOrderValue(pub, id))
		}
		for _, t := range topics {
			if wantTopic[t] == nil {
				wantTopic[t] = map[string]bool{}
			}
			wantTopic[t][key] = true
		}
	}
	sameKeys := func(name string, b *bolt.Bucket, want map[string]bool) error {
		got := map[string]bool{}
		if b != nil {
			_ = b.ForEach(func(k, _ []byte) error { got[string(k)] = true; return nil })
		}
		if want == nil {
			want = map[string]bool{}
		}
		if !maps.Equal(got, want) {
			return fmt.Errorf("%s index has %d keys %q, want %d %q", name, len(got), slices.Sorted(maps.Keys(got)), len(want), slices.Sorted(maps.Keys(want)))
		}
		return nil
	}
	gotPub := map[string]string{}
	_ = tx.Bucket(bucketPublished).ForEach(func(k, v []byte) error { gotPub[string(k)] = string(v); return nil })
	if !maps.Equal(gotPub, wantPub) {
		return fmt.Errorf("published index has %d entries %q, want %d %q", len(gotPub), gotPub, len(wantPub), wantPub)
	}
	if err := sameKeys("story_link", tx.Bucket(bucketStoryLink), wantLinks); err != nil {
		return err
	}
	topics := tx.Bucket(bucketTopics)
	err = topics.ForEachBucket(func(k []byte) error {
		if _, ok := wantTopic[string(k)]; !ok {
			wantTopic[string(k)] = map[string]bool{}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for name, want := range wantTopic {
		tb := topics.Bucket([]byte(name))
		if err := sameKeys("topic "+name, tb, want); err != nil {
			return err
		}
		if tb == nil {
			continue
		}
		err := tb.ForEach(func(k, v []byte) error {
			if len(v) != 0 {
				return fmt.Errorf("topic %s index: %q holds %x, want nothing", name, k, v)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	gotOrder := map[string]string{}
	_ = tx.Bucket(bucketStoryOrder).ForEach(func(k, v []byte) error { gotOrder[string(k)] = string(v); return nil })
	if !maps.Equal(gotOrder, wantOrder) {
		return fmt.Errorf("story order index has %d entries %q, want %d %q", len(gotOrder), gotOrder, len(wantOrder), wantOrder)
	}
	gotTopicCount := map[string]int{}
	err = tx.Bucket(bucketTopicCount).ForEach(func(k, _ []byte) error { gotTopicCount[string(k)] = topicCount(tx, string(k)); return nil })
	if err != nil {
		return err
	}
	wantTopicCount := map[string]int{}
	for name, want := range wantTopic {
		if len(want) > 0 {
			wantTopicCount[name] = len(want)
		}
	}
	if !maps.Equal(gotTopicCount, wantTopicCount) {
		return fmt.Errorf("topic counts = %v, want %v", gotTopicCount, wantTopicCount)
	}
	gotCount := map[string]int{}
	err = tx.Bucket(bucketCounts).ForEach(func(k, _ []byte) error { gotCount[string(k)] = getCount(tx, string(k)); return nil })
	if err != nil {
		return err
	}
	if !maps.Equal(gotCount, wantCount) {
		return fmt.Errorf("counts = %v, want %v", gotCount, wantCount)
	}
	return tx.Bucket(bucketTombstones).ForEach(func(k, v []byte) error {
		if len(v) != timeKeyLen {
			return fmt.Errorf("tombstone %q value %x", k, v)
		}
		return nil
	})
}

// normalizeStory makes story records comparable: times as instants,
// empty topic lists nil.
func normalizeStory(r *storyRecord) []storyMember {
	out := make([]storyMember, len(r.Members))
	for i, m := range r.Members {
		m.Published, m.Updated = m.Published.UTC(), m.Updated.UTC()
		m.Topics = normalizeTopics(m.Topics)
		out[i] = m
	}
	return out
}

// reconcileAt behaves like the pipeline's Reconcile with a fixed clock: a
// new item is first seen now and dated now if undated; a stored one keeps
// its ID, FirstSeen and Published (when the feed gives none) and is
// rewritten only when its hash, topics or date changed.
func reconcileAt(now time.Time) func(stored, in *aggregator.Item) bool {
	return func(stored, in *aggregator.Item) bool {
		if stored == nil {
			in.FirstSeen = now
			if in.Published.IsZero() {
				in.Published = now
			}
			if in.Updated.IsZero() {
				in.Updated = in.Published
			}
			return true
		}
		in.ID = stored.ID
		in.FirstSeen = stored.FirstSeen
		if in.Published.IsZero() {
			in.Published = stored.Published
		}
		if in.Hash == stored.Hash && in.Published.Equal(stored.Published) &&
			slices.Equal(normalizeTopics(in.Topics), stored.Topics) {
			return false
		}
		in.Updated = now
		return true
	}
}

func mkItem(id string, pub time.Time, hash string, topics ...string) aggregator.Item {
	return aggregator.Item{
		ID: id, Source: "src", Identity: "guid-" + id, Link: "https://example.org/" + id,
		Title: "Title " + id, Hash: hash, Published: pub, Topics: topics,
	}
}

func feed(source string, items ...aggregator.Item) aggregator.FeedUpdate {
	for i := range items {
		items[i].Source = source
	}
	return aggregator.FeedUpdate{
		Source:    source,
		State:     aggregator.SourceState{Source: source, ETag: `"v1"`, LastPolled: t0, LastStatus: 200, ItemCount: 999},
		Items:     items,
		Reconcile: reconcileAt(t0),
	}
}

// keyCounts counts the keys of the retention index and of every topic index.
func keyCounts(t testing.TB, db *DB) (published int, topics map[string]int) {
	t.Helper()
	topics = map[string]int{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		published = tx.Bucket(bucketPublished).Stats().KeyN
		return tx.Bucket(bucketTopics).ForEachBucket(func(k []byte) error {
			topics[string(k)] = tx.Bucket(bucketTopics).Bucket(k).Stats().KeyN
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return published, topics
}

func ids(items []aggregator.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// storyIDs lists the ids of stories.
func storyIDs(stories []aggregator.Story) []string {
	out := make([]string, len(stories))
	for i, s := range stories {
		out[i] = s.ID
	}
	return out
}

// topicStories is TopicStories failing the test on error.
func topicStories(t testing.TB, db *DB, topic string, limit int) []aggregator.Story {
	t.Helper()
	s, err := db.TopicStories(context.Background(), topic, limit)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// recentEntries lists the index's entries as strings, for tests to
// compare with what the stored items imply: "t" + the title key's 8-byte
// hash or "b" + 8-byte band, then the time key and the item key.
// all calls fn with every key and entry.
func (m *recentLists) all(fn func(k uint64, e recentEntry)) {
	for _, s := range m.keys.slots {
		switch {
		case s.empty():
		case s.ref.isList():
			m.lists[s.ref.list()].all(func(e recentEntry) { fn(s.key, e) })
		default:
			fn(s.key, s.ref.entry())
		}
	}
}

// check reports a key held twice or out of its probe, a count of keys
// that is not the table's, a list of fewer than two entries or whose
// start its key misstates, a list that
// no key or two keys name, or a free list that is not empty.
func (m *recentLists) check() error {
	t := &m.keys
	named := make([]int, len(m.lists))
	keys := map[uint64]bool{}
	n := 0
	for i, s := range t.slots {
		if s.empty() {
			continue
		}
		n++
		if keys[s.key] {
			return fmt.Errorf("key %v is held twice", s.key)
		}
		keys[s.key] = true
		// Every slot from the key's home to it is taken, or a look-up
		// would stop short of it.
		for j := t.home(s.key); j != i; j = t.next(j) {
			if t.slots[j].empty() {
				return fmt.Errorf("key %v in slot %d is cut off from its home by empty slot %d", s.key, i, j)
			}
		}
		if !s.ref.isList() {
			continue
		}
		li := s.ref.list()
		if int(li) >= len(m.lists) {
			return fmt.Errorf("key %v names list %d of %d", s.key, li, len(m.lists))
		}
		named[li]++
		entries := 0
		m.lists[li].all(func(recentEntry) { entries++ })
		if entries < 2 {
			return fmt.Errorf("key %v has a list of %d entries", s.key, entries)
		}
		if first := m.lists[li].chunks[0][0].coarse; s.ref.coarse != first {
			return fmt.Errorf("key %v says its list starts at %d, and it starts at %d", s.key, s.ref.coarse, first)
		}
	}
	if n != t.n {
		return fmt.Errorf("the key table counts %d keys and holds %d", t.n, n)
	}
	free := map[uint32]bool{}
	for _, li := range m.free {
		if free[li] || !m.lists[li].empty() {
			return fmt.Errorf("free list %d is free twice or not empty", li)
		}
		free[li] = true
	}
	for li, c := range named {
		if c != 1 && !free[uint32(li)] {
			return fmt.Errorf("list %d is named by %d keys", li, c)
		}
	}
	return nil
}

func (ix *recentIndex) recentEntries() (entries map[string]bool, horizon uint64, loaded bool, err error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	entries = map[string]bool{}
	refs := make([]int32, len(ix.items))
	var tk [timeKeyLen]byte
	entry := func(prefix string, e recentEntry) {
		refs[e.slot]++
		it := ix.items[e.slot]
		if e.coarse != coarseTime(it.published) {
			err = fmt.Errorf("an entry says %d of an item published %d", e.coarse, it.published)
		}
		binary.BigEndian.PutUint64(tk[:], it.published)
		entries[prefix+string(tk[:])+it.key] = true
	}
	list := func(prefix string, k uint64, e recentEntry) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], k)
		entry(prefix+string(b[:]), e)
	}
	ix.titles.all(func(h uint64, e recentEntry) { list("t", h, e) })
	ix.bands.all(func(band uint64, e recentEntry) { list("b", band, e) })
	if err := ix.titles.check(); err != nil {
		return nil, 0, false, fmt.Errorf("title keys: %w", err)
	}
	if err := ix.bands.check(); err != nil {
		return nil, 0, false, fmt.Errorf("bands: %w", err)
	}
	// Every taken slot is named by as many entries as it counts, and
	// every other slot is on the free list, once.
	free := map[uint32]bool{}
	for _, slot := range ix.free {
		if free[slot] || ix.items[slot] != (recentItem{}) {
			return nil, 0, false, fmt.Errorf("slot %d is free twice or holds %+v", slot, ix.items[slot])
		}
		free[slot] = true
	}
	for slot, it := range ix.items {
		if !free[uint32(slot)] && (it.key == "" || it.refs == 0 || it.refs != refs[slot]) {
			return nil, 0, false, fmt.Errorf("slot %d holds %q counting %d entries, is named by %d and is not free", slot, it.key, it.refs, refs[slot])
		}
	}
	return entries, ix.horizon, ix.loaded, err
}

// recentEntryKeys are the entries ix.recentEntries would list for it
// stored under key.
func (ix *recentIndex) recentEntryKeys(key []byte, it *aggregator.Item) []string {
	tk := timeKey(it.Published)
	var out []string
	entry := func(prefix string, k uint64) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], k)
		out = append(out, prefix+string(b[:])+string(tk[:])+string(key))
	}
	if t := it.Keys.Title; indexable(t) {
		entry("t", ix.titleHash(t))
	}
	for _, band := range it.Keys.Bands {
		entry("b", band)
	}
	return out
}

// unnumberStories turns the stories and topic indexes of a current store
// into those of schema 3: story records end after their absorbed list, and
// topic indexes are keyed by the time key of the story's Published and its
// ID, with empty values, and no story has been numbered.
func unnumberStories(tx *bolt.Tx) error {
	type story struct {
		id  []byte
		rec []byte
	}
	var all []story
	index := map[string][]indexEntry{}
	err := tx.Bucket(bucketStories).ForEach(func(k, v []byte) error {
		r, err := decodeStory(v)
		if err != nil {
			return err
		}
		r.Seq, r.KeyLag = 0, 0
		b, err := encodeStory(r)
		if err != nil {
			return err
		}
		pub, _, topics := r.derived()
		all = append(all, story{bytes.Clone(k), b[:len(b)-1]}) // drop the uvarint 0
		for _, t := range topics {
			index[t] = append(index[t], indexEntry{indexKey(pub, k), nil})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketStories).SetSequence(0); err != nil {
		return err
	}
	for _, s := range all {
		if err := tx.Bucket(bucketStories).Put(s.id, s.rec); err != nil {
			return err
		}
	}
	return replaceTopicIndexes(tx, index)
}

// unorderStories turns the topic indexes of a current store into those
// of schema 5: keyed by the day of the story's Published, its number and
// its ID, with the time key of its Published as the value, and no story
// order index.
func unorderStories(tx *bolt.Tx) error {
	index := map[string][]indexEntry{}
	err := tx.Bucket(bucketStories).ForEach(func(k, v []byte) error {
		r, err := decodeStory(v)
		if err != nil {
			return err
		}
		pub, _, topics := r.derived()
		day := timeKey(pub.Truncate(topicDay))
		key := binary.BigEndian.AppendUint64(day[:], r.Seq)
		key = append(key, k...)
		for _, t := range topics {
			index[t] = append(index[t], indexEntry{key, timeKeyBytes(pub)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return replaceTopicIndexes(tx, index)
}

// indexEntry is an entry of a topic index as an older layout had it.
type indexEntry struct{ key, value []byte }

// replaceTopicIndexes drops the topic indexes and the story order index,
// and writes index (topic → its entries) as the topic indexes.
func replaceTopicIndexes(tx *bolt.Tx, index map[string][]indexEntry) error {
	if _, err := dropTopicIndexes(tx); err != nil {
		return err
	}
	if err := tx.DeleteBucket(bucketStoryOrder); err != nil {
		return err
	}
	for t, entries := range index {
		tb, err := tx.Bucket(bucketTopics).CreateBucket([]byte(t))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := tb.Put(e.key, e.value); err != nil {
				return err
			}
		}
	}
	return nil
}

// indexKey is the key of older layouts' indexes, which tests build: the
// retention index up to schema 4 and the topic indexes up to schema 3 —
// the time key of Published, then the item key (or story ID).
func indexKey(published time.Time, ikey []byte) []byte {
	tk := timeKey(published)
	return append(tk[:], ikey...)
}

// rewriteAs runs change in a write transaction of db, records the store as
// schema version and closes it: the store is then as an older tributary
// left it, for a test of its migration.
func rewriteAs(t *testing.T, db *DB, version uint32, change func(tx *bolt.Tx) error) {
	t.Helper()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		if err := change(tx); err != nil {
			return err
		}
		return putSchema(tx, version)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
