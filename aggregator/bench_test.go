package aggregator_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/storage"
)

// benchTopics are 20 realistic topic queries, the ones the query
// package benchmarks with.
func benchTopics(b *testing.B) []string {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("query", "testdata", "topics20.txt"))
	if err != nil {
		b.Fatal(err)
	}
	var qs []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			qs = append(qs, l)
		}
	}
	return qs
}

// benchFeed is a 50-item RSS news feed with ~2 KB HTML descriptions; GEN
// is replaced per request so that every poll brings 50 new items.
func benchFeed(b *testing.B) string {
	b.Helper()
	desc, err := os.ReadFile(filepath.Join("query", "testdata", "news_en.html"))
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Bench</title>` +
		`<link>https://bench.example/</link><description>bench</description>`)
	for i := range 50 {
		fmt.Fprintf(&sb, `<item><title>UN forum in Genève: item %d of GEN on spyware and forced labour</title>`+
			`<link>https://bench.example/GEN/%d</link><guid>GEN-%d</guid><pubDate>%s</pubDate>`+
			`<category>World</category><description>%s</description></item>`,
			i, i, i, time.Date(2026, 11, 27, 10, i, 0, 0, time.UTC).Format(time.RFC1123Z), html.EscapeString(string(desc)))
	}
	sb.WriteString(`</channel></rss>`)
	return sb.String()
}

// BenchmarkPollNewFeed measures the whole ingest of a polled 50-item feed
// whose items are all new — loopback fetch, parse, normalise, dedupe,
// topic matching and one fsync'd bbolt transaction — with no topics and
// with 20, so the share of normalising and matching shows. Reported per
// item.
func BenchmarkPollNewFeed(b *testing.B) {
	feed := benchFeed(b)
	for _, n := range []int{0, 20} {
		b.Run(fmt.Sprintf("topics=%d", n), func(b *testing.B) {
			var gen atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/rss+xml")
				w.Write([]byte(strings.ReplaceAll(feed, "GEN", fmt.Sprint(gen.Add(1)))))
			}))
			defer srv.Close()
			db, err := storage.Open(filepath.Join(b.TempDir(), "bench.db"), storage.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			var topics []aggregator.Topic
			for i, q := range benchTopics(b)[:n] {
				topics = append(topics, aggregator.Topic{Name: fmt.Sprintf("t%d", i), Query: q})
			}
			matcher, err := aggregator.NewTopicMatcher(topics, nil)
			if err != nil {
				b.Fatal(err)
			}
			p := aggregator.NewPoller(aggregator.PollerOptions{
				Store:   db,
				Fetcher: aggregator.NewFetcher(aggregator.FetcherOptions{Timeout: 10 * time.Second, MaxBodyBytes: 10 << 20}),
				Matcher: matcher, Concurrency: 1,
			})
			src := aggregator.Source{Name: "bench", URL: srv.URL}
			b.ReportAllocs()
			for b.Loop() {
				if res := p.Poll(b.Context(), src); res.Err != nil || res.New != 50 {
					b.Fatalf("poll: %+v", res)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*50), "ns/item")
		})
	}
}
