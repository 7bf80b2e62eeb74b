package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/tributary-news/tributary/aggregator"
	bolt "go.etcd.io/bbolt"
)

// TopicItemCount returns how many stories topic has (what its feed would
// list without a limit); 0 for an unknown topic. It reads a stored count;
// a database of an older schema opened read-only is counted by walking
// the topic's index.
func (db *DB) TopicItemCount(ctx context.Context, topic string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("storage: topic item count %q: %w", topic, err)
	}
	n := 0
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if counts := tx.Bucket(bucketTopicCount); counts != nil {
			n = topicCount(tx, topic)
		} else if tb := topicBucket(tx, topic); tb != nil {
			n = tb.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("storage: topic item count %q: %w", topic, err)
	}
	return n, nil
}

func topicCount(tx *bolt.Tx, topic string) int {
	v := tx.Bucket(bucketTopicCount).Get([]byte(topic))
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

func setTopicCount(tx *bolt.Tx, topic string, n int) error {
	counts := tx.Bucket(bucketTopicCount)
	if n <= 0 {
		return counts.Delete([]byte(topic))
	}
	return counts.Put([]byte(topic), encodeUint64(uint64(n)))
}

// topicChanges records the topics a write touched, each with the change
// to its story count, which saveCounts stores once per topic.
type topicChanges map[string]int

// touch records that topic's feed changed.
func (c topicChanges) touch(topic string) {
	c[topic] += 0
}

// saveCounts adds each topic's change to its stored count.
func (c topicChanges) saveCounts(tx *bolt.Tx) error {
	for topic, delta := range c {
		if delta != 0 {
			if err := setTopicCount(tx, topic, topicCount(tx, topic)+delta); err != nil {
				return err
			}
		}
	}
	return nil
}

// topicIndexFill is how full a split leaves the pages of a topic index.
// New stories' keys come last in their day (see topicKey): a page split
// at bbolt's default of half would stay half empty, as nothing is inserted
// before its end again.
const topicIndexFill = 0.9

// topicIndexPut adds key, which must not be there, to topic's index
// (creating it), counting it in changed.
func topicIndexPut(tx *bolt.Tx, topic string, key []byte, changed topicChanges) error {
	tb, err := tx.Bucket(bucketTopics).CreateBucketIfNotExists([]byte(topic))
	if err != nil {
		return fmt.Errorf("topic %q: %w", topic, err)
	}
	tb.FillPercent = topicIndexFill
	if err := tb.Put(key, nil); err != nil {
		return err
	}
	changed[topic]++
	return nil
}

// writeTopicIndex creates topic's index, which must not exist, with keys
// (sorted here, so appended: pages fill densely), and stores its count.
func writeTopicIndex(tx *bolt.Tx, topic string, keys [][]byte) error {
	tb, err := tx.Bucket(bucketTopics).CreateBucket([]byte(topic))
	if err != nil {
		return fmt.Errorf("topic %q: %w", topic, err)
	}
	tb.FillPercent = topicIndexFill
	slices.SortFunc(keys, bytes.Compare)
	for _, k := range keys {
		if err := tb.Put(k, nil); err != nil {
			return err
		}
	}
	return setTopicCount(tx, topic, len(keys))
}

// topicIndexDelete removes key, which must be there, from topic's index,
// uncounting it in changed.
func topicIndexDelete(tx *bolt.Tx, topic string, key []byte, changed topicChanges) error {
	tb := topicBucket(tx, topic)
	if tb == nil {
		return nil
	}
	if err := tb.Delete(key); err != nil {
		return err
	}
	changed[topic]--
	return nil
}

func topicBucket(tx *bolt.Tx, topic string) *bolt.Bucket {
	if topic == "" {
		return nil
	}
	return tx.Bucket(bucketTopics).Bucket([]byte(topic))
}

// SyncTopics makes stored memberships match topics and sources in one
// write transaction: a topic whose fingerprint is new or changed gets its
// index rebuilt from every stored item (a story is in a topic when any
// member is), every topic does when a source already described is now
// described otherwise, and a topic no longer configured loses its index,
// fingerprint and place in items' Topics lists. A source never described
// before only has its description stored. It returns the names rebuilt
// or dropped, sorted.
func (db *DB) SyncTopics(ctx context.Context, topics []aggregator.TopicMembership, sources []aggregator.SourceMembership) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: sync topics: %w", err)
	}
	// The usual start: every topic in sync. Finding that out needs only
	// a read transaction; a write would rewrite bbolt's freelist, which
	// grows with the store, and sync.
	var pending bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		u, err := unsyncedTopics(tx, topics, sources)
		pending = u.pending()
		return err
	})
	if err != nil || !pending {
		if err != nil {
			return nil, fmt.Errorf("storage: sync topics: %w", err)
		}
		return nil, nil
	}
	var names []string
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		// Rematching rewrites items outside the recent index's
		// transactions: the merge candidates' cached heads go.
		db.recent.forgetHeads()
		var err error
		names, err = syncTopics(ctx, tx, topics, sources)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: sync topics: %w", err)
	}
	if len(names) > 0 {
		db.log.Debug("storage: topics synced", "topics", names)
	}
	return names, nil
}

// unsynced is what SyncTopics has to do.
type unsynced struct {
	// rebuild are the configured topics to rematch: those whose
	// fingerprint is new or changed, or all of them when a known source's
	// description changed.
	rebuild []aggregator.TopicMembership
	// drop are the stored topics no longer configured.
	drop map[string]struct{}
	// describe are the configured sources whose description is to be
	// stored: new ones and changed ones.
	describe []aggregator.SourceMembership
}

func (u unsynced) pending() bool {
	return len(u.rebuild) > 0 || len(u.drop) > 0 || len(u.describe) > 0
}

// unsyncedTopics finds what SyncTopics has to do. It only reads.
//
// A source's description is kept after the source leaves the config: its
// items stay (until retention prunes them), in the topics they were in,
// and if it comes back described otherwise they are rematched.
func unsyncedTopics(tx *bolt.Tx, topics []aggregator.TopicMembership, sources []aggregator.SourceMembership) (u unsynced, err error) {
	configured := make(map[string]bool, len(topics))
	for _, t := range topics {
		if t.Name == "" {
			return unsynced{}, errors.New("topic with empty name")
		}
		if t.Match == nil {
			return unsynced{}, fmt.Errorf("topic %q: nil Match", t.Name)
		}
		if configured[t.Name] {
			return unsynced{}, fmt.Errorf("topic %q configured twice", t.Name)
		}
		configured[t.Name] = true
	}

	sourceChanged := false
	descs := tx.Bucket(bucketSourceDesc) // nil in a store opened read-only before it had one
	for _, s := range sources {
		if s.Name == "" {
			return unsynced{}, errors.New("source with empty name")
		}
		var d []byte
		if descs != nil {
			d = descs.Get([]byte(s.Name))
		}
		switch {
		case d == nil:
			u.describe = append(u.describe, s)
		case string(d) != s.Description:
			u.describe = append(u.describe, s)
			sourceChanged = true
		}
	}
	fps := tx.Bucket(bucketTopicFP)
	for _, t := range topics {
		if fp := fps.Get([]byte(t.Name)); sourceChanged || fp == nil || string(fp) != t.Fingerprint {
			u.rebuild = append(u.rebuild, t)
		}
	}
	// A topic is known by its fingerprint or by an index bucket (SaveFeed
	// creates one for any topic an item names).
	u.drop = map[string]struct{}{}
	collect := func(k, _ []byte) error {
		if !configured[string(k)] {
			u.drop[string(k)] = struct{}{}
		}
		return nil
	}
	if err := fps.ForEach(collect); err != nil {
		return unsynced{}, err
	}
	if err := tx.Bucket(bucketTopics).ForEachBucket(func(k []byte) error { return collect(k, nil) }); err != nil {
		return unsynced{}, err
	}
	return u, nil
}

func syncTopics(ctx context.Context, tx *bolt.Tx, topics []aggregator.TopicMembership, sources []aggregator.SourceMembership) ([]string, error) {
	u, err := unsyncedTopics(tx, topics, sources)
	if err != nil {
		return nil, err
	}
	descs := tx.Bucket(bucketSourceDesc)
	for _, s := range u.describe {
		if err := descs.Put([]byte(s.Name), []byte(s.Description)); err != nil {
			return nil, err
		}
	}
	rebuild, drop := u.rebuild, u.drop
	if len(rebuild) == 0 && len(drop) == 0 {
		return nil, nil
	}
	fps := tx.Bucket(bucketTopicFP)
	topicsB := tx.Bucket(bucketTopics)

	// affected topics are cleared from every item and index, then the
	// rebuilt ones are matched afresh.
	affected := map[string]struct{}{}
	for name := range drop {
		affected[name] = struct{}{}
		if err := fps.Delete([]byte(name)); err != nil {
			return nil, err
		}
	}
	for _, t := range rebuild {
		affected[t.Name] = struct{}{}
		if err := fps.Put([]byte(t.Name), []byte(t.Fingerprint)); err != nil {
			return nil, err
		}
	}
	for name := range affected {
		if err := topicsB.DeleteBucket([]byte(name)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return nil, fmt.Errorf("topic %q: %w", name, err)
		}
		if err := setTopicCount(tx, name, 0); err != nil {
			return nil, err
		}
	}

	// Collect, then write: writing to a bucket under a cursor is unsafe.
	type rewrite struct {
		key []byte
		it  aggregator.Item
	}
	var rewrites []rewrite
	c := tx.Bucket(bucketItems).Cursor()
	n := 0
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		it, err := decodeItem(v)
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", k, err)
		}
		var next []string
		for _, t := range it.Topics {
			if _, ok := affected[t]; !ok {
				next = append(next, t)
			}
		}
		for _, t := range rebuild {
			if t.Match(&it) {
				next = append(next, t.Name)
			}
		}
		next = normalizeTopics(next)
		if slices.Equal(next, it.Topics) {
			continue
		}
		it.Topics = next
		rewrites = append(rewrites, rewrite{bytes.Clone(k), it})
	}
	// Stories whose members' topics changed, with the new topics.
	storyTopics := map[string]map[string][]string{} // story ID → item key → topics
	for _, r := range rewrites {
		b, err := encodeItem(&r.it)
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", r.key, err)
		}
		if err := tx.Bucket(bucketItems).Put(r.key, b); err != nil {
			return nil, err
		}
		if storyTopics[r.it.StoryID] == nil {
			storyTopics[r.it.StoryID] = map[string][]string{}
		}
		storyTopics[r.it.StoryID][string(r.key)] = r.it.Topics
	}

	type storyWrite struct {
		id  []byte
		val []byte
	}
	var storyWrites []storyWrite
	index := make(map[string][][]byte, len(rebuild)) // rebuilt topic → its index keys
	var order []orderEntry                           // of every story in a topic, rebuilt or not
	sc := tx.Bucket(bucketStories).Cursor()
	for k, v := sc.First(); k != nil; k, v = sc.Next() {
		r, err := decodeStory(v)
		if err != nil {
			return nil, fmt.Errorf("story %q: %w", k, err)
		}
		if upd := storyTopics[string(k)]; upd != nil {
			for i := range r.Members {
				if t, ok := upd[string(itemKey(r.Members[i].Source, r.Members[i].ID))]; ok {
					r.Members[i].Topics = t
				}
			}
			b, err := encodeStory(r)
			if err != nil {
				return nil, fmt.Errorf("story %q: %w", k, err)
			}
			storyWrites = append(storyWrites, storyWrite{bytes.Clone(k), b})
		}
		if r.Seq == 0 {
			// Every story is numbered when written, and schema 4's
			// migration numbered those stored before.
			return nil, fmt.Errorf("story %q has no sequence number", k)
		}
		pub, _, topics := r.derived()
		if len(topics) > 0 {
			order = append(order, orderEntry{r.Seq, storyOrderValue(pub, string(k))})
		}
		for _, t := range rebuild {
			if slices.Contains(topics, t.Name) {
				index[t.Name] = append(index[t.Name], topicKey(r.keyDay(pub), r.Seq))
			}
		}
	}
	for _, w := range storyWrites {
		if err := tx.Bucket(bucketStories).Put(w.id, w.val); err != nil {
			return nil, err
		}
	}
	// A story in a topic has an order entry, one in none has not: the
	// order index is rebuilt for the stories' new topics. The cursor
	// walked stories by ID; the entries go in by number, appended.
	if err := writeStoryOrder(tx, order); err != nil {
		return nil, err
	}
	for _, t := range rebuild {
		if err := writeTopicIndex(tx, t.Name, index[t.Name]); err != nil {
			return nil, err
		}
	}
	return sortedKeys(affected), nil
}
