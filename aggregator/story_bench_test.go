package aggregator

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// comparisonCorpus is the items merging compares in the benchmarks and
// in the comparison tests: the labelled story fixture (short news items
// of many outlets, several reporting each story) and the two 50-item
// bench feeds (long articles), prepared as Cluster sees them, each the
// founder of its own story.
func comparisonCorpus(tb testing.TB) (*StoryMerger, []Item) {
	tb.Helper()
	f, items, _ := loadStoryFixture(tb)
	sources := append([]Source{{Name: "bench", Title: "Bench News"}}, f.Sources...)
	for _, bf := range []struct{ file, contentType string }{
		{"news-50.rss", "application/rss+xml"},
		{"news-50.atom", "application/atom+xml"},
	} {
		body, err := os.ReadFile(filepath.Join("testdata", "bench", bf.file))
		if err != nil {
			tb.Fatal(err)
		}
		feed, err := ParseFeed(body, bf.contentType, "https://news.example.org/feed")
		if err != nil {
			tb.Fatal(err)
		}
		items = append(items, NormaliseItems("bench", feed, 0)...)
	}
	m := NewStoryMerger(sources)
	for i := range items {
		m.Prepare(&items[i])
		items[i].StoryID = items[i].ID
		if items[i].Hash == "" {
			items[i].Hash = items[i].ID
		}
	}
	return m, items
}

// crowdedLookup gives every item the candidates a crowded band index
// gives: the maxCandidates other items that share the most bands with it,
// whether or not they share two, so that nearly every comparison is with
// an unrelated item, as with the common words of a busy news day.
type crowdedLookup struct {
	cands map[string][]Item // item ID → its candidates
	pub   map[string]time.Time
}

func newCrowdedLookup(items []Item) *crowdedLookup {
	l := &crowdedLookup{cands: map[string][]Item{}, pub: map[string]time.Time{}}
	for i := range items {
		it := &items[i]
		l.pub[it.StoryID] = it.Published
		type hit struct{ i, n int }
		var hits []hit
		for j := range items {
			if j == i {
				continue
			}
			n := 0
			for _, b := range it.Keys.Bands {
				if slices.Contains(items[j].Keys.Bands, b) {
					n++
				}
			}
			hits = append(hits, hit{j, n})
		}
		slices.SortStableFunc(hits, func(a, b hit) int { return cmp.Compare(b.n, a.n) })
		for _, h := range hits[:min(len(hits), maxCandidates)] {
			l.cands[it.ID] = append(l.cands[it.ID], items[h.i])
		}
	}
	return l
}

func (l *crowdedLookup) ByLink(string) ([]Item, error) { return nil, nil }
func (l *crowdedLookup) ByTitleKey(string, time.Time, time.Time) ([]Item, error) {
	return nil, nil
}

func (l *crowdedLookup) StoryPublished(id string) (time.Time, error) {
	if p, ok := l.pub[id]; ok {
		return p, nil
	}
	return time.Time{}, ErrNotFound
}

// itemLookup is crowdedLookup for the item being clustered: ByBands
// answers with that item's candidates.
type itemLookup struct {
	*crowdedLookup
	id string
}

func (l itemLookup) ByBands([]uint64, time.Time, time.Time, int, int, func(TitleSketch) bool) ([]Item, error) {
	return l.cands[l.id], nil
}

// BenchmarkClusterCandidates times Cluster's work once the indexes have
// answered: building the candidates' comparison documents from their
// stored tokens and running the near-duplicate rule against each, 16
// candidates per item. The merger is new each round, so every document
// is built as on a cold cache; no lookup is timed.
func BenchmarkClusterCandidates(b *testing.B) {
	m, items := comparisonCorpus(b)
	lookup := newCrowdedLookup(items)
	b.ReportAllocs()
	for b.Loop() {
		fresh := &StoryMerger{names: m.names, docs: newStoryDocCache()}
		for i := range items {
			it := items[i]
			it.StoryID = ""
			if err := fresh.Cluster(&it, itemLookup{lookup, it.ID}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/item")
}
