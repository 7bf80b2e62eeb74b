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

// SaveFeed stores a polled feed's items and the source's state in one write
// transaction: if any item fails, nothing of the feed is stored. It returns
// once the transaction is committed and synced to disk.
//
// Feeds saved concurrently share a transaction (see groupCommit): if
// one feed fails, the others are saved again without it, so the work may
// run more than once; it starts from update each time.
func (db *DB) SaveFeed(ctx context.Context, update aggregator.FeedUpdate) (aggregator.SaveResult, error) {
	if err := ctx.Err(); err != nil {
		return aggregator.SaveResult{}, fmt.Errorf("storage: save feed %q: %w", update.Source, err)
	}
	var res aggregator.SaveResult
	err := db.commits.update(func(tx *bolt.Tx, recent *recentTx) error {
		res = aggregator.SaveResult{}
		return saveFeed(ctx, tx, recent, &update, &res)
	})
	if err != nil {
		return aggregator.SaveResult{}, fmt.Errorf("storage: save feed %q: %w", update.Source, err)
	}
	return res, nil
}

func saveFeed(ctx context.Context, tx *bolt.Tx, recent *recentTx, update *aggregator.FeedUpdate, res *aggregator.SaveResult) error {
	if update.Source == "" {
		return errors.New("empty source name")
	}
	if update.Reconcile == nil {
		return errors.New("nil Reconcile")
	}
	items := tx.Bucket(bucketItems)
	tombs := tx.Bucket(bucketTombstones)
	changed := topicChanges{}
	added := 0
	for i := range update.Items {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		// Work on a copy: the caller's slice is left as given, so a retry
		// after an error starts from the same input.
		incoming := update.Items[i]
		if incoming.ID == "" {
			return fmt.Errorf("item %d: empty ID", i)
		}
		if incoming.Source == "" {
			incoming.Source = update.Source
		} else if incoming.Source != update.Source {
			return fmt.Errorf("item %q: source %q in a feed of %q", incoming.ID, incoming.Source, update.Source)
		}
		id := incoming.ID
		key := itemKey(update.Source, id)
		if tombs.Get(key) != nil {
			res.Tombstoned++
			continue
		}
		var stored *aggregator.Item
		if b := items.Get(key); b != nil {
			// Reconciling and re-indexing need no HTML of the old version.
			it, err := decodeItemHead(b)
			if err != nil {
				return fmt.Errorf("item %q: %w", incoming.ID, err)
			}
			stored = &it
		}
		if !update.Reconcile(stored, &incoming) {
			res.Unchanged++
			continue
		}
		if incoming.ID != id || incoming.Source != update.Source {
			return fmt.Errorf("item %q: Reconcile changed its ID or source", id)
		}
		if incoming.Published.IsZero() {
			return fmt.Errorf("item %q: zero Published after Reconcile", incoming.ID)
		}
		if err := cluster(tx, recent, update, stored, &incoming); err != nil {
			return fmt.Errorf("item %q: %w", incoming.ID, err)
		}
		if err := putItem(tx, recent, key, stored, &incoming, changed); err != nil {
			return fmt.Errorf("item %q: %w", incoming.ID, err)
		}
		if len(incoming.MergeStories) > 0 {
			if err := absorbStories(tx, recent, incoming.StoryID, incoming.MergeStories, changed); err != nil {
				return fmt.Errorf("item %q: %w", incoming.ID, err)
			}
		}
		if stored == nil {
			res.New++
			added++
			if incoming.StoryID != incoming.ID {
				res.Merged++ // joined a story founded before it
			}
			res.Merged += len(incoming.MergeStories)
		} else {
			res.Updated++
		}
	}
	if err := addCount(tx, update.Source, added); err != nil {
		return err
	}
	state := update.State
	state.Source = update.Source
	if err := putState(tx, &state); err != nil {
		return err
	}
	if err := changed.saveCounts(tx); err != nil {
		return err
	}
	res.ChangedTopics = sortedKeys(changed)
	return nil
}

// cluster gives an item its story: a stored item keeps the one it has; a
// new one gets the story the update's Cluster hook picks, or one of its
// own without a hook, and the hook may name other stories to merge into
// it (it.MergeStories), which must all be stored.
func cluster(tx *bolt.Tx, recent *recentTx, update *aggregator.FeedUpdate, stored, it *aggregator.Item) error {
	it.MergeStories = nil
	if stored != nil {
		it.StoryID, it.MergedBy = stored.StoryID, stored.MergedBy
	} else {
		it.StoryID, it.MergedBy = "", ""
	}
	if update.Cluster == nil {
		if stored != nil {
			it.Keys, it.Tokens = stored.Keys, stored.Tokens
		} else {
			it.StoryID, it.Keys = it.ID, aggregator.StoryKeys{}
		}
		return nil
	}
	if err := update.Cluster(it, &txLookup{tx: tx, recent: recent}); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	switch {
	case it.StoryID == "":
		return errors.New("cluster: no story id")
	case stored != nil && it.StoryID != stored.StoryID:
		return fmt.Errorf("cluster: story id changed from %q to %q", stored.StoryID, it.StoryID)
	case stored != nil && len(it.MergeStories) > 0:
		return errors.New("cluster: merge stories for a stored item")
	}
	if len(it.MergeStories) == 0 {
		return nil
	}
	if r, err := getStory(tx, it.StoryID); err != nil || r == nil {
		return fmt.Errorf("cluster: merge into story %q that is not stored (%v)", it.StoryID, err)
	}
	seen := map[string]bool{it.StoryID: true}
	for _, id := range it.MergeStories {
		if seen[id] {
			return fmt.Errorf("cluster: story %q named twice", id)
		}
		seen[id] = true
		if r, err := getStory(tx, id); err != nil || r == nil {
			return fmt.Errorf("cluster: merge story %q that is not stored (%v)", id, err)
		}
	}
	return nil
}

// putItem writes it under key and moves its index keys from what stored (the
// previous version, or nil) had to what it has, its story's record and topic
// index entries included. Every topic its story was or is in is recorded in
// changed.
func putItem(tx *bolt.Tx, recent *recentTx, key []byte, stored, it *aggregator.Item, changed topicChanges) error {
	it.Topics = normalizeTopics(it.Topics)
	if slices.Contains(it.Topics, "") {
		return errors.New("empty topic name")
	}
	b, err := encodeItem(it)
	if err != nil {
		return err
	}
	recent.forgetHead(key)
	if err := tx.Bucket(bucketItems).Put(key, b); err != nil {
		return err
	}

	// The entry moves when its day or FirstSeen does, and is rewritten
	// when its time does. Keys and values compare instants, so a
	// Published that only changed zone stays put.
	pub := tx.Bucket(bucketPublished)
	pub.FillPercent = publishedIndexFill
	newKey := publishedKey(it.Published, it.FirstSeen, key)
	write := stored == nil
	if stored != nil {
		if oldKey := publishedKey(stored.Published, stored.FirstSeen, key); !bytes.Equal(oldKey, newKey) {
			if err := pub.Delete(oldKey); err != nil {
				return err
			}
			write = true
		} else {
			write = timeKey(stored.Published) != timeKey(it.Published)
		}
	}
	if write {
		if err := pub.Put(newKey, timeKeyBytes(it.Published)); err != nil {
			return err
		}
	}

	if err := moveStoryKeys(tx, recent, key, stored, it); err != nil {
		return err
	}
	old, err := getStory(tx, it.StoryID)
	if err != nil {
		return err
	}
	next := old.clone()
	next.setMember(it)
	return putStory(tx, it.StoryID, old, next, changed)
}

// deleteItem removes the item under key, its index keys and its place in
// its story (the story goes with its last member), recording the story's
// topics in changed. It reports whether there was an item.
func deleteItem(tx *bolt.Tx, recent *recentTx, key []byte, changed topicChanges) (bool, error) {
	items := tx.Bucket(bucketItems)
	b := items.Get(key)
	if b == nil {
		return false, nil
	}
	it, err := decodeItemHead(b)
	if err != nil {
		return false, err
	}
	if err := tx.Bucket(bucketPublished).Delete(publishedKey(it.Published, it.FirstSeen, key)); err != nil {
		return false, err
	}
	if err := moveStoryKeys(tx, recent, key, &it, nil); err != nil {
		return false, err
	}
	old, err := getStory(tx, it.StoryID)
	if err != nil {
		return false, err
	}
	if old != nil {
		next := old.clone()
		next.removeMember(it.Source, it.ID)
		if err := putStory(tx, it.StoryID, old, next, changed); err != nil {
			return false, err
		}
	}
	recent.forgetHead(key)
	if err := items.Delete(key); err != nil {
		return false, err
	}
	return true, nil
}

// addCount adds delta to a source's stored item count.
func addCount(tx *bolt.Tx, source string, delta int) error {
	if delta == 0 {
		return nil
	}
	counts := tx.Bucket(bucketCounts)
	n := int64(getCount(tx, source)) + int64(delta)
	if n <= 0 {
		return counts.Delete([]byte(source))
	}
	return counts.Put([]byte(source), encodeUint64(uint64(n)))
}

func getCount(tx *bolt.Tx, source string) int {
	v := tx.Bucket(bucketCounts).Get([]byte(source))
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

// normalizeTopics returns topics sorted and without duplicates, so stored
// lists compare and diff simply. A list that already is (as the matcher
// makes them) is returned as it is, not copied: no caller modifies one.
func normalizeTopics(topics []string) []string {
	if len(topics) == 0 {
		return nil
	}
	if isSortedSet(topics) {
		return topics
	}
	out := slices.Clone(topics)
	slices.Sort(out)
	return slices.Compact(out)
}

// isSortedSet reports whether l is sorted without duplicates.
func isSortedSet(l []string) bool {
	for i := 1; i < len(l); i++ {
		if l[i-1] >= l[i] {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Item returns one stored item; the error wraps aggregator.ErrNotFound when
// there is none.
func (db *DB) Item(ctx context.Context, source, id string) (aggregator.Item, error) {
	if err := ctx.Err(); err != nil {
		return aggregator.Item{}, fmt.Errorf("storage: item %q in %q: %w", id, source, err)
	}
	var it aggregator.Item
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems).Get(itemKey(source, id))
		if b == nil {
			return aggregator.ErrNotFound
		}
		var err error
		it, err = decodeItem(b)
		return err
	})
	if err != nil {
		return aggregator.Item{}, fmt.Errorf("storage: item %q in %q: %w", id, source, err)
	}
	return it, nil
}

// Items calls fn for every stored item, in source then ID order, inside one
// read transaction; fn must not write to db (a writer could wait on this
// reader). An error from fn stops the walk and is returned wrapped.
func (db *DB) Items(ctx context.Context, fn func(*aggregator.Item) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: items: %w", err)
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketItems).Cursor()
		n := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if n++; n%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			it, err := decodeItem(v)
			if err != nil {
				return fmt.Errorf("item %q: %w", k, err)
			}
			if err := fn(&it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storage: items: %w", err)
	}
	return nil
}
