package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/storage/benchstore"
)

// Growth benchmarks (goal 5): the cost of ingesting an item must not grow
// with the store. Building the large store takes minutes, so it is opt-in:
//
//	TRIBUTARY_BENCH_GROWTH=1       adds the 1,000,000-item store
//	TRIBUTARY_BENCH_GROWTH_SIZE=N  makes that store N items (and implies it)
//	TRIBUTARY_BENCH_CACHE=DIR      keeps built stores in DIR between runs;
//	                               each run works on a copy
//
// e.g. TRIBUTARY_BENCH_GROWTH=1 TRIBUTARY_BENCH_CACHE=$HOME/.cache/tributary-bench \
// go test -run '^$' -bench IngestGrowth -benchtime 200x ./storage/

// growthStoreVersion names the shape of the stores the growth benchmarks
// build; change it when the set-up changes so that cached stores are
// rebuilt.
const growthStoreVersion = "g3"

const (
	growthSources = 200  // sources the stored items come from
	growthBatch   = 2000 // most items per SaveFeed while building a store
	growthFeed    = 50   // items per measured SaveFeed
)

func growthSourceNames() []aggregator.Source {
	srcs := make([]aggregator.Source, growthSources)
	for i := range srcs {
		name := fmt.Sprintf("outlet-%03d", i)
		srcs[i] = aggregator.Source{Name: name, Title: fmt.Sprintf("Outlet %d News", i)}
	}
	return srcs
}

// BenchmarkIngestGrowth stores 50-item feeds of new items, with story
// merging and fsync, into stores of 10,000 and (opt-in) 1,000,000 items
// from 200 sources. Items are prepared (story tokens and keys) outside
// SaveFeed, as the poller does; ns/item is the SaveFeed cost alone — the
// part that could grow with the store — and prepare-ns/item the
// preparation. Goal: ns/item at 1,000,000 ≤ 1.2× that at 10,000. The
// store's pages are in the page cache (it was just built or copied), and
// a first, untimed feed has loaded the in-memory story index (its time is
// logged): this is the steady state of a running daemon, not a cold one.
//
// Two ways the stores were filled:
//
//   - "rate": at the same rate whatever their size, 5,000 items a day (the
//     200 sources publishing 25 each), so a large store is an old one:
//     10,000 items span 2 days and 1,000,000 span 200. An item's merge
//     window (StoryWindow either side) holds about as many items in both,
//     so the comparison is of the store's size alone. This is how a
//     daemon's store grows.
//   - "span": over the same 30 days whatever their size, so a large store
//     is also a dense one: the merge window holds 100 times as many items
//     at 1,000,000 as at 10,000. It measures a hundredfold ingest rate as
//     much as a hundredfold store.
//
// Two arrivals: "recent", new items published in the last day, as news
// arrives; and "backlog", new items published at random over the store's
// span, as when sources with long histories are added (every item's
// merge window is then anywhere in the store).
//
// The store's clock moves on as the measured items arrive, at the rate
// its fill stored them (17.28 s an item at "rate"), so that the merge
// window slides as a daemon's does and old items leave the in-memory
// index. With the clock stopped, every measured item went into the same
// last day (the 10,000-item store is replaced before that day holds
// 1,000 more, see benchIngestGrowth, but a run of 400 feeds added 20,000
// to the 1,000,000-item store's, four times the day's own), and the
// index was never trimmed: the hourly trim, a daemon's steady cost, was
// left out of the figures.
//
// user-us/save and sys-us/save are the process's CPU time per save, in
// user and in kernel mode (all its threads, the garbage collector's
// too); what ns/op holds beyond them is waiting, mostly for fsync.
func BenchmarkIngestGrowth(b *testing.B) {
	vocab := benchstore.Vocabulary()
	srcs := growthSourceNames()
	m := aggregator.NewStoryMerger(srcs)
	for _, fill := range growthFills {
		for _, size := range benchstore.Sizes(b) {
			arrivals := []growthArrival{{"recent", 24 * time.Hour}, {"backlog", fill.span(size)}}
			for _, arrival := range arrivals {
				b.Run(fmt.Sprintf("fill=%s/store=%d/arrival=%s", fill.name, size, arrival.name), func(b *testing.B) {
					benchIngestGrowth(b, fill, size, arrival, srcs, vocab, m)
				})
			}
		}
	}
}

// growthFill is how a growth store was filled: span is the time its
// items were published over, for its size.
type growthFill struct {
	name string
	span func(size int) time.Duration
}

// growthDailyItems is the rate of the "rate" fill.
const growthDailyItems = 5000

var growthFills = []growthFill{
	{"rate", func(size int) time.Duration { return time.Duration(size) * (24 * time.Hour / growthDailyItems) }},
	{"span", func(int) time.Duration { return 30 * 24 * time.Hour }},
}

// growthArrival is when the measured feeds' items were published: at
// random over the span before the store's clock.
type growthArrival struct {
	name string
	span time.Duration
}

// benchIngestGrowth measures the arrival's feeds into a fresh copy of a
// store of size items. Its set-up runs once per run (-count runs it again
// on a fresh copy), before b.Loop starts the timer, and only for the runs
// -bench selects. The store is kept within a tenth of its size: once the
// measured feeds have added that many items, a fresh copy replaces it
// (untimed). Otherwise a run of 200 feeds (10,000 items) would double a
// store of 10,000, and measure a store of 20,000.
func benchIngestGrowth(b *testing.B, fill growthFill, size int, arrival growthArrival,
	srcs []aggregator.Source, vocab []string, m *aggregator.StoryMerger) {
	ctx := context.Background()
	// Item numbers above any the set-up used, never reused when a fresh
	// copy replaces the store.
	next := size
	// The store's clock: t0 plus the time the measured items took to
	// arrive at the fill's rate since the copy was made.
	var elapsed atomic.Int64
	now := func() time.Time { return t0.Add(time.Duration(elapsed.Load())) }
	perFeed := growthFeed * (fill.span(size) / time.Duration(size))
	var db *DB
	var path, pristine string
	dir := b.TempDir()
	copies, added := 0, 0
	cached := benchstore.CacheDir() != ""
	fresh := func(logged bool) {
		if db != nil {
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
			if err := os.Remove(path); err != nil {
				b.Fatal(err)
			}
		}
		copies++
		path = filepath.Join(dir, fmt.Sprintf("growth-%d.db", copies))
		if cached {
			growthStore(b, path, fill, size, srcs, vocab, m) // a copy of the kept store
		} else {
			// Built once, here, and copied.
			if pristine == "" {
				pristine = filepath.Join(dir, "pristine.db")
				growthStore(b, pristine, fill, size, srcs, vocab, m)
			}
			if err := benchstore.CopyFile(path, pristine); err != nil {
				b.Fatal(err)
			}
		}
		var err error
		elapsed.Store(0)
		db, err = Open(path, Options{Now: now})
		if err != nil {
			b.Fatal(err)
		}
		// Not openAt: its consistency check of a million items would
		// take longer than the benchmark.
		db.bolt.NoSync = false
		added = 0

		// The first merge after opening loads the in-memory story index
		// (and an item older than it extends it back): a cost once per
		// start, not per item, which the first feed pays. That feed
		// holds the oldest item the arrival can bring, so the timed
		// saves see the index as a running daemon has it.
		warm := []aggregator.Item{
			benchItem(rand.New(rand.NewPCG(4, uint64(size))), vocab, srcs[0].Name, next, t0.Add(-arrival.span)),
			benchItem(rand.New(rand.NewPCG(4, uint64(size)+1)), vocab, srcs[0].Name, next+1, t0),
		}
		next += len(warm)
		for i := range warm {
			m.Prepare(&warm[i])
		}
		up := feed(srcs[0].Name, warm...)
		up.Cluster = m.Cluster
		heap := liveHeap()
		start := time.Now()
		if _, err := db.SaveFeed(ctx, up); err != nil {
			b.Fatal(err)
		}
		if logged {
			took := time.Since(start)
			fi, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("fill=%s/store=%d/arrival=%s: file %.1f MiB; first save, loading the story index, %.0f ms; the index holds %d items in %.1f MiB of heap",
				fill.name, size, arrival.name, float64(fi.Size())/(1<<20), float64(took.Microseconds())/1000,
				db.recent.size(), float64(liveHeap()-heap)/(1<<20))
		}
	}
	fresh(true)
	b.Cleanup(func() { db.Close() })

	r := rand.New(rand.NewPCG(5, uint64(size)))
	var prepare, save, written time.Duration
	var pages int64
	var user, sys time.Duration
	round, items := 0, 0
	for b.Loop() {
		b.StopTimer()
		if added+growthFeed > size/10 {
			fresh(false)
		}
		src := srcs[round%len(srcs)].Name
		feedItems := make([]aggregator.Item, growthFeed)
		for i := range feedItems {
			feedItems[i] = benchItem(r, vocab, src, next, now().Add(-time.Duration(r.Int64N(int64(arrival.span)))))
			next++
		}
		start := time.Now()
		for i := range feedItems {
			m.Prepare(&feedItems[i])
		}
		prepare += time.Since(start)
		up := feed(src, feedItems...)
		up.Cluster = m.Cluster
		b.StartTimer()

		before := db.bolt.Stats().TxStats
		cpu0 := processCPU(b)
		start = time.Now()
		res, err := db.SaveFeed(ctx, up)
		save += time.Since(start)
		after := db.bolt.Stats().TxStats
		cpu1 := processCPU(b)
		user += cpu1.user - cpu0.user
		sys += cpu1.sys - cpu0.sys
		pages += after.PageCount - before.PageCount
		written += after.WriteTime - before.WriteTime
		if err != nil {
			b.Fatal(err)
		}
		if res.New != growthFeed {
			b.Fatalf("round %d: %d new items, want %d", round, res.New, growthFeed)
		}
		round++
		items += growthFeed
		added += growthFeed
		elapsed.Add(int64(perFeed))
	}
	b.ReportMetric(float64(save.Nanoseconds())/float64(items), "ns/item")
	b.ReportMetric(float64(prepare.Nanoseconds())/float64(items), "prepare-ns/item")
	// What a larger store costs in its commits: each save here is one
	// commit, and a commit writes every page it dirtied and syncs the
	// file twice (bbolt's WriteTime: the writes and both syncs).
	b.ReportMetric(float64(pages)/float64(round), "pages/save")
	b.ReportMetric(float64(written.Microseconds())/float64(round), "write-us/save")
	b.ReportMetric(float64(user.Microseconds())/float64(round), "user-us/save")
	b.ReportMetric(float64(sys.Microseconds())/float64(round), "sys-us/save")
}

// liveHeap is the bytes of the heap's live objects, after a collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// size is how many items the index holds.
func (ix *recentIndex) size() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return len(ix.items) - len(ix.free)
}

// cpuTimes is the CPU time the process has used, in user and in kernel
// mode.
type cpuTimes struct{ user, sys time.Duration }

func processCPU(b *testing.B) cpuTimes {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return cpuTimes{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

// growthStore puts at path a fresh copy of a store of size items filled as
// fill says (see benchstore.Store).
func growthStore(b *testing.B, path string, fill growthFill, size int, srcs []aggregator.Source, vocab []string, m *aggregator.StoryMerger) {
	b.Helper()
	name := "storage-growth-" + growthStoreVersion
	if fill.name != "span" {
		name += "-" + fill.name // the span stores keep their cached name
	}
	benchstore.Store(b, name, size, path, func(p string) {
		buildGrowthStore(b, p, size, fill.span(size), srcs, vocab, m)
	})
}

// buildGrowthStore writes a store of size items at path: feeds of up to
// 2,000 items taking turns among the sources (every source gets some),
// published over the span before t0, prepared and indexed as the
// poller stores them (every item a story of its own: merging is not what
// the set-up is for). Items are generated and prepared in a goroutine of
// their own while the previous batch is saved, and the set-up commits
// without fsync.
func buildGrowthStore(b *testing.B, path string, size int, span time.Duration, srcs []aggregator.Source, vocab []string, m *aggregator.StoryMerger) {
	b.Helper()
	start := time.Now()
	ctx := context.Background()
	db, err := Open(path, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	db.bolt.NoSync = true

	type batch struct {
		src   string
		items []aggregator.Item
	}
	batches := make(chan batch, 2)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(batches)
		r := rand.New(rand.NewPCG(3, uint64(size)))
		// Every source gets items, however small the store.
		per := min(growthBatch, max(1, size/len(srcs)))
		for n, j := 0, 0; n < size; n, j = n+per, j+1 {
			src := srcs[j%len(srcs)].Name
			items := make([]aggregator.Item, min(per, size-n))
			for i := range items {
				items[i] = benchItem(r, vocab, src, n+i, t0.Add(-time.Duration(r.Int64N(int64(span)))))
				m.Prepare(&items[i])
			}
			select {
			case batches <- batch{src, items}:
			case <-stop:
				return
			}
		}
	}()
	for bt := range batches {
		up := feed(bt.src, bt.items...)
		up.Cluster = func(it *aggregator.Item, _ aggregator.StoryLookup) error {
			it.StoryID = it.ID // Keys and Tokens: set by Prepare
			return nil
		}
		if _, err := db.SaveFeed(ctx, up); err != nil {
			db.Close()
			b.Fatal(err)
		}
	}
	if err := db.bolt.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("store=%d: built in %v", size, time.Since(start).Round(time.Millisecond))
}
