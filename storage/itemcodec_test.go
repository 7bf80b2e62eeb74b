package storage

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of the storage tests")

// codecTestItem is an item as a poll stores it: every head field set,
// story tokens and bands, and a few KB of HTML.
func codecTestItem() aggregator.Item {
	words := strings.Fields("the forum on human rights opens in geneva with delegates from forty countries and a call for an inquiry")
	return aggregator.Item{
		ID: "urn:uuid:9caf4f82-c342-517d-a800-61672a598b40", Source: "outlet-12", Identity: "urn:uuid:9caf4f82-c342-517d-a800-61672a598b40",
		Link: "https://outlet-12.example.com/news/2026/11/27/forum-opens?utm_source=rss", Title: "Human rights forum opens in Geneva",
		Summary: strings.Repeat("<p>Delegates from forty countries met in Geneva.</p>", 8),
		Content: strings.Repeat("<p>The forum on human rights opened on Friday with a call for an inquiry.</p>", 24),
		Authors: []string{"Staff"}, Categories: []string{"World", "Europe"},
		Published: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Updated:   time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC),
		FirstSeen: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
		Hash:      "9f86d081884c7d659a2feaa0c55ad015", Topics: []string{"europe", "human-rights", "un"},
		StoryID: "urn:uuid:0001d478-a0cc-5c46-9249-a5477966f937", MergedBy: "near",
		Keys: aggregator.StoryKeys{
			Link: "outlet-12.example.com/news/2026/11/27/forum-opens", Title: "human rights forum opens geneva",
			Bands: []uint64{1, 1 << 63, 42, 7, 99, 1 << 40, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233},
		},
		Tokens: &aggregator.StoryTokens{
			Title: words[:8], TitleNamed: []string{"geneva"},
			Lede: append(words, words...), LedeNamed: []string{"geneva", "forum"},
		},
	}
}

// TestItemCodecGolden pins the bytes of the binary item codec: stored
// records must decode the same after any change to the encoder.
func TestItemCodecGolden(t *testing.T) {
	it := codecTestItem()
	got, err := encodeItem(&it)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "item-v2.golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encodeItem wrote %d bytes that differ from %s (%d bytes)", len(got), path, len(want))
	}
}

// BenchmarkEncodeItem encodes an item as a save does, inside the write
// transaction.
func BenchmarkEncodeItem(b *testing.B) {
	it := codecTestItem()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeItem(&it); err != nil {
			b.Fatal(err)
		}
	}
}
