package aggregator_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-news/tributary/aggregator"
)

// The stage benchmarks time one pipeline stage at a time on two realistic
// news feeds in testdata/bench: 50 items each, ~150 KB, with ~2.5 KB of
// HTML per item (paragraphs, links, an image, entities), categories,
// authors and dates — the RSS as escaped <description>, the Atom as an
// html <content> plus a text <summary>. Every benchmark first checks
// that its input really yields benchItems items, so it cannot silently
// measure an empty parse.

// benchItems is how many items each stage fixture holds.
const benchItems = 50

// benchStageFeeds are the stage fixtures, by name.
var benchStageFeeds = []struct {
	name, file, contentType string
}{
	{"rss", "news-50.rss", "application/rss+xml"},
	{"atom", "news-50.atom", "application/atom+xml; charset=utf-8"},
	{"json", "news-50.json", "application/feed+json"},
}

const benchFeedURL = "https://news.example.org/world/feed"

func benchFixture(b *testing.B, file string) []byte {
	b.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "bench", file))
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// benchParsed parses a fixture and fails unless it yields benchItems items.
func benchParsed(b *testing.B, body []byte, contentType string) *aggregator.ParsedFeed {
	b.Helper()
	feed, err := aggregator.ParseFeed(body, contentType, benchFeedURL)
	if err != nil {
		b.Fatalf("parse: %v", err)
	}
	if len(feed.Items) != benchItems || feed.Truncated {
		b.Fatalf("parse: %d items (truncated %v), want %d", len(feed.Items), feed.Truncated, benchItems)
	}
	for i, it := range feed.Items {
		if it.GUID == "" || it.Link == "" || it.Title == "" || it.Published.IsZero() ||
			len(it.Authors) == 0 || len(it.Categories) == 0 || len(it.Summary)+len(it.Content) < 1500 {
			b.Fatalf("parse: item %d incomplete: %+v", i, it)
		}
	}
	return feed
}

func benchReportPerItem(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchItems), "ns/item")
}

// BenchmarkParse times ParseFeed — charset check, DTD defusing, gofeed
// and the conversion to ParsedFeed — on a whole 50-item feed.
func BenchmarkParse(b *testing.B) {
	for _, f := range benchStageFeeds {
		b.Run(f.name, func(b *testing.B) {
			body := benchFixture(b, f.file)
			benchParsed(b, body, f.contentType)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := aggregator.ParseFeed(body, f.contentType, benchFeedURL); err != nil {
					b.Fatal(err)
				}
			}
			benchReportPerItem(b)
		})
	}
}

// BenchmarkXMLTokenLoop is the reference for BenchmarkParse: a bare
// encoding/xml Decoder.Token loop over the same bytes, non-strict like
// the decoder gofeed reads through (gofeed also copies every token).
// Its MB/s over BenchmarkParse's is what parsing costs beyond tokenising.
func BenchmarkXMLTokenLoop(b *testing.B) {
	for _, f := range benchStageFeeds {
		if !strings.Contains(f.contentType, "xml") {
			continue
		}
		b.Run(f.name, func(b *testing.B) {
			body := benchFixture(b, f.file)
			if n, err := benchTokenLoop(body); err != nil || n != benchItems {
				b.Fatalf("token loop: %d items, %v; want %d", n, err, benchItems)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := benchTokenLoop(body); err != nil {
					b.Fatal(err)
				}
			}
			benchReportPerItem(b)
		})
	}
}

// benchTokenLoop reads every token of body and returns how many items
// (RSS) or entries (Atom) it opened.
func benchTokenLoop(body []byte) (int, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = false
	items := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return items, err
		}
		if se, ok := tok.(xml.StartElement); ok && (se.Name.Local == "item" || se.Name.Local == "entry") {
			items++
		}
	}
}

// BenchmarkNormaliseItems times NormaliseItems on an already parsed
// 50-item feed (parse excluded): text clean-up, identity, permanent id,
// limits and the content hash of every item.
func BenchmarkNormaliseItems(b *testing.B) {
	for _, f := range benchStageFeeds {
		b.Run(f.name, func(b *testing.B) {
			feed := benchParsed(b, benchFixture(b, f.file), f.contentType)
			if items := aggregator.NormaliseItems("bench", feed, 0); len(items) != benchItems {
				b.Fatalf("normalise: %d items, want %d", len(items), benchItems)
			}
			b.ReportAllocs()
			for b.Loop() {
				aggregator.NormaliseItems("bench", feed, 0)
			}
			benchReportPerItem(b)
		})
	}
}

// BenchmarkItemIdentity times the identity and permanent id of the 50
// items alone: from the guid as the feed gives it, and through the
// fallback that hashes title and date when an item has neither guid nor
// link.
func BenchmarkItemIdentity(b *testing.B) {
	feed := benchParsed(b, benchFixture(b, "news-50.rss"), "application/rss+xml")
	hashed := make([]aggregator.ParsedItem, len(feed.Items))
	for i, it := range feed.Items {
		it.GUID, it.Link = "", ""
		hashed[i] = it
	}
	for _, c := range []struct {
		name  string
		items []aggregator.ParsedItem
	}{
		{"guid", feed.Items},
		{"hash", hashed},
	} {
		b.Run(c.name, func(b *testing.B) {
			seen := make(map[string]bool, len(c.items))
			for _, it := range c.items {
				seen[aggregator.ItemID("bench", aggregator.ItemIdentity(it))] = true
			}
			if len(seen) != benchItems {
				b.Fatalf("identity: %d distinct ids, want %d", len(seen), benchItems)
			}
			b.ReportAllocs()
			for b.Loop() {
				for _, it := range c.items {
					aggregator.ItemID("bench", aggregator.ItemIdentity(it))
				}
			}
			benchReportPerItem(b)
		})
	}
}

// BenchmarkPrepareStory times StoryMerger.Prepare on the 50 items of a
// normalised feed: the story tokens of each title and lede and the keys
// merging looks candidates up by, computed before the store's write
// transaction.
func BenchmarkPrepareStory(b *testing.B) {
	for _, f := range benchStageFeeds {
		b.Run(f.name, func(b *testing.B) {
			feed := benchParsed(b, benchFixture(b, f.file), f.contentType)
			items := aggregator.NormaliseItems("bench", feed, 0)
			m := aggregator.NewStoryMerger([]aggregator.Source{{Name: "bench", Title: "Bench News"}})
			for i := range items {
				if m.Prepare(&items[i]); items[i].Tokens == nil || len(items[i].Tokens.Lede) == 0 || len(items[i].Keys.Bands) == 0 {
					b.Fatalf("prepare: item %d has no lede tokens or bands: %+v", i, items[i].Keys)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				for i := range items {
					m.Prepare(&items[i])
				}
			}
			benchReportPerItem(b)
		})
	}
}
