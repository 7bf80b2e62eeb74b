package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	bolt "go.etcd.io/bbolt"
)

// growingItem is item n of a feed that gains one item per poll; its
// content makes the file grow (and bbolt remap) while a backup runs.
func growingItem(n int) aggregator.Item {
	it := mkItem(fmt.Sprintf("i%06d", n), t0.Add(time.Duration(n)*time.Minute), "h")
	it.Content = strings.Repeat(fmt.Sprintf("paragraph %d. ", n), 150)
	return it
}

// slowWriter writes to w, pausing on every write so that a backup overlaps
// the writer's commits.
type slowWriter struct {
	w     io.Writer
	pause time.Duration
}

func (s slowWriter) Write(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.w.Write(p)
}

// storedIDs lists the ids of every stored item, sorted.
func storedIDs(t testing.TB, db *DB) []string {
	t.Helper()
	var out []string
	err := db.Items(context.Background(), func(it *aggregator.Item) error {
		out = append(out, it.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestBackupWhileWriting: a backup taken while a poll keeps writing opens,
// passes bbolt's check and the index check, and holds every item committed
// before it began — and is one point in time: the items it holds are a
// prefix of the writes, none missing in between.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)

	writeCtx, stopWriting := context.WithCancel(ctx)
	var committed atomic.Int64 // polls whose SaveFeed has returned
	var wg sync.WaitGroup
	var writeErr error
	wg.Go(func() {
		for n := 0; writeCtx.Err() == nil; n++ {
			// The feed carries its 20 newest items, as a real one does.
			var items []aggregator.Item
			for i := max(0, n-19); i <= n; i++ {
				items = append(items, growingItem(i))
			}
			if _, err := db.SaveFeed(writeCtx, feed("src", items...)); err != nil {
				if !errors.Is(err, context.Canceled) {
					writeErr = err
				}
				return
			}
			committed.Store(int64(n + 1))
		}
	})
	for committed.Load() < 300 {
		time.Sleep(time.Millisecond)
	}

	before := committed.Load()
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.Backup(ctx, slowWriter{w: f, pause: 200 * time.Microsecond})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	after := committed.Load()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for committed.Load() < after+20 { // the writer is not stuck behind the backup
		time.Sleep(time.Millisecond)
	}
	stopWriting()
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("writer: %v", writeErr)
	}
	t.Logf("backup of %d bytes; %d polls committed before it began, %d by its end", n, before, after)

	fi, err := os.Stat(path)
	if err != nil || fi.Size() != n {
		t.Fatalf("backup file: %v, size %d, Backup reported %d", err, fi.Size(), n)
	}
	sum, err := Verify(ctx, path)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// openAt's cleanup runs tx.Check and the index check on the copy.
	backup := openAt(t, path, Options{ReadOnly: true})
	got := storedIDs(t, backup)
	if sum.Items != len(got) || sum.Schema != schemaVersion || sum.Size != n {
		t.Errorf("Summary = %+v, want %d items, schema %d, %d bytes", sum, len(got), schemaVersion, n)
	}
	// Polls that had returned before the backup began are all in it; a
	// poll committed while it ran may be (up to one finishing as it ended).
	if int64(len(got)) < before || int64(len(got)) > after+1 {
		t.Fatalf("backup holds %d items; %d were committed before it began and %d by its end", len(got), before, after)
	}
	for i, id := range got {
		if want := growingItem(i).ID; id != want {
			t.Fatalf("backup item %d is %s, want %s: not one point in time", i, id, want)
		}
	}
}

func TestBackupCancelled(t *testing.T) {
	db := openTestDB(t)
	if _, err := db.SaveFeed(context.Background(), feed("src", growingItem(1), growingItem(2))); err != nil {
		t.Fatal(err)
	}
	t.Run("before it starts", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n, err := db.Backup(ctx, io.Discard)
		if !errors.Is(err, context.Canceled) || n != 0 {
			t.Errorf("Backup = %d, %v; want 0, context.Canceled", n, err)
		}
	})
	t.Run("while it writes", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		w := writerFunc(func(p []byte) (int, error) { cancel(); return len(p), nil })
		_, err := db.Backup(ctx, w)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Backup error = %v, want context.Canceled", err)
		}
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// backupFile backs db up to a new file and returns its path.
func backupFile(t *testing.T, db *DB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := db.Backup(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRestore: a backup copied over the store, after the store changed,
// brings back exactly the items it held.
func TestRestore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tributary.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SaveFeed(ctx, feed("src", growingItem(1), growingItem(2))); err != nil {
		t.Fatal(err)
	}
	want := storedIDs(t, db)
	backup := backupFile(t, db)
	if _, err := db.SaveFeed(ctx, feed("src", growingItem(3))); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Prune(ctx, t0.Add(90*time.Second)); err != nil { // drops item 1
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	restored := openAt(t, path, Options{})
	if got := storedIDs(t, restored); !slices.Equal(got, want) {
		t.Errorf("restored items %v, want %v", got, want)
	}
}

// writeSchema stores a schema version record.
func writeSchema(t *testing.T, path string, version uint32) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := bdb.Update(func(tx *bolt.Tx) error { return putSchema(tx, version) }); err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openTestDB(t)
	if _, err := db.SaveFeed(ctx, feed("src", growingItem(1), growingItem(2), growingItem(3))); err != nil {
		t.Fatal(err)
	}
	good := backupFile(t, db)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A bbolt file with no tributary buckets.
	foreign := filepath.Join(dir, "foreign.db")
	bdb, err := bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	newer := write("newer.db", data)
	writeSchema(t, newer, schemaVersion+1)
	// Every page past the two meta pages gets an impossible type.
	corrupt := slices.Clone(data)
	for off, ps := 2*os.Getpagesize(), os.Getpagesize(); off+16 <= len(corrupt); off += ps {
		corrupt[off+8], corrupt[off+9] = 0xff, 0xff
	}

	tests := []struct {
		name    string
		path    string
		wantErr string // "" for a valid store
		is      error
	}{
		{name: "backup", path: good},
		{name: "missing", path: filepath.Join(dir, "nope.db"), wantErr: "no such file"},
		{name: "directory", path: dir, wantErr: "not a regular file"},
		{name: "empty", path: write("empty.db", nil), wantErr: "empty file"},
		{name: "garbage", path: write("garbage.db", []byte(strings.Repeat("not a database ", 1000))), wantErr: "invalid"},
		{name: "truncated", path: write("truncated.db", data[:len(data)/2]), wantErr: "truncated"},
		{name: "corrupt", path: write("corrupt.db", corrupt), wantErr: "verify"},
		{name: "not tributary", path: foreign, wantErr: "not a tributary database"},
		{name: "newer schema", path: newer, is: ErrNewerSchema},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, err := Verify(ctx, tt.path)
			switch {
			case tt.wantErr == "" && tt.is == nil:
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if sum.Items != 3 || sum.Schema != schemaVersion || sum.Size != int64(len(data)) {
					t.Errorf("Summary = %+v", sum)
				}
			case err == nil:
				t.Fatalf("Verify succeeded, want an error")
			case tt.is != nil && !errors.Is(err, tt.is):
				t.Errorf("error %v, want %v", err, tt.is)
			case !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// fileSize is the size of the file at path.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestCompact(t *testing.T) {
	ctx := context.Background()
	// fill makes a store that grew to 400 items and was pruned to 40.
	fill := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "tributary.db")
		db, err := Open(path, Options{Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < 400; n += 20 {
			var items []aggregator.Item
			for i := n; i < n+20; i++ {
				items = append(items, growingItem(i))
			}
			if _, err := db.SaveFeed(ctx, feed("src", items...)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Prune(ctx, t0.Add(360*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("in place", func(t *testing.T) {
		path := fill(t)
		before := fileSize(t, path)
		if err := Compact(ctx, path, path); err != nil {
			t.Fatalf("Compact: %v", err)
		}
		after := fileSize(t, path)
		t.Logf("compacted %d → %d bytes", before, after)
		if after >= before/2 {
			t.Errorf("compacted %d → %d bytes, want less than half", before, after)
		}
		db := openAt(t, path, Options{})
		if got := storedIDs(t, db); len(got) != 40 || got[0] != growingItem(360).ID {
			t.Errorf("after compaction %d items from %v", len(got), got[:1])
		}
		// Story numbering goes on where it was: a new story comes after
		// every stored one in its day of the topic indexes.
		maxSeq := func() (most uint64) {
			_ = db.bolt.View(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketStories).ForEach(func(_, v []byte) error {
					r, err := decodeStory(v)
					if err == nil {
						most = max(most, r.Seq)
					}
					return err
				})
			})
			return most
		}
		seqBefore := maxSeq()
		if _, err := db.SaveFeed(ctx, feed("src", growingItem(400))); err != nil {
			t.Fatal(err)
		}
		if seqAfter := maxSeq(); seqBefore < 400 || seqAfter != seqBefore+1 {
			t.Errorf("stories numbered up to %d before a new one, %d after; want 400 or more, then one more", seqBefore, seqAfter)
		}
		if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*compact*")); len(leftovers) > 0 {
			t.Errorf("temporary files left: %v", leftovers)
		}
	})
	t.Run("to another file", func(t *testing.T) {
		src := fill(t)
		dst := filepath.Join(t.TempDir(), "compact.db")
		if err := Compact(ctx, src, dst); err != nil {
			t.Fatalf("Compact: %v", err)
		}
		a := openAt(t, src, Options{ReadOnly: true})
		b := openAt(t, dst, Options{ReadOnly: true})
		if !slices.Equal(storedIDs(t, a), storedIDs(t, b)) {
			t.Error("the copy holds other items")
		}
	})
	t.Run("locked", func(t *testing.T) {
		path := fill(t)
		db := openAt(t, path, Options{})
		err := Compact(ctx, path, path)
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
			t.Errorf("Compact on an open store: %v, want ErrLocked naming the path", err)
		}
		if got := storedIDs(t, db); len(got) != 40 {
			t.Errorf("store changed: %d items", len(got))
		}
	})
	t.Run("newer schema", func(t *testing.T) {
		path := fill(t)
		writeSchema(t, path, schemaVersion+1)
		before, _ := os.ReadFile(path)
		if err := Compact(ctx, path, path); !errors.Is(err, ErrNewerSchema) {
			t.Errorf("Compact = %v, want ErrNewerSchema", err)
		}
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Error("the refused store was changed")
		}
	})
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.db")
		if err := Compact(ctx, path, path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Compact = %v, want ErrNotExist", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Error("Compact created the missing store")
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		path := fill(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := Compact(cctx, path, path); !errors.Is(err, context.Canceled) {
			t.Errorf("Compact = %v, want context.Canceled", err)
		}
	})
}
