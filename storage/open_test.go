package storage

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	bolt "go.etcd.io/bbolt"
)

// txID is the id of the last committed write transaction.
func txID(t *testing.T, db *DB) int {
	t.Helper()
	var id int
	if err := db.bolt.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestStartWritesNothing checks that reopening an up-to-date store and
// syncing topics that are in sync commit no write transaction: a commit
// rewrites bbolt's freelist, whose size grows with the store, and syncs,
// so start-up would slow down as the store grows.
func TestStartWritesNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tributary.db")
	topics := []aggregator.TopicMembership{{Name: "hr", Fingerprint: "fp1", Match: func(*aggregator.Item) bool { return true }}}
	sources := []aggregator.SourceMembership{{Name: "src", Description: "|0"}}

	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SaveFeed(ctx, feed("src", mkItem("a", t0, "h", "hr"))); err != nil {
		t.Fatal(err)
	}
	if names, err := db.SyncTopics(ctx, topics, sources); err != nil || len(names) != 1 {
		t.Fatalf("first sync: %v, %v", names, err)
	}
	before := txID(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, path, Options{Now: func() time.Time { return t0 }})
	if names, err := db.SyncTopics(ctx, topics, sources); err != nil || len(names) != 0 {
		t.Fatalf("sync of topics in sync: %v, %v", names, err)
	}
	if after := txID(t, db); after != before {
		t.Errorf("open and sync committed %d write transactions, want none", after-before)
	}

	// A changed fingerprint still rebuilds, in a write.
	topics[0].Fingerprint = "fp2"
	if names, err := db.SyncTopics(ctx, topics, sources); err != nil || len(names) != 1 {
		t.Fatalf("sync of a changed topic: %v, %v", names, err)
	}
	if after := txID(t, db); after != before+1 {
		t.Errorf("a rebuild committed %d write transactions, want 1", after-before)
	}

	// A new source is recorded, in a write, and rebuilds nothing.
	sources = append(sources, aggregator.SourceMembership{Name: "new", Description: "|0"})
	if names, err := db.SyncTopics(ctx, topics, sources); err != nil || len(names) != 0 {
		t.Fatalf("sync with a new source: %v, %v", names, err)
	}
	if after := txID(t, db); after != before+2 {
		t.Errorf("recording a new source committed %d write transactions, want 1", after-before-1)
	}
}

// TestSyncTopicsReadOnlyWithoutSourceBucket: a store from before the
// topic_sources bucket, opened read-only (which creates no bucket), syncs
// topics with an error, not a panic.
func TestSyncTopicsReadOnlyWithoutSourceBucket(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tributary.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketSourceDesc) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path, Options{ReadOnly: true})
	topics := []aggregator.TopicMembership{{Name: "hr", Fingerprint: "fp1", Match: func(*aggregator.Item) bool { return true }}}
	if _, err := db.SyncTopics(ctx, topics, []aggregator.SourceMembership{{Name: "src", Description: "|0"}}); err == nil {
		t.Error("a read-only store synced topics it could not write")
	}
}
