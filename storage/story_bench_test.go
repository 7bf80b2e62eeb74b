package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/storage/benchstore"
)

// benchItem is a synthetic item: a ten-word headline and a thirty-word
// lede, published at pub.
func benchItem(r *rand.Rand, vocab []string, source string, n int, pub time.Time) aggregator.Item {
	words := func(k int) string {
		w := make([]string, k)
		for i := range w {
			// A skewed choice: some words are far more common than others.
			w[i] = vocab[int(float64(len(vocab))*r.Float64()*r.Float64())]
		}
		return strings.Join(w, " ")
	}
	id := fmt.Sprintf("urn:uuid:%s-%09d", source, n)
	return aggregator.Item{
		ID: id, Source: source, Identity: id, Hash: "h",
		Link:      fmt.Sprintf("https://%s.example/news/%09d.html?utm_source=rss", source, n),
		Title:     words(10),
		Summary:   "<p>" + words(30) + "</p>",
		Content:   "<p>" + strings.Repeat("lorem ipsum ", 100) + "</p>",
		Published: pub, Updated: pub,
	}
}

// BenchmarkIngestStories stores 50-item feeds of new items into a store
// already holding size items spread over 30 days, with story merging (the
// Cluster hook: keys, three index lookups, candidate checks, story record)
// and without. The per-item cost must not grow with the store: every
// lookup is a bounded range scan of an index. TRIBUTARY_BENCH_LARGE=1 adds
// the 200,000-item store (its set-up takes a few minutes).
func BenchmarkIngestStories(b *testing.B) {
	ctx := context.Background()
	vocab := benchstore.Vocabulary()
	sources := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}
	var srcs []aggregator.Source
	for _, s := range sources {
		srcs = append(srcs, aggregator.Source{Name: s, Title: strings.ToUpper(s) + " News"})
	}
	m := aggregator.NewStoryMerger(srcs)
	span := 30 * 24 * time.Hour
	sizes := []int{1000, 20000}
	if os.Getenv("TRIBUTARY_BENCH_LARGE") == "1" {
		sizes = append(sizes, 200000)
	}
	for _, size := range sizes {
		path := filepath.Join(b.TempDir(), "bench.db")
		db := openAt(b, path, Options{Now: func() time.Time { return t0 }})
		db.bolt.NoSync = true
		r := rand.New(rand.NewPCG(3, 4))
		const batch = 1000
		for n := 0; n < size; n += batch {
			src := sources[(n/batch)%len(sources)]
			items := make([]aggregator.Item, batch)
			for i := range items {
				items[i] = benchItem(r, vocab, src, n+i, t0.Add(-time.Duration(r.Int64N(int64(span)))))
			}
			up := feed(src, items...)
			// Indexed like merged items, without paying for merging: the
			// set-up is not what is measured.
			up.Cluster = func(it *aggregator.Item, _ aggregator.StoryLookup) error {
				it.Keys, it.StoryID = m.Keys(it), it.ID
				return nil
			}
			if _, err := db.SaveFeed(ctx, up); err != nil {
				b.Fatal(err)
			}
		}
		for _, merge := range []bool{false, true} {
			name := fmt.Sprintf("store=%d/merge=%v", size, merge)
			b.Run(name, func(b *testing.B) {
				const feedSize = 50
				round := 0
				for b.Loop() {
					items := make([]aggregator.Item, feedSize)
					for i := range items {
						items[i] = benchItem(r, vocab, "new", size*10+round*feedSize+i, t0.Add(-time.Duration(r.Int64N(int64(span)))))
					}
					up := feed("new", items...)
					if merge {
						up.Cluster = m.Cluster
					}
					if _, err := db.SaveFeed(ctx, up); err != nil {
						b.Fatal(err)
					}
					round++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(round*feedSize), "ns/item")
			})
		}
	}
}
