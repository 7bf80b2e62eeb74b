package storage

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	bolterrors "go.etcd.io/bbolt/errors"
)

// TestReleaseMapped: after reads touched the store's pages, ReleaseMapped
// takes them out of the process's mapping of the file, and the store
// reads and writes as before.
func TestReleaseMapped(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ReleaseMapped releases pages only on Linux")
	}
	db := openTestDB(t)
	ctx := t.Context()
	// About 8 MB of records, so that reading them maps many pages.
	body := strings.Repeat("All the news that fits, and then some. ", 100)
	for f := range 20 {
		var items []aggregator.Item
		for i := range 50 {
			it := mkItem(fmt.Sprintf("f%d-%d", f, i), t0.Add(-time.Duration(f*50+i)*time.Minute), fmt.Sprint(f, i))
			it.Content = fmt.Sprintf("%d %d %s", f, i, body)
			items = append(items, it)
		}
		if _, err := db.SaveFeed(ctx, feed(fmt.Sprintf("s%d", f), items...)); err != nil {
			t.Fatal(err)
		}
	}
	before := storedItems(t, db)
	mapped := mappedRSS(t, db.Path())
	if mapped < 2<<20 {
		t.Fatalf("reading every item mapped %d KiB of the store; the test needs more to measure", mapped>>10)
	}

	if err := db.ReleaseMapped(); err != nil {
		t.Fatal(err)
	}
	if after := mappedRSS(t, db.Path()); after > mapped/16 {
		t.Errorf("after ReleaseMapped, %d KiB of the store are mapped, from %d KiB", after>>10, mapped>>10)
	}

	if after := storedItems(t, db); !reflect.DeepEqual(after, before) {
		t.Errorf("the items read after the release differ from those read before")
	}
	extra := mkItem("after", t0, "h")
	if _, err := db.SaveFeed(ctx, feed("late", extra)); err != nil {
		t.Fatalf("SaveFeed after the release: %v", err)
	}
	if got, err := db.Item(ctx, "late", "after"); err != nil || got.Title != extra.Title {
		t.Errorf("Item after the release: %q, %v", got.Title, err)
	}
}

// TestReleaseMappedClosed: releasing a closed store's mapping is an error
// that names the store, not a madvise on memory no longer mapped.
func TestReleaseMappedClosed(t *testing.T) {
	db := openTestDB(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	err := db.ReleaseMapped()
	if !errors.Is(err, bolterrors.ErrDatabaseNotOpen) || !strings.Contains(err.Error(), db.Path()) {
		t.Errorf("ReleaseMapped on a closed store: %v, want bbolt's ErrDatabaseNotOpen naming %s", err, db.Path())
	}
}

// storedItems reads every stored item, by key.
func storedItems(t *testing.T, db *DB) map[string]aggregator.Item {
	t.Helper()
	items := map[string]aggregator.Item{}
	err := db.Items(t.Context(), func(it *aggregator.Item) error {
		items[it.Source+"/"+it.ID] = *it
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// mappedRSS is how many bytes of the file at path this process has
// mapped in memory, from /proc/self/smaps.
func mappedRSS(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, inFile, found := 0, false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-"):
			// A mapping's header: address range, perms, offset, device,
			// inode, then its path if it has one.
			inFile = len(fields) >= 6 && fields[5] == path
			found = found || inFile
		case inFile && len(fields) == 3 && fields[0] == "Rss:":
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatalf("smaps: %q: %v", sc.Text(), err)
			}
			total += kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("no mapping of %s in /proc/self/smaps", path)
	}
	return total
}
