package aggregator

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
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
			feed, err := ParseFeed(parseReadFixture(t, tt.fixture), "", tt.feedURL)
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
			feed, err := ParseFeed(parseReadFixture(t, tt.fixture), "", tt.feedURL)
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
			name: "html page that is little more than its doctype",
			body: []byte("<!DOCTYPE html>\n<p>Moved."),
			want: "this is an HTML page, not a feed",
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
			feed, err := ParseFeed(tt.body, "", tt.feedURL)
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
		want string // the error's prefix
	}{
		{"truncated rss without a complete item", `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>a`, "truncated feed: "},
		{"truncated json", `{"version": "https://jsonfeed.org/version/1.1", "items": [`, "truncated feed: "},
		{"mismatched json", `{"version": "https://jsonfeed.org/version/1.1", "items": [}`, "parse feed: "},
		{"rss with a wrong root child", `<rss version="2.0"><channel><title>x</title></channel><item></rss>`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFeed([]byte(tt.body), "", "https://example.com/")
			if tt.want == "" {
				if err != nil {
					t.Fatalf("error = %v, want the tolerant parser to cope", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one starting with %q", err, tt.want)
			}
		})
	}
}

// FuzzParseFeed checks that no body makes ParseFeed panic or take long,
// and that a parsed feed normalises into clean items.
func FuzzParseFeed(f *testing.F) {
	for _, dir := range []string{"parse", "charset"} {
		entries, err := os.ReadDir(filepath.Join("testdata", dir))
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".golden.json") || strings.HasSuffix(e.Name(), ".py") {
				continue
			}
			b, err := os.ReadFile(filepath.Join("testdata", dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, "")
		}
	}
	f.Add([]byte(`<?xml version="1.0"?><rss><channel><item><title>\xE9`), "text/xml; charset=koi8-r")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		start := time.Now()
		feed, err := ParseFeed(body, contentType, "https://example.com/feed")
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("parsing %d bytes took %v", len(body), d)
		}
		if err != nil {
			return
		}
		for _, it := range NormaliseItems("fuzz", feed, 0) {
			if it.ID == "" || it.Identity == "" || it.Hash == "" {
				t.Fatalf("incomplete item %+v", it)
			}
			for _, s := range append([]string{it.Identity, it.Link, it.Title, it.Summary, it.Content}, slices.Concat(it.Authors, it.Categories)...) {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 in %q", s)
				}
				if i := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' }); i >= 0 {
					t.Fatalf("control character in %q", s)
				}
			}
		}
	})
}

// TestParseFeedCharsets parses feeds whose bytes Python's codecs wrote in
// legacy encodings (testdata/charset/generate.py), declared in the XML
// prolog, in the Content-Type header, or both, and checks the decoded
// titles exactly.
func TestParseFeedCharsets(t *testing.T) {
	const (
		fr       = "Élysée : « réforme » à l’été"
		frLatin1 = "Élysée : « réforme » à l'été"
		zh       = "中国新闻：经济增长"
		zhTW     = "臺灣新聞：經濟成長"
		ja       = "日本のニュース：経済成長"
		ru       = "Новости России: экономика"
		mixed    = "Café 中文 Новости"
	)
	tests := []struct {
		fixture     string
		contentType string
		wantTitle   string
		wantItem    string
	}{
		{"iso-8859-1.xml", "application/rss+xml", frLatin1, "Noël"},
		{"windows-1252.xml", "", fr, "“Œuvre” – 5 €"},
		{"gb2312.xml", "text/xml", zh, "北京"},
		{"gbk.xml", "", zh, "镕"},
		{"gb18030.xml", "", zh, "𠀀"},
		{"big5.xml", "", zhTW, "臺北"},
		{"shift_jis.xml", "", ja, "東京"},
		{"euc-jp.xml", "", ja, "大阪"},
		{"koi8-r.xml", "", ru, "Москва"},
		{"utf-16le-bom.xml", "", mixed, "Ωmega"},
		{"utf-16be-bom.xml", "", mixed, "Ωmega"},
		{"utf-16le-nobom.xml", "", mixed, "Ωmega"},
		// Served as text/plain with a charset: the header is all there is.
		{"header-only-koi8-r.xml", "text/plain; charset=KOI8-R", ru, "Москва"},
		{"header-only-shift_jis.xml", `application/xml; charset="shift_jis"`, ja, "東京"},
		// Valid UTF-8 stays UTF-8 whatever the prolog and header claim.
		{"utf8-declared-latin1.xml", "text/xml; charset=iso-8859-1", fr, "Noël"},
		// The prolog and the header disagree: the prolog wins.
		{"prolog-vs-header.xml", "text/xml; charset=ISO-8859-1", ru, "Москва"},
		// Declared UTF-8 but is not: repaired, never fatal.
		{"latin1-declared-utf8.xml", "", "\uFFFDlys\uFFFDe : \uFFFD r\uFFFDforme \uFFFD \uFFFD l'\uFFFDt\uFFFD", "No\uFFFDl"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "charset", tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			feed, err := ParseFeed(body, tt.contentType, "https://example.com/feed")
			if err != nil {
				t.Fatalf("ParseFeed: %v", err)
			}
			if feed.Title != tt.wantTitle {
				t.Errorf("title = %q, want %q", feed.Title, tt.wantTitle)
			}
			if len(feed.Items) != 1 || feed.Items[0].Title != tt.wantItem {
				t.Fatalf("items = %+v, want one titled %q", feed.Items, tt.wantItem)
			}
		})
	}
}

func TestParseToUTF8(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		want        string
	}{
		{"valid utf-8 untouched", "<a>é</a>", "text/xml; charset=koi8-r", "<a>é</a>"},
		{"utf-8 bom dropped", "\xEF\xBB\xBF<a>é</a>", "", "<a>é</a>"},
		{"header charset", "<a>\xE9</a>", "text/xml; charset=iso-8859-1", "<a>é</a>"},
		{"malformed header still read", "<a>\xE9</a>", "text/xml; charset=windows-1252; charset", "<a>é</a>"},
		{"unknown labels ignored: windows-1252 guess", `<?xml version="1.0" encoding="x-bogus"?><a>` + "\x93q\x94</a>", "text/xml; charset=nope", `<?xml version="1.0" encoding="UTF-8"?><a>“q”</a>`},
		{"undeclared: stray bytes as windows-1252, utf-8 kept", "<a>é \x80</a>", "", "<a>é €</a>"},
		{"declared utf-8 repaired", "<a>\xE9t\xE9</a>", "text/xml; charset=utf-8", "<a>\uFFFDt\uFFFD</a>"},
		{"prolog rewritten after decoding", `<?xml version='1.0' encoding='iso-8859-1'?><a>` + "\xE9</a>", "", `<?xml version='1.0' encoding='UTF-8'?><a>é</a>`},
		{"prolog rewritten when the bytes are utf-8", `<?xml version="1.0" encoding="ISO-8859-1"?><a>é</a>`, "", `<?xml version="1.0" encoding="UTF-8"?><a>é</a>`},
		{"utf-16 label without utf-16 bytes", `<?xml version="1.0" encoding="utf-16"?><a>` + "\xE9</a>", "", `<?xml version="1.0" encoding="UTF-8"?><a>é</a>`},
		{"json in utf-16be", "\xFE\xFF\x00{\x00}", "", "{}"},
		{"odd utf-16 tail repaired", "\xFF\xFE<\x00a\x00>", "", "<a\uFFFD"},
		{"utf-16be without a bom", "\x00<\x00a\x00>\x00\xE9", "", "<a>é"},
		{"utf-16le without a bom", "<\x00a\x00>\x00\xE9\x00", "", "<a>é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(parseToUTF8([]byte(tt.body), tt.contentType))
			if got != tt.want {
				t.Errorf("parseToUTF8 = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestParseFeedXMLSafety feeds DTD attacks to ParseFeed: nothing expands,
// nothing is fetched, and parsing finishes at once with the items.
func TestParseFeedXMLSafety(t *testing.T) {
	var fetched atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		io.WriteString(w, "EXTERNAL")
	}))
	defer srv.Close()

	var bomb strings.Builder
	bomb.WriteString(`<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">`)
	prev := "lol"
	for i := 1; i <= 9; i++ {
		name := fmt.Sprintf("lol%d", i)
		bomb.WriteString(`<!ENTITY ` + name + ` "` + strings.Repeat("&"+prev+";", 10) + `">`)
		prev = name
	}
	bomb.WriteString(`]><rss version="2.0"><channel><title>Bomb &lol9;</title><item><guid>1</guid><title>a &lol9; b</title></item></channel></rss>`)

	item := func(title string) string {
		return `<rss version="2.0"><channel><title>T</title><item><guid>1</guid><title>` + title + `</title></item></channel></rss>`
	}
	tests := []struct {
		name      string
		body      string
		wantTitle string // of the first item
	}{
		{"billion laughs", bomb.String(), "a b"},
		{"external entity: file", `<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + item("x&xxe;y"), "xy"},
		{"external entity: http", `<!DOCTYPE rss [<!ENTITY xxe SYSTEM "` + srv.URL + `/xxe">]>` + item("x&xxe;y"), "xy"},
		{"parameter entity to http", `<!DOCTYPE rss [<!ENTITY % p SYSTEM "` + srv.URL + `/dtd"> %p;]>` + item("ok"), "ok"},
		{"external DTD", `<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "` + srv.URL + `/rss-0.91.dtd">` + item("caf&eacute; &amp; co"), "café & co"},
		{"atom with an entity bomb", `<!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>1</id><title>&b;&b;&b;</title></entry></feed>`, ""},
		{"declared character entity kept", `<!DOCTYPE rss [<!ENTITY nbsp "&#160;"><!-- ] > --><!ATTLIST x y CDATA "]>">]>` + item("a&nbsp;b"), "a b"},
		{"entity in CDATA is text", `<!DOCTYPE rss [<!ENTITY e "E">]>` + item("<![CDATA[&e;]]>"), "&e;"},
		{"forbidden characters dropped", item("a&#0;b&#x1;c&#xFFFE;d\x01e\uFFFFf&#65;"), "abcdefA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			feed, err := ParseFeed([]byte(tt.body), "application/rss+xml", "https://example.com/feed")
			if d := time.Since(start); d > time.Second {
				t.Errorf("parsing took %v", d)
			}
			if err != nil {
				t.Fatalf("ParseFeed: %v", err)
			}
			if len(feed.Items) != 1 {
				t.Fatalf("items = %+v, want 1", feed.Items)
			}
			if got := feed.Items[0].Title; got != tt.wantTitle {
				t.Errorf("title = %q, want %q", got, tt.wantTitle)
			}
		})
	}
	if n := fetched.Load(); n != 0 {
		t.Errorf("the entity server was asked %d times; nothing may be fetched", n)
	}
}

// TestParseFeedTruncated cuts feeds mid-item: the complete items survive.
func TestParseFeedTruncated(t *testing.T) {
	rss := `<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>` +
		`<item><guid>1</guid><title>One</title></item>` +
		`<item><guid>2</guid><title>Two</title><content:encoded><![CDATA[<p>two</p>]]></content:encoded></item>` +
		`<item><guid>3</guid><title>Thr`
	atom := `<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>` +
		`<entry><id>a</id><title>Alpha</title></entry><entry><id>b</id><title type="html">&lt;b&gt;Beta`
	rdf := `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">` +
		`<channel><title>R</title></channel><item rdf:about="https://e.com/1"><title>Uno</title><link>https://e.com/1</link></item><item><title>Du`
	tests := []struct {
		name       string
		body       string
		wantTitles []string
		wantErr    string
	}{
		{"rss cut inside an item", rss, []string{"One", "Two"}, ""},
		{"rss cut inside a CDATA section", rss[:strings.Index(rss, "two</p>")], []string{"One"}, ""},
		{"rss cut inside a tag", rss[:strings.Index(rss, "<item><guid>2")+4], []string{"One"}, ""},
		{"atom cut inside an entry", atom, []string{"Alpha"}, ""},
		{"rss 1.0 cut inside an item", rdf, []string{"Uno"}, ""},
		{"cut before any item ends", rss[:strings.Index(rss, "</item>")], nil, "truncated feed: no complete item before the body ends"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed, err := ParseFeed([]byte(tt.body), "", "https://example.com/feed")
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one starting with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFeed: %v", err)
			}
			if !feed.Truncated {
				t.Error("Truncated not set")
			}
			var titles []string
			for _, it := range feed.Items {
				titles = append(titles, it.Title)
			}
			if !slices.Equal(titles, tt.wantTitles) {
				t.Errorf("titles = %q, want %q", titles, tt.wantTitles)
			}
		})
	}
	full, err := ParseFeed([]byte(rss+`ee</title></item></channel></rss>`), "", "")
	if err != nil || full.Truncated || len(full.Items) != 3 {
		t.Errorf("complete feed: truncated %v, %d items, err %v", full != nil && full.Truncated, len(full.Items), err)
	}
}

// TestParseFeedSniffsBytes: what a body is comes from its bytes, never
// from the Content-Type.
func TestParseFeedSniffsBytes(t *testing.T) {
	rss := `<?xml version="1.0"?><rss version="2.0"><channel><title>Sniffed</title><item><guid>1</guid><title>é</title></item></channel></rss>`
	utf16 := func(s string) string {
		var b strings.Builder
		b.WriteString("\xFF\xFE")
		for _, r := range s {
			b.WriteByte(byte(r))
			b.WriteByte(byte(r >> 8))
		}
		return b.String()
	}
	tests := []struct {
		name, contentType, body string
	}{
		{"served as text/plain", "text/plain", rss},
		{"served as text/html", "text/html; charset=utf-8", rss},
		{"served as octet-stream", "application/octet-stream", rss},
		{"utf-8 bom and leading blank lines", "application/xml", "\xEF\xBB\xBF\n\n" + rss},
		{"utf-16 with a bom, as text/html", "text/html", utf16(rss)},
		{"json feed as text/plain", "text/plain", `{"version":"https://jsonfeed.org/version/1.1","title":"Sniffed","items":[{"id":"1","title":"é"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed, err := ParseFeed([]byte(tt.body), tt.contentType, "https://example.com/")
			if err != nil {
				t.Fatalf("ParseFeed: %v", err)
			}
			if feed.Title != "Sniffed" || len(feed.Items) != 1 || feed.Items[0].Title != "é" {
				t.Errorf("feed = %+v", feed)
			}
		})
	}
	_, err := ParseFeed(parseReadFixture(t, "page.html"), "application/rss+xml", "https://blog.example.com/")
	if err == nil || !strings.HasPrefix(err.Error(), "this is an HTML page, not a feed; it advertises: ") {
		t.Errorf("HTML page served as RSS: error = %v", err)
	}
}

func TestParseFeedPollHint(t *testing.T) {
	rss := func(channel string) string {
		return `<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>t</title>` + channel + `</channel></rss>`
	}
	tests := []struct {
		name string
		body string
		want time.Duration
	}{
		{"none", rss(""), 0},
		{"ttl in minutes", rss("<ttl>60</ttl>"), time.Hour},
		{"ttl with spaces", rss("<ttl> 15 </ttl>"), 15 * time.Minute},
		{"ttl zero", rss("<ttl>0</ttl>"), 0},
		{"ttl negative", rss("<ttl>-5</ttl>"), 0},
		{"ttl garbage", rss("<ttl>soon</ttl>"), 0},
		{"ttl absurd", rss("<ttl>99999999999</ttl>"), 0},
		{"sy hourly twice", rss("<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>"), 30 * time.Minute},
		{"sy daily by default", rss("<sy:updateFrequency>4</sy:updateFrequency>"), 6 * time.Hour},
		{"sy frequency 1 by default", rss("<sy:updatePeriod> Weekly </sy:updatePeriod>"), 7 * 24 * time.Hour},
		{"sy zero frequency", rss("<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>0</sy:updateFrequency>"), 0},
		{"sy unknown period", rss("<sy:updatePeriod>fortnightly</sy:updatePeriod>"), 0},
		{"sy below a minute", rss("<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>3600</sy:updateFrequency>"), 0},
		{"ttl and sy: the larger", rss("<ttl>10</ttl><sy:updatePeriod>hourly</sy:updatePeriod>"), time.Hour},
		{"atom with sy", `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><title>a</title><sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>48</sy:updateFrequency></feed>`, 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed, err := ParseFeed([]byte(tt.body), "", "https://example.com/")
			if err != nil {
				t.Fatal(err)
			}
			if feed.PollHint != tt.want {
				t.Errorf("PollHint = %v, want %v", feed.PollHint, tt.want)
			}
		})
	}
}

func TestParseFeedTitlesArePlainText(t *testing.T) {
	rss := func(title string) string {
		return `<rss version="2.0"><channel><title>t</title><item><guid>1</guid><title>` + title + `</title></item></channel></rss>`
	}
	tests := []struct {
		name, body, want string
	}{
		{"rss title with escaped tags", rss("&lt;b&gt;Bold&lt;/b&gt; move"), "Bold move"},
		{"rss title in CDATA with tags", rss("<![CDATA[<em>Breaking</em>: news<br/>now]]>"), "Breaking: news now"},
		{"double-escaped entity", rss("Fish &amp;amp; chips"), "Fish & chips"},
		{"a less-than that is not a tag", rss("x &lt;y and 1 &lt; 2"), "x <y and 1 < 2"},
		{"unknown element kept as text", rss("&lt;bold&gt; claim"), "<bold> claim"},
		{"comment dropped", rss("a&lt;!-- c --&gt;b"), "ab"},
		{"atom html title", `<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title><entry><id>1</id><title type="html">&lt;i&gt;Caf&amp;eacute;&lt;/i&gt; &amp;amp; bar</title></entry></feed>`, "Café & bar"},
		{"atom xhtml title", `<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title><entry><id>1</id><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><b>X</b>html</div></title></entry></feed>`, "Xhtml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed, err := ParseFeed([]byte(tt.body), "", "https://example.com/")
			if err != nil {
				t.Fatal(err)
			}
			if got := feed.Items[0].Title; got != tt.want {
				t.Errorf("title = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestParseFeedDeepNesting: gofeed recurses per element level, so a
// million nested elements would overflow the stack and kill the process.
// Nesting is bounded before gofeed sees the body; HTML left unclosed
// inside a feed, or elements closed by an outer end tag, do not count.
func TestParseFeedDeepNesting(t *testing.T) {
	nested := func(open, close string, n int) string {
		return strings.Repeat(open, n) + strings.Repeat(close, n)
	}
	rss := func(inside string) string {
		return `<rss version="2.0" xmlns:x="urn:x"><channel><title>t</title><item><guid>1</guid><title>a</title>` + inside + `</item></channel></rss>`
	}
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{"a million nested extension elements", rss(nested("<x:a>", "</x:a>", 1_000_000)), "parse feed: elements nested more than 10000 deep"},
		{"a million unclosed elements", rss(strings.Repeat("<x:a>", 1_000_000)), "parse feed: elements nested more than 10000 deep"},
		{"deep atom xhtml", `<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><content type="xhtml">` + nested("<div>", "</div>", 20000) + `</content></entry></feed>`, "parse feed: elements nested more than 10000 deep"},
		{"nine thousand levels are fine", rss(nested("<x:a>", "</x:a>", 9000)), ""},
		{"self-closing elements do not nest", rss(strings.Repeat(`<x:a b="/>"/>`, 20000)), ""},
		{"unclosed html closed by its parent", rss(strings.Repeat(`<description><p>x<br>y<img src="a>b"></description>`, 20000)), ""},
		{"deep html page is still an html page", "<!DOCTYPE html><html><body>" + strings.Repeat("<div>", 20000), "this is an HTML page, not a feed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := ParseFeed([]byte(tt.body), "", "https://example.com/")
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error = %v, want none", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestDetectFeedTypeReadsTheStart: detecting a feed's type from the start
// of its body gives gofeed's answer on the whole body, wherever the root
// element falls, across the cut included.
func TestDetectFeedTypeReadsTheStart(t *testing.T) {
	roots := []string{
		`<rss version="2.0"><channel><title>t</title></channel></rss>`,
		`<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>`,
		`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"></rdf:RDF>`,
		`<rssfeed><channel/></rssfeed>`,
		`<html><body>not a feed</body></html>`,
	}
	for _, root := range roots {
		for _, at := range []int{0, 100, detectHead - 20, detectHead - 5, detectHead - 3, detectHead - 1, detectHead, detectHead + 1, 3 * detectHead} {
			pad := max(at-len(`<?xml version="1.0"?><!---->`), 0)
			body := []byte(`<?xml version="1.0"?><!--` + strings.Repeat("x", pad) + `-->` + root + strings.Repeat(" ", detectHead))
			want := gofeed.DetectFeedType(bytes.NewReader(body))
			if got := detectFeedType(body); got != want {
				t.Errorf("root %.20q at %d: detected %v, gofeed says %v", root, at, got, want)
			}
			if want == gofeed.FeedTypeUnknown && !strings.HasPrefix(root, "<html") && !strings.HasPrefix(root, "<rssfeed") {
				t.Errorf("root %.20q at %d: gofeed does not detect it; the case tests nothing", root, at)
			}
		}
	}
}
