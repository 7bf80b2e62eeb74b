package storage

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

// BenchmarkSaveFeed stores a 50-item feed per op: all new, all changed, or
// all unchanged (the common poll). Each op is one fsynced transaction.
func BenchmarkSaveFeed(b *testing.B) {
	const size = 50
	mkFeed := func(idPrefix, hash string) aggregator.FeedUpdate {
		items := make([]aggregator.Item, size)
		for i := range items {
			it := mkItem(fmt.Sprintf("%surn:uuid:%08d", idPrefix, i), t0.Add(-time.Duration(i)*time.Minute), hash, "all", fmt.Sprintf("t%d", i%5))
			it.Content = "<p>" + strings.Repeat("lorem ipsum ", 125) + "</p>"
			items[i] = it
		}
		return feed("src", items...)
	}
	run := func(b *testing.B, next func(round int) aggregator.FeedUpdate) {
		ctx := context.Background()
		db := openTestDB(b)
		// TRIBUTARY_BENCH_NOSYNC=1 measures the CPU cost without fsync.
		db.bolt.NoSync = os.Getenv("TRIBUTARY_BENCH_NOSYNC") == "1"
		if _, err := db.SaveFeed(ctx, next(-1)); err != nil {
			b.Fatal(err)
		}
		round := 0
		for b.Loop() {
			if _, err := db.SaveFeed(ctx, next(round)); err != nil {
				b.Fatal(err)
			}
			round++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(round*size), "ns/item")
	}
	b.Run("new", func(b *testing.B) {
		run(b, func(r int) aggregator.FeedUpdate { return mkFeed(fmt.Sprintf("r%d-", r), "h") })
	})
	b.Run("changed", func(b *testing.B) {
		run(b, func(r int) aggregator.FeedUpdate { return mkFeed("", fmt.Sprintf("h%d", r)) })
	})
	b.Run("unchanged", func(b *testing.B) {
		run(b, func(r int) aggregator.FeedUpdate { return mkFeed("", "h") })
	})
}

// BenchmarkTopicStories reads the 50 newest stories of a topic, what
// rendering its feed does after every change: the topic holds 20,000
// stories over 30 days (a broad topic of a large installation), a
// "narrow" one 1 of every 100 of them.
func BenchmarkTopicStories(b *testing.B) {
	ctx := context.Background()
	db := openTestDB(b)
	db.bolt.NoSync = true
	const stories, perFeed = 20000, 500
	span := 30 * 24 * time.Hour
	for f := range stories / perFeed {
		items := make([]aggregator.Item, perFeed)
		for i := range items {
			n := f*perFeed + i
			// Spread over the span, arriving in no order of time.
			at := t0.Add(-time.Duration((n*7919)%stories) * span / stories)
			topics := []string{"broad"}
			if n%100 == 0 {
				topics = append(topics, "narrow")
			}
			items[i] = mkItem(fmt.Sprintf("urn:uuid:%08d", n), at, "h", topics...)
		}
		if _, err := db.SaveFeed(ctx, feed(fmt.Sprintf("src-%03d", f), items...)); err != nil {
			b.Fatal(err)
		}
	}
	for _, topic := range []string{"broad", "narrow"} {
		b.Run(topic, func(b *testing.B) {
			for b.Loop() {
				s, err := db.TopicStories(ctx, topic, 50)
				if err != nil || len(s) != 50 {
					b.Fatalf("%d stories, %v", len(s), err)
				}
			}
		})
	}
}
