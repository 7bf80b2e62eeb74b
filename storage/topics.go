package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/tributary-news/tributary/aggregator"
	bolt "go.etcd.io/bbolt"
)

// TopicItems returns up to limit items of topic (all when limit <= 0), newest
// Published first; ties go to the greater item key. It walks the topic's
// index backwards, so the cost is proportional to limit, not to the store.
// An unknown topic has no items.
func (db *DB) TopicItems(ctx context.Context, topic string, limit int) ([]aggregator.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: topic items %q: %w", topic, err)
	}
	out := []aggregator.Item{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		tb := topicBucket(tx, topic)
		if tb == nil {
			return nil
		}
		items := tx.Bucket(bucketItems)
		c := tb.Cursor()
		for k, _ := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Prev() {
			if len(out)%256 == 255 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if len(k) <= timeKeyLen {
				return fmt.Errorf("malformed index key %x", k)
			}
			v := items.Get(k[timeKeyLen:])
			if v == nil {
				return fmt.Errorf("index names missing item %q", k[timeKeyLen:])
			}
			it, err := decodeItem(v)
			if err != nil {
				return fmt.Errorf("item %q: %w", k[timeKeyLen:], err)
			}
			out = append(out, it)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: topic items %q: %w", topic, err)
	}
	return out, nil
}

// TopicItemCount returns how many items topic has; 0 for an unknown topic.
func (db *DB) TopicItemCount(ctx context.Context, topic string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("storage: topic item count %q: %w", topic, err)
	}
	n := 0
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if tb := topicBucket(tx, topic); tb != nil {
			n = tb.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("storage: topic item count %q: %w", topic, err)
	}
	return n, nil
}

func topicBucket(tx *bolt.Tx, topic string) *bolt.Bucket {
	if topic == "" {
		return nil
	}
	return tx.Bucket(bucketTopics).Bucket([]byte(topic))
}

// SyncTopics makes stored memberships match topics in one write
// transaction: a topic whose fingerprint is new or changed gets its index
// rebuilt from every stored item, and a topic no longer configured loses its
// index, fingerprint and place in items' Topics lists. It returns the names
// rebuilt or dropped, sorted.
func (db *DB) SyncTopics(ctx context.Context, topics []aggregator.TopicMembership) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: sync topics: %w", err)
	}
	var names []string
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		var err error
		names, err = syncTopics(ctx, tx, topics)
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

func syncTopics(ctx context.Context, tx *bolt.Tx, topics []aggregator.TopicMembership) ([]string, error) {
	configured := make(map[string]bool, len(topics))
	for _, t := range topics {
		if t.Name == "" {
			return nil, errors.New("topic with empty name")
		}
		if t.Match == nil {
			return nil, fmt.Errorf("topic %q: nil Match", t.Name)
		}
		if configured[t.Name] {
			return nil, fmt.Errorf("topic %q configured twice", t.Name)
		}
		configured[t.Name] = true
	}

	fps := tx.Bucket(bucketTopicFP)
	topicsB := tx.Bucket(bucketTopics)
	var rebuild []aggregator.TopicMembership
	for _, t := range topics {
		if fp := fps.Get([]byte(t.Name)); fp == nil || string(fp) != t.Fingerprint {
			rebuild = append(rebuild, t)
		}
	}
	// A topic is known by its fingerprint or by an index bucket (SaveFeed
	// creates one for any topic an item names).
	drop := map[string]struct{}{}
	collect := func(k, _ []byte) error {
		if !configured[string(k)] {
			drop[string(k)] = struct{}{}
		}
		return nil
	}
	if err := fps.ForEach(collect); err != nil {
		return nil, err
	}
	if err := topicsB.ForEachBucket(func(k []byte) error { return collect(k, nil) }); err != nil {
		return nil, err
	}
	if len(rebuild) == 0 && len(drop) == 0 {
		return nil, nil
	}

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
	}

	// Collect, then write: writing to a bucket under a cursor is unsafe.
	type rewrite struct{ key, val []byte }
	var rewrites []rewrite
	index := make([][][]byte, len(rebuild)) // per rebuilt topic: its index keys
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
		for i, t := range rebuild {
			if t.Match(&it) {
				next = append(next, t.Name)
				index[i] = append(index[i], indexKey(it.Published, k))
			}
		}
		next = normalizeTopics(next)
		if slices.Equal(next, it.Topics) {
			continue
		}
		it.Topics = next
		b, err := encodeItem(&it)
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", k, err)
		}
		rewrites = append(rewrites, rewrite{bytes.Clone(k), b})
	}
	for _, r := range rewrites {
		if err := tx.Bucket(bucketItems).Put(r.key, r.val); err != nil {
			return nil, err
		}
	}
	for i, t := range rebuild {
		tb, err := topicsB.CreateBucket([]byte(t.Name))
		if err != nil {
			return nil, fmt.Errorf("topic %q: %w", t.Name, err)
		}
		// Keys arrive in item order; sorted appends fill pages densely.
		slices.SortFunc(index[i], bytes.Compare)
		tb.FillPercent = 0.9
		for _, k := range index[i] {
			if err := tb.Put(k, nil); err != nil {
				return nil, err
			}
		}
	}
	return sortedKeys(affected), nil
}
