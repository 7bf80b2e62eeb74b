package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/configs"
	"github.com/tributary-news/tributary/storage"
	"github.com/tributary-news/tributary/storage/benchstore"
)

// Start-up benchmark (goal 5): with a million items stored, `tributary
// run` must be READY within a second — nothing may scan the whole store
// at start. Building the large store takes minutes, so it is opt-in:
//
//	TRIBUTARY_BENCH_GROWTH=1       adds the 1,000,000-item store
//	TRIBUTARY_BENCH_GROWTH_SIZE=N  makes that store N items (and implies it)
//	TRIBUTARY_BENCH_CACHE=DIR      keeps built stores in DIR between runs;
//	                               each run works on a copy
//
// e.g. TRIBUTARY_BENCH_GROWTH=1 TRIBUTARY_BENCH_CACHE=$HOME/.cache/tributary-bench \
// go test -run '^$' -bench Startup -benchtime 20x ./cmd/tributary/

// startupStoreVersion names the shape of the stores BenchmarkStartup
// builds; change it when the set-up changes so that cached stores are
// rebuilt.
const startupStoreVersion = "s2"

const (
	startupSources = 200  // sources in the config and the store
	startupBatch   = 2000 // most items per SaveFeed while building a store
)

func BenchmarkStartup(b *testing.B) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	for _, size := range benchstore.Sizes(b) {
		dir := b.TempDir()
		cfg := startupConfig(b, dir)
		startupStore(b, cfg, size)
		fi, err := os.Stat(cfg.DBPath())
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("store=%d: file %.1f MiB", size, float64(fi.Size())/(1<<20))

		// The notify socket systemd would listen on. A short path of its
		// own: socket paths are limited to about 100 bytes.
		sockDir, err := os.MkdirTemp("", "tributary-bench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(sockDir) })
		sock := filepath.Join(sockDir, "notify")
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		ready := drainNotify(conn)
		notifier, err := NewNotifier(func(k string) string {
			if k == "NOTIFY_SOCKET" {
				return sock
			}
			return ""
		}, logger)
		if err != nil {
			b.Fatal(err)
		}

		b.Run(fmt.Sprintf("store=%d", size), func(b *testing.B) {
			var open, serve time.Duration
			starts := 0
			for b.Loop() {
				start := time.Now()
				app, err := OpenApp(ctx, cfg, logger)
				if err != nil {
					b.Fatal(err)
				}
				opened := time.Now()
				app.Systemd = Systemd{Notifier: notifier}
				runCtx, cancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- app.Serve(runCtx) }()
				err = awaitReady(ready, done)
				ready := time.Now()

				b.StopTimer()
				cancel()
				if err == nil {
					err = <-done
				}
				if cerr := app.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					b.Fatal(err)
				}
				open += opened.Sub(start)
				serve += ready.Sub(opened)
				starts++
				b.StartTimer()
			}
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(starts) }
			b.ReportMetric(ms(open+serve), "ms/startup")
			b.ReportMetric(ms(open), "open-ms")
			b.ReportMetric(ms(serve), "serve-ms")
		})
	}
}

// drainNotify reads the notify socket until it is closed, as systemd
// would (a full socket would block the daemon's notifications), and
// reports every READY=1 on the returned channel.
func drainNotify(conn *net.UnixConn) <-chan struct{} {
	ready := make(chan struct{}, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			for _, line := range strings.Split(string(buf[:n]), "\n") {
				if line == "READY=1" {
					select {
					case ready <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return ready
}

// awaitReady waits for READY=1; Serve returning first, or no READY within
// a minute, is an error.
func awaitReady(ready <-chan struct{}, serveDone <-chan error) error {
	select {
	case <-ready:
		return nil
	case err := <-serveDone:
		return fmt.Errorf("serve returned before READY: %v", err)
	case <-time.After(time.Minute):
		return errors.New("no READY=1 within a minute")
	}
}

// startupSourceName is the name of the i-th configured source.
func startupSourceName(i int) string { return fmt.Sprintf("outlet-%03d", i) }

// startupConfig writes a config of 200 sources and the 20 benchmark
// topics (aggregator/query/testdata/topics20.txt) into dir, with the store
// in dir/data, and loads it as `run` does. Sources are scheduled hourly
// and point at a closed loopback port; the store says none is due.
func startupConfig(b *testing.B, dir string) *configs.Config {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "aggregator", "query", "testdata", "topics20.txt"))
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `listen: "127.0.0.1:0"
base_url: "http://127.0.0.1:8080"
data_dir: %q
schedule: "@every 1h"
fetch: {timeout: 5s, concurrency: 8}
retention: {max_age: 90d}
publish: {max_items: 50}
sources:
`, filepath.Join(dir, "data"))
	for i := range startupSources {
		fmt.Fprintf(&sb, "  - name: %s\n    url: \"http://127.0.0.1:9/%s.xml\"\n    title: \"Outlet %d News\"\n",
			startupSourceName(i), startupSourceName(i), i)
	}
	sb.WriteString("topics:\n")
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		n++
		fmt.Fprintf(&sb, "  - name: topic-%02d\n    title: \"Topic %d\"\n    query: '%s'\n", n, n, strings.ReplaceAll(l, "'", "''"))
	}
	if n != 20 {
		b.Fatalf("topics20.txt has %d queries, want 20", n)
	}
	path := filepath.Join(dir, "tributary.yaml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// startupStore puts a store of size items at cfg.DBPath(), its topics in
// sync: a copy of the one in $TRIBUTARY_BENCH_CACHE (built there first if
// missing) when that is set, else built in place.
func startupStore(b *testing.B, cfg *configs.Config, size int) {
	b.Helper()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		b.Fatal(err)
	}
	cached := benchstore.Store(b, "startup-"+startupStoreVersion, size, cfg.DBPath(), func(p string) {
		buildStartupStore(b, cfg, p, size)
	})
	// A cached store built for other topic fingerprints would make the
	// first measured start-up rematch everything: sync it now.
	if !cached {
		return
	}
	if rebuilt := syncStartupTopics(b, cfg, cfg.DBPath()); len(rebuilt) > 0 {
		b.Logf("store=%d: the cached store's topics were out of date; rebuilt %v", size, rebuilt)
	}
}

// startupTitleWords put some items in topics: phrases the topic queries
// match.
var startupTitleWords = []string{
	"human rights", "forum", "climate", "geneva", "spyware", "forced labour",
	"europe", "sanctions", "refugees", "lithium", "election", "swiss",
	"due diligence", "indigenous", "markets shares", "civil society", "ai", "urgent",
}

// buildStartupStore writes a store of size items at path through the
// storage API: feeds of up to 2,000 items taking turns among the
// configured sources (every source gets some), published over the 30 days
// before now, prepared and indexed as the poller stores them (every item a story of its own), each source's state
// saying its next poll is years away. Then the topics are synced, as the
// first start-up would. Items are generated and prepared in a goroutine of
// their own while the previous batch is saved.
func buildStartupStore(b *testing.B, cfg *configs.Config, path string, size int) {
	b.Helper()
	start := time.Now()
	ctx := context.Background()
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	merger := aggregator.NewStoryMerger(cfg.Sources)
	span := 30 * 24 * time.Hour
	now := time.Now().UTC()
	lorem := "<p>" + strings.Repeat("lorem ipsum ", 100) + "</p>"

	// Made-up words, some far more common than others.
	vocab := benchstore.Vocabulary()
	words := func(r *rand.Rand, k int) string {
		w := make([]string, k)
		for i := range w {
			w[i] = vocab[int(float64(len(vocab))*r.Float64()*r.Float64())]
		}
		if r.IntN(5) == 0 {
			w[r.IntN(k)] = startupTitleWords[r.IntN(len(startupTitleWords))]
		}
		return strings.Join(w, " ")
	}

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
		per := min(startupBatch, max(1, size/len(cfg.Sources)))
		for n, j := 0, 0; n < size; n, j = n+per, j+1 {
			src := cfg.Sources[j%len(cfg.Sources)].Name
			items := make([]aggregator.Item, min(per, size-n))
			for i := range items {
				id := fmt.Sprintf("urn:uuid:%s-%09d", src, n+i)
				pub := now.Add(-time.Duration(r.Int64N(int64(span))))
				items[i] = aggregator.Item{
					ID: id, Source: src, Identity: id, Hash: "h",
					Link:      fmt.Sprintf("https://%s.example/news/%09d.html", src, n+i),
					Title:     words(r, 10),
					Summary:   "<p>" + words(r, 30) + "</p>",
					Content:   lorem,
					Published: pub, Updated: pub,
				}
				merger.Prepare(&items[i])
			}
			select {
			case batches <- batch{src, items}:
			case <-stop:
				return
			}
		}
	}()
	for bt := range batches {
		up := aggregator.FeedUpdate{
			Source: bt.src,
			State: aggregator.SourceState{
				Source: bt.src, LastPolled: now, LastStatus: 200,
				NextPoll: now.AddDate(10, 0, 0), // not due while the benchmark runs
			},
			Items: bt.items,
			Reconcile: func(stored, in *aggregator.Item) bool {
				in.FirstSeen = now
				return stored == nil
			},
			Cluster: func(it *aggregator.Item, _ aggregator.StoryLookup) error {
				it.StoryID = it.ID // Keys and Tokens: set by Prepare
				return nil
			},
		}
		if _, err := db.SaveFeed(ctx, up); err != nil {
			db.Close()
			b.Fatal(err)
		}
	}
	// Every source polled, none due (the store holds the states of those
	// with items already; this covers any without).
	for _, src := range cfg.Sources {
		st, err := db.SourceState(ctx, src.Name)
		if err != nil {
			b.Fatal(err)
		}
		if st.LastPolled.IsZero() {
			st = aggregator.SourceState{Source: src.Name, LastPolled: now, LastStatus: 200, NextPoll: now.AddDate(10, 0, 0)}
			if err := db.SaveState(ctx, st); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	built := time.Since(start)
	rebuilt := syncStartupTopics(b, cfg, path)
	b.Logf("store=%d: built in %v, topics %v synced in %v", size, built.Round(time.Millisecond),
		rebuilt, (time.Since(start) - built).Round(time.Millisecond))
}

// syncStartupTopics does what OpenApp does to the topic indexes: it
// rematches the topics whose fingerprints changed, and returns them.
func syncStartupTopics(b *testing.B, cfg *configs.Config, path string) []string {
	b.Helper()
	logger := slog.New(slog.DiscardHandler)
	db, err := storage.Open(path, storage.Options{Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	pipe, err := newPipeline(cfg, db, nil, logger)
	if err != nil {
		b.Fatal(err)
	}
	rebuilt, err := db.SyncTopics(context.Background(), pipe.memberships, pipe.sourceMemberships)
	if err != nil {
		b.Fatal(err)
	}
	return rebuilt
}
