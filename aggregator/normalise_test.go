package aggregator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestItemIdentity(t *testing.T) {
	published := time.Date(2024, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600)) // 03:04:05Z
	tests := []struct {
		name string
		item ParsedItem
		want string
	}{
		{
			name: "guid first",
			item: ParsedItem{GUID: "tag:example.org,2024:1", Link: "https://example.org/1", Title: "Hello"},
			want: "tag:example.org,2024:1",
		},
		{
			name: "guid trimmed",
			item: ParsedItem{GUID: "  42\n", Link: "https://example.org/1"},
			want: "42",
		},
		{
			name: "link when no guid",
			item: ParsedItem{GUID: " ", Link: "https://example.org/1", Title: "Hello"},
			want: "https://example.org/1",
		},
		{
			// Cross-checked with Python:
			// sha256(b'\x02\x05Hello\x142024-01-02T03:04:05Z').hexdigest()
			name: "hash of title and published time (UTC)",
			item: ParsedItem{Title: "  Hello ", Published: published, Summary: "ignored"},
			want: "hash:e755f435b92b3a33a4c2b1e6c293c6f8814030b16b56f670bb4590cf3a81080a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ItemIdentity(tt.item); got != tt.want {
				t.Errorf("ItemIdentity = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestItemIdentityHashFallbackDistinguishes(t *testing.T) {
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		a, b ParsedItem
	}{
		{"different titles", ParsedItem{Title: "a", Published: when}, ParsedItem{Title: "b", Published: when}},
		{"different times", ParsedItem{Title: "a", Published: when}, ParsedItem{Title: "a", Published: when.Add(time.Second)}},
		{"title and date vs title only", ParsedItem{Title: "a", Published: when}, ParsedItem{Title: "a"}},
		{"no title nor date: by body", ParsedItem{Summary: "one"}, ParsedItem{Summary: "two"}},
		{"body fields are separated", ParsedItem{Summary: "ab"}, ParsedItem{Summary: "a", Content: "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := ItemIdentity(tt.a), ItemIdentity(tt.b)
			if !strings.HasPrefix(a, "hash:") || !strings.HasPrefix(b, "hash:") {
				t.Fatalf("identities %q and %q are not hashes", a, b)
			}
			if a == b {
				t.Errorf("both items have identity %q", a)
			}
		})
	}
}

func TestItemID(t *testing.T) {
	// Golden values cross-checked with Python's
	// uuid.uuid5(uuid.NAMESPACE_URL, source + "\n" + identity).
	tests := []struct {
		source, identity, want string
	}{
		{"example-news", "tag:example.org,2024:first", "urn:uuid:b45e8919-fa1c-52f9-a88e-73178b2fee07"},
		{"example-news", "https://example.org/news/1", "urn:uuid:63f32caa-089f-52b6-b4e7-4d2d596c3661"},
	}
	for _, tt := range tests {
		t.Run(tt.identity, func(t *testing.T) {
			if got := ItemID(tt.source, tt.identity); got != tt.want {
				t.Errorf("ItemID(%q, %q) = %q, want %q", tt.source, tt.identity, got, tt.want)
			}
		})
	}
	if ItemID("a", "x") == ItemID("b", "x") {
		t.Error("the same identity in two sources has the same id")
	}
	// The RFC 4122 example-style check: uuid5(NAMESPACE_DNS, "python.org").
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got, want := normUUIDv5(dns, "python.org"), "886313e1-3b8a-5372-9b90-0c9aee199e5d"; got != want {
		t.Errorf("normUUIDv5 = %s, want %s", got, want)
	}
}

func normTestItem() ParsedItem {
	return ParsedItem{
		GUID:       "g1",
		Link:       "https://example.org/1",
		Title:      "Title",
		Summary:    "<p>Summary</p>",
		Content:    "<p>Content</p>",
		Authors:    []string{"Ada", "Bob"},
		Categories: []string{"go", "feeds"},
		Published:  time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		Updated:    time.Date(2024, 1, 3, 3, 4, 5, 0, time.UTC),
	}
}

func TestNormaliseItemsHash(t *testing.T) {
	hashOf := func(p ParsedItem) string {
		items := NormaliseItems("src", &ParsedFeed{Items: []ParsedItem{p}}, 0)
		if len(items) != 1 {
			t.Fatalf("got %d items", len(items))
		}
		return items[0].Hash
	}
	base := hashOf(normTestItem())
	if again := hashOf(normTestItem()); again != base {
		t.Fatalf("the same item hashes to %s and %s", base, again)
	}
	if len(base) != 64 {
		t.Fatalf("hash %q is not hex SHA-256", base)
	}

	tests := []struct {
		name   string
		change func(p *ParsedItem)
	}{
		{"guid", func(p *ParsedItem) { p.GUID = "g2" }},
		{"link", func(p *ParsedItem) { p.Link = "https://example.org/2" }},
		{"title", func(p *ParsedItem) { p.Title = "Title!" }},
		{"summary", func(p *ParsedItem) { p.Summary = "<p>Summary.</p>" }},
		{"content", func(p *ParsedItem) { p.Content = "" }},
		{"author added", func(p *ParsedItem) { p.Authors = append(p.Authors, "Cy") }},
		{"authors reordered", func(p *ParsedItem) { p.Authors = []string{"Bob", "Ada"} }},
		{"authors merged", func(p *ParsedItem) { p.Authors = []string{"AdaBob"} }},
		{"author moved to categories", func(p *ParsedItem) {
			p.Authors = []string{"Ada"}
			p.Categories = []string{"Bob", "go", "feeds"}
		}},
		{"category", func(p *ParsedItem) { p.Categories = []string{"go"} }},
		{"published", func(p *ParsedItem) { p.Published = p.Published.Add(time.Second) }},
		{"published unknown", func(p *ParsedItem) { p.Published = time.Time{} }},
		{"updated", func(p *ParsedItem) { p.Updated = p.Updated.Add(time.Nanosecond) }},
		{"text moved between fields", func(p *ParsedItem) {
			p.Title = "TitleSum"
			p.Summary = "mary"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := normTestItem()
			tt.change(&p)
			if got := hashOf(p); got == base {
				t.Errorf("hash unchanged after changing the %s", tt.name)
			}
		})
	}

	t.Run("time zone does not matter", func(t *testing.T) {
		p := normTestItem()
		p.Published = p.Published.In(time.FixedZone("X", -5*3600))
		if got := hashOf(p); got != base {
			t.Errorf("the same instant in another zone changed the hash")
		}
	})
}

func TestNormaliseItems(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	feed := &ParsedFeed{Items: []ParsedItem{
		{
			GUID: "a", Link: " https://example.org/a ", Title: " First ", Summary: " s ", Content: " c ",
			Authors: []string{" Ada ", ""}, Categories: []string{"x"},
			Published: time.Date(2024, 1, 2, 4, 0, 0, 0, cet),
		},
		{GUID: "b", Title: "Second"},
		{GUID: "a", Title: "Duplicate of the first"},
		{Link: "https://example.org/c", Title: "Third"},
		{Link: "https://example.org/c", Title: "Duplicate of the third"},
		{Title: "Fourth"},
	}}
	items := NormaliseItems("news", feed, 0)

	var titles []string
	for _, it := range items {
		titles = append(titles, it.Title)
	}
	if got, want := strings.Join(titles, "|"), "First|Second|Third|Fourth"; got != want {
		t.Fatalf("titles = %s, want %s (first of each identity kept)", got, want)
	}

	first := items[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"id", first.ID, ItemID("news", "a")},
		{"source", first.Source, "news"},
		{"identity", first.Identity, "a"},
		{"link trimmed", first.Link, "https://example.org/a"},
		{"title trimmed", first.Title, "First"},
		{"summary trimmed", first.Summary, "s"},
		{"content trimmed", first.Content, "c"},
		{"authors", strings.Join(first.Authors, "|"), "Ada"},
		{"published in UTC", first.Published, time.Date(2024, 1, 2, 3, 0, 0, 0, time.UTC)},
		{"updated unknown stays zero", first.Updated.IsZero(), true},
		{"second published unknown stays zero", items[1].Published.IsZero(), true},
		{"third identity is its link", items[2].Identity, "https://example.org/c"},
		{"fourth identity is a hash", strings.HasPrefix(items[3].Identity, "hash:"), true},
		{"first seen left to storage", first.FirstSeen.IsZero(), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}

	// The items own their slices.
	feed.Items[0].Categories[0] = "changed"
	if items[0].Categories[0] != "x" {
		t.Error("Item.Categories aliases the parsed item's slice")
	}

	if got := NormaliseItems("news", nil, 0); got != nil {
		t.Errorf("NormaliseItems(nil) = %v, want nil", got)
	}
}

// TestNormaliseGolden pins the ids and hashes of a parsed fixture: a change
// here changes the public ids of stored items or makes every stored item
// look updated, so it must be deliberate (go test -update-parse).
func TestNormaliseGolden(t *testing.T) {
	for _, fixture := range []string{"rss2.xml", "atom.xml"} {
		t.Run(fixture, func(t *testing.T) {
			feed, err := ParseFeed(parseReadFixture(t, fixture), "", "https://example.org/feeds/rss")
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(NormaliseItems("example", feed, 0)); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "parse", fixture+".items.golden.json")
			if *parseUpdateGolden {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update-parse to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("NormaliseItems(%s) differs from %s:\n got: %s\nwant: %s", fixture, golden, buf.Bytes(), want)
			}
		})
	}
}

func TestNormaliseItemsMaxItems(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }
	feed := &ParsedFeed{Items: []ParsedItem{
		{GUID: "old", Published: day(1)},
		{GUID: "new", Published: day(9)},
		{GUID: "undated"},
		{GUID: "mid-a", Published: day(5)},
		{GUID: "mid-b", Published: day(5)},
		{GUID: "newer", Published: day(7)},
		{GUID: "new", Published: day(30)}, // a duplicate does not take a place
	}}
	tests := []struct {
		name string
		max  int
		want string // identities, in feed order
	}{
		{"all fit", 10, "old|new|undated|mid-a|mid-b|newer"},
		{"exactly", 6, "old|new|undated|mid-a|mid-b|newer"},
		{"undated counts as oldest", 5, "old|new|mid-a|mid-b|newer"},
		{"newest kept, feed order", 3, "new|mid-a|newer"},
		{"ties in feed order", 2, "new|newer"},
		{"one", 1, "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, it := range NormaliseItems("s", feed, tt.max) {
				got = append(got, it.Identity)
			}
			if strings.Join(got, "|") != tt.want {
				t.Errorf("kept %s, want %s", strings.Join(got, "|"), tt.want)
			}
		})
	}
	t.Run("default is 1000", func(t *testing.T) {
		big := &ParsedFeed{}
		for i := range 1500 {
			big.Items = append(big.Items, ParsedItem{GUID: fmt.Sprint(i)})
		}
		for _, max := range []int{0, -1} {
			if got := len(NormaliseItems("s", big, max)); got != 1000 {
				t.Errorf("maxItems %d: %d items, want 1000", max, got)
			}
		}
	})
}

func TestNormaliseItemsLimits(t *testing.T) {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	names := make([]string, 80)
	for i := range names {
		names[i] = fmt.Sprintf("name %d", i)
	}
	tests := []struct {
		name  string
		item  ParsedItem
		check func(t *testing.T, it Item)
	}{
		{"title cut at 1000 runes", ParsedItem{GUID: "1", Title: long("é", 1500)}, func(t *testing.T, it Item) {
			if it.Title != long("é", 1000) {
				t.Errorf("title: %d runes", utf8.RuneCountInString(it.Title))
			}
		}},
		{"short multibyte title kept", ParsedItem{GUID: "1", Title: long("中", 999)}, func(t *testing.T, it Item) {
			if it.Title != long("中", 999) {
				t.Errorf("title: %d runes", utf8.RuneCountInString(it.Title))
			}
		}},
		{"link over 4 KiB dropped", ParsedItem{GUID: "1", Link: "https://e.com/" + long("a", 5000)}, func(t *testing.T, it Item) {
			if it.Link != "" {
				t.Errorf("link of %d bytes kept", len(it.Link))
			}
		}},
		{"link of 4 KiB kept", ParsedItem{GUID: "1", Link: "https://e.com/" + long("a", 4096-14)}, func(t *testing.T, it Item) {
			if len(it.Link) != 4096 {
				t.Errorf("link = %d bytes, want 4096", len(it.Link))
			}
		}},
		{"summary and content cut at 256 KiB on a rune boundary", ParsedItem{GUID: "1", Summary: "x" + long("€", 100000), Content: long("<p>a</p>", 40000)}, func(t *testing.T, it Item) {
			if len(it.Summary) > 256<<10 || len(it.Summary) < 256<<10-3 || !utf8.ValidString(it.Summary) {
				t.Errorf("summary: %d bytes, valid %v", len(it.Summary), utf8.ValidString(it.Summary))
			}
			if len(it.Content) != 256<<10 {
				t.Errorf("content: %d bytes", len(it.Content))
			}
		}},
		{"at most 50 authors and categories of 200 runes", ParsedItem{GUID: "1", Authors: append([]string{long("ж", 300)}, names...), Categories: names}, func(t *testing.T, it Item) {
			if len(it.Authors) != 50 || len(it.Categories) != 50 {
				t.Errorf("%d authors, %d categories, want 50 each", len(it.Authors), len(it.Categories))
			}
			if it.Authors[0] != long("ж", 200) || it.Categories[49] != "name 49" {
				t.Errorf("authors[0] = %d runes, categories[49] = %q", utf8.RuneCountInString(it.Authors[0]), it.Categories[49])
			}
		}},
		{"over-long guid hashed", ParsedItem{GUID: long("g", 3000)}, func(t *testing.T, it Item) {
			if !strings.HasPrefix(it.Identity, "hash:") || len(it.Identity) != 5+64 {
				t.Errorf("identity = %.80q", it.Identity)
			}
		}},
		{"control characters removed, tab and newline kept", ParsedItem{GUID: "g\x00", Title: "a\x01b\x7fc\u0085d\uFFFEe", Summary: "s\x1b[31m\tt\nu\r", Authors: []string{"A\x00da"}, Categories: []string{"\x02"}}, func(t *testing.T, it Item) {
			if it.Identity != "g" || it.Title != "abcde" || it.Summary != "s[31m\tt\nu" || it.Authors[0] != "Ada" || it.Categories != nil {
				t.Errorf("item = %+v", it)
			}
		}},
		{"invalid UTF-8 repaired", ParsedItem{GUID: "\xff1", Title: "caf\xe9", Content: "\xc3(", Authors: []string{"\xed\xa0\x80x"}}, func(t *testing.T, it Item) {
			for _, s := range []string{it.Identity, it.Title, it.Content, it.Authors[0]} {
				if !utf8.ValidString(s) || !strings.Contains(s, "\uFFFD") {
					t.Errorf("%q not repaired", s)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := NormaliseItems("s", &ParsedFeed{Items: []ParsedItem{tt.item}}, 0)
			if len(items) != 1 {
				t.Fatalf("%d items", len(items))
			}
			tt.check(t, items[0])
		})
	}
}

func TestNormPlainText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Plain", "Plain"},
		{"  spaced \n out\t", "spaced out"},
		{"<b>Bold</b> &amp; <I class='x'>it</I>", "Bold & it"},
		{"line<br>break<br/>s", "line break s"},
		{"1 < 2 and 3 > 2", "1 < 2 and 3 > 2"},
		{"x<y", "x<y"},
		{"<notatag>", "<notatag>"},
		{"<b unterminated", "<b unterminated"},
		{"a<!-- hidden -->b", "ab"},
		{"AT&T &copy; 2024 &#8364;", "AT&T © 2024 €"},
		{"&lt;b&gt;", "<b>"},
	}
	for _, tt := range tests {
		if got := normPlainText(tt.in); got != tt.want {
			t.Errorf("normPlainText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzNormText checks normText, whose fast path returns clean text as it
// is, against mapping every rune.
func FuzzNormText(f *testing.F) {
	for _, s := range []string{
		"", "plain ASCII title", "tab\tand\nnewline", "bell\a", "del\x7f", "carriage\rreturn",
		"Genève – “quoted”", "C1 \u0085 next line", "\ufffe\uffff", "replacement \ufffd kept",
		"invalid \xff byte", "truncated \xe2\x80", "南南人权论坛", "\U0001F600 emoji",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' && r != '\n' || r >= 0x7F && r <= 0x9F || r == 0xFFFE || r == 0xFFFF {
				return -1
			}
			return r
		}, s)
		if got := normText(s); got != want {
			t.Fatalf("normText(%q) = %q, want %q", s, got, want)
		}
	})
}
