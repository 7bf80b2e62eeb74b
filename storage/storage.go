// Package storage owns tributary's on-disk state: one bbolt file holding the
// stored items, the per-source polling state, the topic and retention
// indexes, tombstones of pruned items and the topic fingerprints. It
// implements aggregator.Store and the read methods publish and the CLI use.
// Every public method is one transaction built from helpers that take the tx.
package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/aggregator/cpugate"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// schemaVersion is the layout this code reads and writes. Bump it (and add a
// migration in Open) when buckets or keys change shape.
const schemaVersion = 6

// Top-level buckets. Item keys are source + "\x00" + item ID everywhere.
var (
	bucketMeta       = []byte("meta")          // "schema" → uint32
	bucketItems      = []byte("items")         // item key → item record
	bucketPublished  = []byte("published")     // day of Published + time key of FirstSeen + item key → time key of Published; retention index
	bucketTopics     = []byte("topics")        // one nested bucket per topic: topicKey (the story's key day, its number) → empty
	bucketTopicFP    = []byte("topic_fp")      // topic name → fingerprint
	bucketStates     = []byte("states")        // source → state record
	bucketCounts     = []byte("counts")        // source → uint64 item count
	bucketTombstones = []byte("tombstones")    // item key → time key of deletion
	bucketStories    = []byte("stories")       // story ID → story record
	bucketStoryLink  = []byte("story_link")    // canonical link + NUL + item key → empty
	bucketStoryAlias = []byte("story_alias")   // ID of a story absorbed into another → the surviving story's ID
	bucketTopicCount = []byte("topic_counts")  // topic name → uint64 count of its index's stories
	bucketSourceDesc = []byte("topic_sources") // source name → its description (aggregator.SourceMembership) as the topics were last matched with
	bucketStoryOrder = []byte("story_order")   // number of a story in a topic → time key of the story's Published + its ID

	// Schema 2's title and band story indexes, which schema 3 keeps in
	// memory (see recentIndex); the migration drops them.
	bucketStoryTitleV2 = []byte("story_title")
	bucketStoryBandV2  = []byte("story_band")

	keySchema = []byte("schema")
)

var allBuckets = [][]byte{
	bucketMeta, bucketItems, bucketPublished, bucketTopics,
	bucketTopicFP, bucketStates, bucketCounts, bucketTombstones,
	bucketStories, bucketStoryLink, bucketStoryAlias, bucketTopicCount,
	bucketSourceDesc, bucketStoryOrder,
}

// ErrLocked is matched (errors.Is) by the error Open returns when another
// process, or another Open in this one, holds the database.
var ErrLocked = errors.New("storage: database is in use by another tributary process")

// ErrNewerSchema is matched by the error Open returns for a database written
// by a newer tributary.
var ErrNewerSchema = errors.New("database was written by a newer tributary")

// Compile-time check that DB is what the pipeline needs.
var _ aggregator.Store = (*DB)(nil)

// Options configure Open. The zero value is usable.
type Options struct {
	// Timeout bounds the wait for the file lock; bbolt would otherwise
	// block forever. Default 2s.
	Timeout time.Duration
	// Logger receives debug summaries of maintenance passes. Default: discard.
	Logger *slog.Logger
	// Now is the clock for tombstone times. Default time.Now.
	Now func() time.Time
	// ReadOnly opens an existing database for reading only (a shared lock:
	// readers do not exclude each other, but a writer excludes them).
	ReadOnly bool
	// CPU, shared with the pollers, gives the group commit's saves a core
	// ahead of the polls' parsing (see cpugate); nil: no gate.
	CPU *cpugate.Gate
}

// DB is an open tributary database. It is safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	// commits groups the saves of concurrent polls into shared commits.
	commits *groupCommit
	// recent is the in-memory title and band story index.
	recent *recentIndex
	path   string
	log    *slog.Logger
	now    func() time.Time
	// schema is the layout version of the file: older than schemaVersion
	// only when opened read-only before a migration.
	schema uint32
}

// lockedError keeps the path in the message while matching ErrLocked and
// still unwrapping to bbolt's timeout.
type lockedError struct{ path string }

func (e *lockedError) Error() string {
	return fmt.Sprintf("storage: database %s is in use by another tributary process", e.path)
}
func (e *lockedError) Is(target error) bool { return target == ErrLocked }
func (e *lockedError) Unwrap() error        { return bolterrors.ErrTimeout }

// freelistType is bbolt's array freelist (its default). The hashmap one
// sorts its free spans at every commit, to write the freelist out: on a
// store of 300,000 items with 59,000 free pages, a commit of one feed
// took 9-31 ms with it and 2 ms with the array, and opening the store
// 14-26 ms against 1-3 ms. The array pays instead when it looks for
// runs of free pages for values that span pages, but in commits of 40
// feeds it was no slower (0.62-0.77 ms a feed, against 0.74-0.86).
const freelistType = bolt.FreelistArrayType

// Open opens (creating if needed) the database at path.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("storage: open %s: %w", path, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      opts.Timeout,
		ReadOnly:     opts.ReadOnly,
		FreelistType: freelistType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, &lockedError{path: path}
	}
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	// A store at the current schema with every bucket needs no write at
	// open: a write would rewrite bbolt's freelist, which grows with the
	// store, and sync.
	current := false
	if !opts.ReadOnly {
		_ = bdb.View(func(tx *bolt.Tx) error {
			current = schemaCurrent(tx)
			return nil
		})
	}
	schema := bdb.Update
	if opts.ReadOnly || current {
		schema = bdb.View
	}
	var version uint32
	var migrated migration
	err = schema(func(tx *bolt.Tx) error {
		var err error
		version, migrated, err = initSchema(tx)
		return err
	})
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	if migrated.from > 0 {
		opts.Logger.Info("storage: migrated database", "path", path, "from_schema", migrated.from,
			"to_schema", schemaVersion, "items_made_stories", migrated.items)
	}
	recent := newRecentIndex(opts.Now)
	return &DB{
		bolt: bdb, commits: &groupCommit{db: bdb, recent: recent, cpu: opts.CPU, linger: stateLinger}, recent: recent,
		path: path, log: opts.Logger, now: opts.Now, schema: version,
	}, nil
}

// migration is what initSchema's migration did: from which schema (0
// for none) and how many items schema 1's migration made stories.
type migration struct {
	from  uint32
	items int
}

// initSchema creates missing buckets and records or checks the schema
// version, migrating an older layout; in a read-only transaction it only
// checks. It returns the version the database is now at and what a
// migration did.
func initSchema(tx *bolt.Tx) (version uint32, migrated migration, err error) {
	if !tx.Writable() {
		if tx.Bucket(bucketMeta) == nil {
			return 0, migration{}, errors.New("not a tributary database (no meta bucket)")
		}
	} else {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return 0, migration{}, fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
	}
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(keySchema)
	if v == nil && !tx.Writable() {
		return 0, migration{}, errors.New("not a tributary database (no schema version)")
	}
	if v == nil {
		return schemaVersion, migration{}, putSchema(tx, schemaVersion)
	}
	if len(v) != 4 {
		return 0, migration{}, fmt.Errorf("schema version record is %d bytes, want 4", len(v))
	}
	got := binary.BigEndian.Uint32(v)
	if got > schemaVersion {
		return 0, migration{}, fmt.Errorf("%w (schema version %d, this tributary knows up to %d)", ErrNewerSchema, got, schemaVersion)
	}
	if got < schemaVersion && tx.Writable() {
		migrated.from = got
		if got < 2 {
			if migrated.items, err = migrateV1(tx); err != nil {
				return 0, migration{}, fmt.Errorf("migrate schema %d to 2: %w", got, err)
			}
		}
		if got < 3 {
			if err := migrateV2(tx); err != nil {
				return 0, migration{}, fmt.Errorf("migrate schema %d to 3: %w", max(got, 2), err)
			}
		}
		if got < 4 {
			if err := migrateV3(tx); err != nil {
				return 0, migration{}, fmt.Errorf("migrate schema %d to 4: %w", max(got, 3), err)
			}
		}
		if got < 5 {
			if err := migrateV4(tx); err != nil {
				return 0, migration{}, fmt.Errorf("migrate schema %d to 5: %w", max(got, 4), err)
			}
		}
		if err := migrateV5(tx); err != nil {
			return 0, migration{}, fmt.Errorf("migrate schema %d to 6: %w", max(got, 5), err)
		}
		return schemaVersion, migrated, putSchema(tx, schemaVersion)
	}
	return got, migration{}, nil
}

// schemaCurrent reports whether the database has every bucket and the
// current schema version: initSchema would change nothing.
func schemaCurrent(tx *bolt.Tx) bool {
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return false
		}
	}
	v := tx.Bucket(bucketMeta).Get(keySchema)
	return len(v) == 4 && binary.BigEndian.Uint32(v) == schemaVersion
}

func putSchema(tx *bolt.Tx, version uint32) error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], version)
	return tx.Bucket(bucketMeta).Put(keySchema, b[:])
}

// ErrOldSchema is matched by the error of a story read from a database that
// a read-only open could not migrate: open it writable once.
var ErrOldSchema = errors.New("database has an older layout; open it for writing once (tributary run or poll) to migrate it")

// Close closes the database, waiting for open transactions.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("storage: close %s: %w", db.path, err)
	}
	return nil
}

// Path is the database file's path.
func (db *DB) Path() string { return db.path }
