package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// compactTxMaxSize bounds the memory one compaction transaction holds;
// bolt.Compact commits and starts a new one past it.
const compactTxMaxSize = 64 << 20

// Backup writes a consistent snapshot of the database to w — a complete
// bbolt file as of one read transaction — and returns the bytes written.
// Writers carry on meanwhile: the snapshot holds exactly what was committed
// before it began. Cancelling ctx stops the copy at the next 32 KiB.
//
// The read transaction lasts as long as w takes: while it is open bbolt
// cannot reuse freed pages, and a writer that must grow the file waits for
// it, so w should be fast (a local file or socket).
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("storage: backup %s: %w", db.path, err)
	}
	var n int64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(&ctxWriter{ctx: ctx, w: w})
		return err
	})
	if err != nil {
		// tx.WriteTo flattens some write errors with %s: name the
		// cancellation so callers can branch on it.
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
		return n, fmt.Errorf("storage: backup %s: %w", db.path, err)
	}
	return n, nil
}

// ctxWriter fails writes once its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Summary describes a database file Verify checked.
type Summary struct {
	Size   int64  // file size in bytes
	Schema uint32 // layout version; older than this tributary's until a writable open migrates it
	Items  int    // stored items
}

// Verify checks that the file at path is a complete, consistent tributary
// database this tributary can read: a bbolt file that is not truncated,
// passes bbolt's consistency check and has a schema version that is not
// newer than this code's (ErrNewerSchema). It opens the file read-only, so
// it fails with ErrLocked on a database a running process holds.
func Verify(ctx context.Context, path string) (sum Summary, err error) {
	wrap := func(err error) error { return fmt.Errorf("storage: verify %s: %w", path, err) }
	fi, err := os.Stat(path)
	if err != nil {
		return Summary{}, wrap(err)
	}
	if !fi.Mode().IsRegular() {
		return Summary{}, wrap(errors.New("not a regular file"))
	}
	sum.Size = fi.Size()
	if sum.Size == 0 {
		return Summary{}, wrap(errors.New("empty file, not a database"))
	}
	// A damaged file is read through a memory map: turn a fault on a page
	// past its end into an error rather than a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = wrap(fmt.Errorf("damaged database: %v", r))
		}
	}()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, ReadOnly: true})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return Summary{}, &lockedError{path: path}
	}
	if err != nil {
		return Summary{}, wrap(err)
	}
	defer bdb.Close()
	err = bdb.View(func(tx *bolt.Tx) error {
		// Every page the meta page counts must be in the file before any
		// is read.
		if tx.Size() > sum.Size {
			return fmt.Errorf("truncated: %d bytes, the database needs %d", sum.Size, tx.Size())
		}
		version, _, err := initSchema(tx)
		if err != nil {
			return err
		}
		sum.Schema = version
		var errs []error
		// Drain the channel: the checker's goroutine holds the tx until it
		// has sent everything.
		for err := range tx.Check() {
			if len(errs) < 10 {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("consistency check: %w", errors.Join(errs...))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		sum.Items = tx.Bucket(bucketItems).Stats().KeyN
		return nil
	})
	if err != nil {
		return Summary{}, wrap(err)
	}
	return sum, nil
}

// Compact writes a compacted copy of the stopped database at src to dst,
// atomically (a temporary file beside dst, synced, verified, then renamed
// over it), and checks that the copy holds as many items as src. dst may be
// src itself: the store is then replaced while Compact still holds its
// lock. It fails with ErrLocked while another process (the daemon) has src
// open, and refuses a file that is not a tributary database or was written
// by a newer tributary (ErrNewerSchema). An older schema is copied as it
// is; the next writable open migrates it.
//
// ctx is checked between the phases; bbolt's copy itself is not
// interruptible.
func Compact(ctx context.Context, src, dst string) (err error) {
	wrap := func(err error) error { return fmt.Errorf("storage: compact %s: %w", src, err) }
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	if _, err := os.Stat(src); err != nil {
		return wrap(err) // bolt.Open would create it
	}
	// A writable open takes the exclusive lock: nothing writes src while
	// it is copied, and the daemon cannot start until it is replaced.
	sdb, err := bolt.Open(src, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: freelistType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return &lockedError{path: src}
	}
	if err != nil {
		return wrap(err)
	}
	defer func() {
		if cerr := sdb.Close(); cerr != nil && err == nil {
			err = wrap(cerr)
		}
	}()
	var items int
	err = sdb.View(func(tx *bolt.Tx) error {
		if _, _, err := initSchema(tx); err != nil {
			return err
		}
		items = tx.Bucket(bucketItems).Stats().KeyN
		return nil
	})
	if err != nil {
		return wrap(err)
	}

	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".compact-*")
	if err != nil {
		return wrap(err)
	}
	tmpPath := tmp.Name()
	renamed := false
	defer func() {
		if !renamed {
			_ = os.Remove(tmpPath)
		}
	}()
	if err := tmp.Close(); err != nil {
		return wrap(err)
	}
	// An empty file is initialised by bolt.Open; sync once at the end.
	ddb, err := bolt.Open(tmpPath, 0o600, &bolt.Options{NoSync: true, FreelistType: freelistType})
	if err != nil {
		return wrap(err)
	}
	if err := bolt.Compact(ddb, sdb, compactTxMaxSize); err != nil {
		_ = ddb.Close()
		return wrap(err)
	}
	if err := ddb.Sync(); err != nil {
		_ = ddb.Close()
		return wrap(err)
	}
	if err := ddb.Close(); err != nil {
		return wrap(err)
	}
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	sum, err := Verify(ctx, tmpPath)
	if err != nil {
		return wrap(fmt.Errorf("compacted copy: %w", err))
	}
	if sum.Items != items {
		return wrap(fmt.Errorf("compacted copy holds %d items, the store %d", sum.Items, items))
	}
	if err := os.Rename(tmpPath, dst); err != nil {
		return wrap(err)
	}
	renamed = true
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return wrap(err)
	}
	return nil
}

// syncDir fsyncs a directory so that a rename into it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return d.Close()
}
