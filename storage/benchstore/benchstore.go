// Package benchstore serves the growth benchmarks (storage's ingest,
// cmd/tributary's start-up): the store sizes to measure, and stores built
// once and kept between runs. Only benchmarks import it.
//
// TRIBUTARY_BENCH_GROWTH=1 adds a 1,000,000-item store to the 10,000-item
// one; TRIBUTARY_BENCH_GROWTH_SIZE=N adds one of N items instead.
// TRIBUTARY_BENCH_CACHE=DIR keeps built stores in DIR: building a large
// one takes minutes.
package benchstore

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Sizes returns the store sizes to measure: 10,000 items always, the large
// one on request.
func Sizes(tb testing.TB) []int {
	tb.Helper()
	sizes := []int{10000}
	large := 0
	if os.Getenv("TRIBUTARY_BENCH_GROWTH") == "1" {
		large = 1000000
	}
	if s := os.Getenv("TRIBUTARY_BENCH_GROWTH_SIZE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			tb.Fatalf("TRIBUTARY_BENCH_GROWTH_SIZE=%q: want a positive number of items", s)
		}
		large = n
	}
	if large > 0 && large != sizes[0] {
		sizes = append(sizes, large)
	}
	return sizes
}

// Store puts at dst a store of size items that build writes at the path
// it is given. With TRIBUTARY_BENCH_CACHE set, dst is a copy of the store
// kept there as NAME-SIZE.db, built first if missing; name should change
// whenever build does. It reports whether dst came from the cache.
func Store(tb testing.TB, name string, size int, dst string, build func(path string)) (cached bool) {
	tb.Helper()
	dir := CacheDir()
	if dir == "" {
		build(dst)
		return false
	}
	kept := filepath.Join(dir, fmt.Sprintf("%s-%d.db", name, size))
	_, err := os.Stat(kept)
	switch {
	case os.IsNotExist(err):
		if err := os.MkdirAll(dir, 0o750); err != nil {
			tb.Fatal(err)
		}
		// Built under a temporary name: an interrupted build leaves no
		// half store to be taken for a whole one.
		tmp := fmt.Sprintf("%s.%d.tmp", kept, os.Getpid())
		build(tmp)
		if err := os.Rename(tmp, kept); err != nil {
			os.Remove(tmp)
			tb.Fatal(err)
		}
	case err != nil:
		tb.Fatal(err)
	default:
		cached = true
		tb.Logf("store=%d: copied from %s", size, kept)
	}
	if err := CopyFile(dst, kept); err != nil {
		tb.Fatal(err)
	}
	return cached
}

// CacheDir is the directory that keeps built stores
// (TRIBUTARY_BENCH_CACHE), "" when none does.
func CacheDir() string { return os.Getenv("TRIBUTARY_BENCH_CACHE") }

// CopyFile copies the file src to a new file dst, synced: otherwise the
// first commit a benchmark times would write out the whole copy (the
// store's fdatasync flushes every dirty page of its file).
func CopyFile(dst, src string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Sync()
}

// Vocabulary is 4,000 made-up words, the same on every call, for the
// synthetic headlines and ledes of benchmark items.
func Vocabulary() []string {
	r := rand.New(rand.NewPCG(1, 2))
	words := make([]string, 4000)
	for i := range words {
		var b strings.Builder
		for range 4 + r.IntN(6) {
			b.WriteByte(byte('a' + r.IntN(26)))
		}
		words[i] = b.String()
	}
	return words
}
