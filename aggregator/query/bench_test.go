package query

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// topics20 are realistic topic queries of the kinds an aggregator runs,
// shared with package aggregator's ingest benchmark.
var topics20 = loadTopics("topics20.txt")

// loadTopics reads testdata/NAME: one query a line, # comments.
func loadTopics(name string) []string {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	var qs []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			qs = append(qs, l)
		}
	}
	return qs
}

func loadItem(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func enFields(tb testing.TB) Fields {
	return Fields{
		Title:      "UN forum in Genève: human-rights defenders warn of spyware and forced labour",
		Summary:    loadItem(tb, "news_en.html"),
		Categories: []string{"World", "Europe", "Human Rights"},
		Authors:    []string{"Amélie Dupont"},
		Source:     "swiss-wire",
		SourceTags: []string{"europe", "public-broadcaster"},
	}
}

func zhFields(tb testing.TB) Fields {
	return Fields{
		Title:      "联合国工商业与人权论坛在日内瓦开幕",
		Summary:    loadItem(tb, "news_zh.html"),
		Categories: []string{"国际", "人权"},
		Source:     "xinhua",
	}
}

func parseTopics(tb testing.TB) []*Query {
	qs := make([]*Query, len(topics20))
	for i, s := range topics20 {
		q, err := Parse(s)
		if err != nil {
			tb.Fatalf("topic %d %q: %v", i, s, err)
		}
		qs[i] = q
	}
	return qs
}

func TestBenchmarkTopics(t *testing.T) {
	qs := parseTopics(t)
	en, zh := NewDocument(enFields(t)), NewDocument(zhFields(t))
	var nEN, nZH int
	for _, q := range qs {
		if q.Match(en) {
			nEN++
		}
		if q.Match(zh) {
			nZH++
		}
	}
	// Sanity: the benchmark exercises both outcomes.
	if nEN < 5 || nEN > 18 || nZH != 1 {
		t.Fatalf("matched en=%d zh=%d", nEN, nZH)
	}
}

func BenchmarkNewDocument(b *testing.B) {
	f := enFields(b)
	b.SetBytes(int64(len(f.Title) + len(f.Summary)))
	b.ReportAllocs()
	for b.Loop() {
		NewDocument(f)
	}
}

func BenchmarkNewDocumentCJK(b *testing.B) {
	f := zhFields(b)
	b.SetBytes(int64(len(f.Title) + len(f.Summary)))
	b.ReportAllocs()
	for b.Loop() {
		NewDocument(f)
	}
}

func benchmarkMatch(b *testing.B, f Fields) {
	qs := parseTopics(b)
	d := NewDocument(f)
	b.ReportAllocs()
	for b.Loop() {
		for _, q := range qs {
			q.Match(d)
		}
	}
}

// BenchmarkMatch20Topics matches 20 topics against a prepared document.
func BenchmarkMatch20Topics(b *testing.B) { benchmarkMatch(b, enFields(b)) }

// BenchmarkMatch20TopicsCJK is the same against a Chinese item.
func BenchmarkMatch20TopicsCJK(b *testing.B) { benchmarkMatch(b, zhFields(b)) }

// BenchmarkItem20Topics is the whole per-item cost: normalise once, match
// 20. The topic matcher indexes only its vocabulary; a full index is
// what any other query gets.
func BenchmarkItem20Topics(b *testing.B) {
	qs := parseTopics(b)
	f := enFields(b)
	for _, index := range []struct {
		name string
		doc  func(Fields) *Document
	}{
		{"full", NewDocument},
		{"vocabulary", NewVocabulary(qs...).NewDocument},
	} {
		b.Run("index="+index.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := index.doc(f)
				for _, q := range qs {
					q.Match(d)
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range topics20[:10] {
			Parse(s)
		}
	}
}

// BenchmarkHTMLText reads the text of a 2 KB news summary, which every
// item's topic matching and story tokens do.
func BenchmarkHTMLText(b *testing.B) {
	s := loadItem(b, "news_en.html")
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		dst = appendHTMLText(dst[:0], s)
	}
}
