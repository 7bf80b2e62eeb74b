package publish

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

// benchItems makes n items of a typical size: a few paragraphs of HTML with
// relative links, an image and some markup to strip.
func benchItems(n int) []aggregator.Item {
	para := `<p>Lorem ipsum dolor sit amet, <a href="/wiki/Consectetur">consectetur</a> adipiscing elit, ` +
		`sed do <em>eiusmod</em> tempor incididunt ut labore et dolore magna aliqua &amp; more.</p>`
	content := strings.Repeat(para, 6) +
		`<p><img src="images/photo.jpg" alt="photo" width="640" onerror="x()"></p><script>track()</script>` +
		`<blockquote cite="https://example.org/q">Quote</blockquote><ul><li>one</li><li>two</li></ul>`
	items := make([]aggregator.Item, n)
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range items {
		t := start.Add(-time.Duration(i) * time.Hour)
		items[i] = aggregator.Item{
			ID:         fmt.Sprintf("urn:uuid:00000000-0000-5000-8000-%012d", i),
			Source:     "alpha",
			Link:       fmt.Sprintf("https://alpha.example/posts/%d.html", i),
			Title:      fmt.Sprintf("Item number %d: a headline of ordinary length", i),
			Summary:    `<p>A summary of the item, with <b>bold</b> text.</p>`,
			Content:    content,
			Authors:    []string{"Jane Doe"},
			Categories: []string{"news", "tech"},
			Published:  t,
			Updated:    t,
		}
	}
	return items
}

// BenchmarkRender measures one cache miss: reading 50 items, sanitising
// them and writing the feed (without compression).
func BenchmarkRender(b *testing.B) {
	store := newFakeStore()
	store.setItems("tech", benchItems(50))
	cfg := testConfig(testBaseURL)
	cfg.MaxItems = 50
	s := newSite(cfg)
	z := newSanitizer()
	ctx := context.Background()
	for _, f := range formats() {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				v, err := buildView(ctx, store, s, z, s.topics["tech"])
				if err != nil {
					b.Fatal(err)
				}
				body, err := render(v, s, f)
				if err != nil {
					b.Fatal(err)
				}
				size = len(body)
			}
			b.ReportMetric(float64(size), "bytes/feed")
		})
	}
}

// BenchmarkServeCached measures serving a cached 50-item feed.
func BenchmarkServeCached(b *testing.B) {
	store := newFakeStore()
	store.setItems("tech", benchItems(50))
	cfg := testConfig(testBaseURL)
	cfg.MaxItems = 50
	h := newTestHandler(b, store, cfg)
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/topics/tech.rss", nil)
			req.Header.Set("Accept-Encoding", enc)
			b.ReportAllocs()
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/response")
		})
	}
}
