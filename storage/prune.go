package storage

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	bolt "go.etcd.io/bbolt"
)

// Prune deletes the items published before cutoff, leaving a tombstone for
// each so a feed still carrying it does not bring it back, and drops the
// tombstones written before cutoff. One write transaction.
func (db *DB) Prune(ctx context.Context, cutoff time.Time) (aggregator.PruneResult, error) {
	if err := ctx.Err(); err != nil {
		return aggregator.PruneResult{}, fmt.Errorf("storage: prune: %w", err)
	}
	var (
		res     aggregator.PruneResult
		dropped int
	)
	err := db.update(func(tx *bolt.Tx, recent *recentTx) error {
		var err error
		// Drop old tombstones first so the ones written below survive even
		// when cutoff is after now.
		if dropped, err = dropTombstones(ctx, tx, cutoff); err != nil {
			return err
		}
		res, err = pruneItems(ctx, tx, recent, cutoff, db.now())
		return err
	})
	if err != nil {
		return aggregator.PruneResult{}, fmt.Errorf("storage: prune: %w", err)
	}
	db.log.Debug("storage: pruned", "cutoff", cutoff, "items", res.Items,
		"tombstones_dropped", dropped, "changed_topics", res.ChangedTopics)
	return res, nil
}

func pruneItems(ctx context.Context, tx *bolt.Tx, recent *recentTx, cutoff, now time.Time) (aggregator.PruneResult, error) {
	// Collect, then delete: deleting under a cursor can skip keys. The
	// days before the cutoff's are all older than it; of its own day, the
	// items published before it.
	end, lastDay := timeKeyNum(cutoff), publishedDayKey(cutoff)
	var keys [][]byte
	c := tx.Bucket(bucketPublished).Cursor()
	for k, v := c.First(); k != nil && bytes.Compare(k[:min(len(k), timeKeyLen)], lastDay) <= 0; k, v = c.Next() {
		if len(keys)%256 == 0 {
			if err := ctx.Err(); err != nil {
				return aggregator.PruneResult{}, err
			}
		}
		ikey, pub, err := publishedEntry(k, v)
		if err != nil {
			return aggregator.PruneResult{}, err
		}
		if pub < end {
			keys = append(keys, bytes.Clone(ikey))
		}
	}

	changed := topicChanges{}
	perSource := map[string]int{}
	tomb := timeKey(now)
	tombs := tx.Bucket(bucketTombstones)
	removed := 0
	for _, key := range keys {
		ok, err := deleteItem(tx, recent, key, changed)
		if err != nil {
			return aggregator.PruneResult{}, fmt.Errorf("item %q: %w", key, err)
		}
		if !ok {
			continue
		}
		removed++
		perSource[sourceOfKey(key)]++
		if err := tombs.Put(key, tomb[:]); err != nil {
			return aggregator.PruneResult{}, err
		}
	}
	for src, n := range perSource {
		if err := addCount(tx, src, -n); err != nil {
			return aggregator.PruneResult{}, err
		}
	}
	if err := changed.saveCounts(tx); err != nil {
		return aggregator.PruneResult{}, err
	}
	return aggregator.PruneResult{Items: removed, ChangedTopics: sortedKeys(changed)}, nil
}

// dropTombstones deletes tombstones written before cutoff. It walks them all:
// there are only as many as retention removed in one window, and a pass
// runs rarely, so a second time index is not worth its upkeep.
func dropTombstones(ctx context.Context, tx *bolt.Tx, cutoff time.Time) (int, error) {
	end := timeKey(cutoff)
	var old [][]byte
	c := tx.Bucket(bucketTombstones).Cursor()
	n := 0
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		if bytes.Compare(v, end[:]) < 0 {
			old = append(old, bytes.Clone(k))
		}
	}
	b := tx.Bucket(bucketTombstones)
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(old), nil
}
