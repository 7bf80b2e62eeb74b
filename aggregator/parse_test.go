package aggregator

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The flag has its own name because other tests share this package.
var parseUpdateGolden = flag.Bool("update-parse", false, "rewrite the parse golden files in testdata/parse")

func parseReadFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "parse", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseFeedGolden parses every feed fixture and compares the whole
// result with its golden JSON.
func TestParseFeedGolden(t *testing.T) {
	tests := []struct {
		fixture string
		feedURL string
	}{
		{"rss2.xml", "https://example.org/feeds/rss"},
		{"rss1.rdf", "https://rdf.example.com/index.rdf"},
		{"atom.xml", "https://atom.example.com/feed.atom"},
		{"jsonfeed.json", "https://json.example.com/feed.json"},
		{"rss_bom.xml", "https://bom.example.com/rss"},
		{"windows1252.xml", "https://w.example.com/rss"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			feed, err := ParseFeed(parseReadFixture(t, tt.fixture), tt.feedURL)
			if err != nil {
				t.Fatalf("ParseFeed: %v", err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // keep the HTML in the goldens readable
			enc.SetIndent("", "  ")
			if err := enc.Encode(feed); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			golden := filepath.Join("testdata", "parse", tt.fixture+".golden.json")
			if *parseUpdateGolden {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update-parse to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("ParseFeed(%s) differs from %s:\n got: %s\nwant: %s", tt.fixture, golden, got, want)
			}
		})
	}
}

// TestParseFeedFields pins the conversions the golden files rely on, so
// that a careless -update cannot bless a regression unnoticed.
func TestParseFeedFields(t *testing.T) {
	date := func(s string) time.Time {
		t.Helper()
		d, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.UTC()
	}
	type check struct {
		name string
		got  any
		want any
	}
	tests := []struct {
		fixture, feedURL string
		checks           func(f *ParsedFeed) []check
	}{
		{"rss2.xml", "https://example.org/feeds/rss", func(f *ParsedFeed) []check {
			return []check{
				{"feed title collapsed", f.Title, "Example News"},
				{"feed link resolved against feed URL", f.Link, "https://example.org/news/"},
				{"language", f.Language, "en-gb"},
				{"items", len(f.Items), 3},
				{"title trimmed", f.Items[0].Title, "First & foremost"},
				{"relative link resolved against feed link", f.Items[0].Link, "https://example.org/news/first"},
				{"guid", f.Items[0].GUID, "tag:example.org,2024:first"},
				{"description is Summary", f.Items[0].Summary, "<p>Short <b>summary</b>.</p>"},
				{"content:encoded is Content", f.Items[0].Content, "<p>The <em>full</em> story.</p>"},
				{"dc:creator", strings.Join(f.Items[0].Authors, "|"), "Ada Lovelace"},
				{"categories deduped", strings.Join(f.Items[0].Categories, "|"), "Science|Maths"},
				{"pubDate in UTC", f.Items[0].Published, date("2024-01-02T14:04:05Z")},
				{"permalink guid becomes link", f.Items[1].Link, "https://example.org/news/second"},
				{"author name over e-mail", strings.Join(f.Items[1].Authors, "|"), "The Editor"},
				{"bad date is zero", f.Items[2].Published.IsZero(), true},
			}
		}},
		{"rss1.rdf", "https://rdf.example.com/index.rdf", func(f *ParsedFeed) []check {
			return []check{
				{"title", f.Title, "RDF Site"},
				{"dc:language", f.Language, "fr"},
				{"items", len(f.Items), 2},
				{"dc:date", f.Items[0].Published, date("2024-03-01T07:30:00Z")},
				{"dc:subject", strings.Join(f.Items[0].Categories, "|"), "Politique"},
				{"relative link", f.Items[1].Link, "https://rdf.example.com/b"},
			}
		}},
		{"atom.xml", "https://atom.example.com/feed.atom", func(f *ParsedFeed) []check {
			return []check{
				{"link is the alternate, not self", f.Link, "https://atom.example.com/"},
				{"relative entry link", f.Items[0].Link, "https://atom.example.com/2024/one"},
				{"summary", f.Items[0].Summary, "A <summary>"},
				{"html content", f.Items[0].Content, "<p>Entry <b>one</b></p>"},
				{"authors: names, else e-mails", strings.Join(f.Items[0].Authors, "|"), "Alice|bob@example.com"},
				{"categories deduped by label", strings.Join(f.Items[0].Categories, "|"), "Go"},
				{"published", f.Items[0].Published, date("2024-05-01T08:00:00Z")},
				{"updated", f.Items[0].Updated, date("2024-05-02T08:00:00Z")},
				{"alternate link chosen", f.Items[1].Link, "https://atom.example.com/2024/two"},
				{"published falls back to updated", f.Items[1].Published, date("2024-05-03T12:00:00Z")},
				{"text content escaped to HTML", f.Items[1].Content, "Plain text: 1 &lt; 2 &amp; 3 &gt; 2"},
				{"feed author inherited", strings.Join(f.Items[1].Authors, "|"), "Feed Author"},
			}
		}},
		{"jsonfeed.json", "https://json.example.com/feed.json", func(f *ParsedFeed) []check {
			return []check{
				{"title", f.Title, "JSON Example"},
				{"language", f.Language, "de"},
				{"id", f.Items[0].GUID, "1"},
				{"plain summary escaped", f.Items[0].Summary, "One &lt; two"},
				{"content_html", f.Items[0].Content, "<p>Hello, <i>world</i>.</p>"},
				{"tags deduped", strings.Join(f.Items[0].Categories, "|"), "json|feeds"},
				{"authors", strings.Join(f.Items[0].Authors, "|"), "Carol"},
				{"published", f.Items[0].Published, date("2024-06-01T16:00:00Z")},
				{"updated", f.Items[0].Updated, date("2024-06-02T16:00:00Z")},
				{"content_text escaped", f.Items[1].Content, "Just text &amp; &lt;stuff&gt;.<br>\nSecond line."},
				{"relative url", f.Items[1].Link, "https://json.example.com/posts/2"},
				{"feed author inherited", strings.Join(f.Items[1].Authors, "|"), "Feed Writer"},
			}
		}},
		{"rss_bom.xml", "https://bom.example.com/rss", func(f *ParsedFeed) []check {
			return []check{
				{"title", f.Title, "BOM Feed"},
				{"item title", f.Items[0].Title, "Café crème"},
			}
		}},
		{"windows1252.xml", "https://w.example.com/rss", func(f *ParsedFeed) []check {
			return []check{
				{"title decoded as Windows-1252", f.Title, "Café “quoted”"},
				{"item title", f.Items[0].Title, "Été"},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			feed, err := ParseFeed(parseReadFixture(t, tt.fixture), tt.feedURL)
			if err != nil {
				t.Fatalf("ParseFeed: %v", err)
			}
			for _, c := range tt.checks(feed) {
				if c.got != c.want {
					t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestParseFeedErrors(t *testing.T) {
	tests := []struct {
		name    string
		body    []byte
		feedURL string
		want    string // the whole error message
	}{
		{
			name:    "html page advertising feeds",
			body:    parseReadFixture(t, "page.html"),
			feedURL: "https://blog.example.com/posts/",
			want: "this is an HTML page, not a feed; it advertises: https://blog.example.com/feed.xml, " +
				"https://blog.example.com/posts/atom.xml, https://cdn.example.net/feed.json",
		},
		{
			name:    "html page with a base href",
			body:    []byte(`<html><head><base href="https://static.example.com/b/"><link rel="Alternate feed" type="application/atom+xml; charset=utf-8" href="a.xml"></head></html>`),
			feedURL: "https://blog.example.com/",
			want:    "this is an HTML page, not a feed; it advertises: https://static.example.com/b/a.xml",
		},
		{
			name:    "html page without feeds",
			body:    []byte("<!doctype html>\n<html><head><title>x</title></head><body>hi</body></html>"),
			feedURL: "https://blog.example.com/",
			want:    "this is an HTML page, not a feed",
		},
		{
			name: "garbage",
			body: parseReadFixture(t, "garbage.txt"),
			want: "parse feed: failed to detect feed type",
		},
		{
			name: "unknown xml",
			body: []byte(`<?xml version="1.0"?><catalog><book/></catalog>`),
			want: "parse feed: failed to detect feed type",
		},
		{
			name: "json that is not a feed",
			body: []byte(`{"status": "ok"}`),
			want: "parse feed: failed to detect feed type",
		},
		{
			name: "whitespace only",
			body: parseReadFixture(t, "empty.xml"),
			want: "empty response body",
		},
		{
			name: "empty",
			body: nil,
			want: "empty response body",
		},
		{
			name: "bom only",
			body: []byte("\xEF\xBB\xBF"),
			want: "empty response body",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed, err := ParseFeed(tt.body, tt.feedURL)
			if err == nil {
				t.Fatalf("ParseFeed succeeded with %+v, want error %q", feed, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestParseFeedBrokenFeeds(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"truncated rss", `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>a`},
		{"broken json", `{"version": "https://jsonfeed.org/version/1.1", "items": [`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFeed([]byte(tt.body), "https://example.com/")
			if err == nil || !strings.HasPrefix(err.Error(), "parse feed: ") {
				t.Fatalf("error = %v, want one starting with %q", err, "parse feed: ")
			}
		})
	}
}

// FuzzParseFeed checks that no body makes ParseFeed panic, and that a
// parsed feed normalises.
func FuzzParseFeed(f *testing.F) {
	for _, name := range []string{"rss2.xml", "rss1.rdf", "atom.xml", "jsonfeed.json", "rss_bom.xml", "page.html", "garbage.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", "parse", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		start := time.Now()
		feed, err := ParseFeed(body, "https://example.com/feed")
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("parsing %d bytes took %v", len(body), d)
		}
		if err != nil {
			return
		}
		for _, it := range NormaliseItems("fuzz", feed) {
			if it.ID == "" || it.Identity == "" || it.Hash == "" {
				t.Fatalf("incomplete item %+v", it)
			}
		}
	})
}
