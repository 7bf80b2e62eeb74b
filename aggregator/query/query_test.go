package query

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// news is the item most cases match against.
var news = Fields{
	Title:      "Forum's agenda: human-rights defenders meet in Genève",
	Summary:    `<p>The <b>UN</b> &amp; civil society gathered at the <a href="https://example.org/platform">Palais</a>.</p><script>var tracker = "hidden";</script><style>.lead{colour:red}</style>`,
	Content:    `<div><p>Delegates from 40 countries discussed free speech, press freedom and the right to protest.</p><p>Next session: spring.</p></div>`,
	Categories: []string{"World", "Human Rights", "Switzerland"},
	Authors:    []string{"Amélie Dupont"},
	Source:     "swiss-wire",
	SourceTags: []string{"europe", "public-broadcaster"},
}

type matchCase struct {
	name  string
	query string
	doc   *Fields // nil: news
	want  bool
	err   string // a parse error is expected instead of a match result
}

func matchCases() []matchCase {
	title := func(s string) *Fields { return &Fields{Title: s} }
	summary := func(s string) *Fields { return &Fields{Summary: s} }
	return []matchCase{
		// Whole words and prefixes.
		{name: "bare term matches word before comma", query: "forum", doc: title("The Forum, today"), want: true},
		{name: "bare term matches before apostrophe", query: "forum", doc: title("the forum's chair"), want: true},
		{name: "bare term is case insensitive", query: "FORUM", doc: title("a forum"), want: true},
		{name: "bare term does not match longer word", query: "forum", doc: title("online forums"), want: false},
		{name: "bare term does not match inside word", query: "forum", doc: title("a new platform"), want: false},
		{name: "apostrophe ends word", query: "s", doc: title("forum's"), want: true},
		{name: "prefix matches longer word", query: "forum*", doc: title("online forums"), want: true},
		{name: "prefix matches the word itself", query: "forum*", doc: title("a forum"), want: true},
		{name: "prefix does not match inside word", query: "form*", doc: title("a platform"), want: false},
		{name: "multi-word prefix", query: "human-righ*", want: true},
		{name: "multi-word prefix needs order", query: "rights-hum*", want: false},
		{name: "digits are words", query: "40", want: true},

		// Phrases.
		{name: "phrase matches hyphenated words", query: `"human rights"`, want: true},
		{name: "phrase ignores punctuation between words", query: `"free speech press"`, want: true},
		{name: "phrase needs consecutive words", query: `"human defenders"`, want: false},
		{name: "phrase needs word order", query: `"rights human"`, want: false},
		{name: "hyphenated term is a phrase", query: "human-rights", doc: title("human rights"), want: true},
		{name: "phrase does not span fields", query: `"genève the"`, want: false},
		{name: "phrase does not span categories", query: `"world human"`, want: false},
		{name: "phrase within a category", query: `"human rights"`, doc: &Fields{Categories: []string{"Human Rights"}}, want: true},
		{name: "phrase across block elements", query: `"protest next"`, want: true},
		{name: "curly quotes make a phrase", query: "“human rights”", want: true},
		{name: "curly quoted phrase needs consecutive words", query: "“human defenders”", want: false},

		// Normalisation.
		{name: "diacritics removed from document", query: "geneve", want: true},
		{name: "diacritics removed from query", query: "Genève", doc: title("GENEVE talks"), want: true},
		{name: "NFKC fullwidth letters", query: "ｆｏｒｕｍ", doc: title("forum"), want: true},
		{name: "NFKC ligature", query: "finance", doc: title("ﬁnance news"), want: true},
		{name: "case folding sharp s", query: "strasse", doc: title("Hauptstraße"), want: false},
		{name: "case folding sharp s whole word", query: "strasse", doc: title("Straße"), want: true},
		{name: "greek final sigma", query: "ΟΔΟΣ", doc: title("οδος"), want: true},
		{name: "stroke letters fold", query: "lodz", doc: title("Łódź"), want: true},
		{name: "entities decoded in summary", query: "ete", doc: summary("l'&eacute;t&eacute; chaud"), want: true},
		{name: "numeric entity decoded", query: "cafe", doc: summary("caf&#233;"), want: true},
		{name: "entities decoded in category", query: "cafe", doc: &Fields{Categories: []string{"Caf&eacute;"}}, want: true},
		{name: "script content is not text", query: "tracker", want: false},
		{name: "style content is not text", query: "lead", want: false},
		{name: "tag attributes are not text", query: "platform", want: false},
		{name: "link text is text", query: "palais", want: true},
		{name: "inline tag does not split words", query: "geneve", doc: summary("<b>Gen</b>&egrave;ve"), want: true},
		{name: "block tag splits words", query: "rights", doc: summary("<p>human</p><p>rights</p>"), want: true},
		{name: "html in title stripped", query: "b", doc: title("<b>Bold</b> news"), want: false},
		{name: "soft hyphen does not split a word", query: "geneva", doc: summary("Ge&shy;ne\u00adva"), want: true},
		{name: "plain summary with lone ampersand", query: "at", doc: summary("AT&T results"), want: true},

		// Scripts written without spaces.
		{name: "CJK term matches as substring", query: "人权", doc: title("南南人权论坛"), want: true},
		{name: "CJK term absent", query: "人民", doc: title("南南人权论坛"), want: false},
		{name: "CJK term does not span punctuation", query: "人权论坛", doc: title("南南人权，论坛"), want: false},
		{name: "katakana with prolonged sound mark", query: "コーヒー", doc: title("今日のコーヒー豆"), want: true},
		{name: "halfwidth katakana normalised", query: "ｺｰﾋｰ", doc: title("コーヒー"), want: true},
		{name: "voiced kana is not its unvoiced base", query: "か", doc: title("がっこう"), want: false},
		{name: "Thai substring", query: "มนุษย", doc: title("สิทธิมนุษยชนสากล"), want: true},
		{name: "Thai absent", query: "ประชาธิปไตย", doc: title("สิทธิมนุษยชนสากล"), want: false},
		{name: "latin word next to Han is a word", query: "iphone", doc: title("新款iPhone手机"), want: true},
		{name: "mixed-script phrase", query: "iPhone手机", doc: title("新款iPhone手机发布"), want: true},
		{name: "Han in summary HTML", query: "summary:论坛", doc: summary("<p>南南人权<b>论坛</b>开幕</p>"), want: true},
		{name: "scoped CJK not in other field", query: "title:论坛", doc: summary("南南人权论坛"), want: false},

		// Field scopes.
		{name: "title scope matches title", query: "title:defenders", want: true},
		{name: "title scope ignores summary", query: "title:palais", want: false},
		{name: "title scope phrase", query: `title:"human rights defenders"`, want: true},
		{name: "title scope prefix", query: "title:defend*", want: true},
		{name: "summary scope matches summary", query: "summary:palais", want: true},
		{name: "summary scope matches content", query: "summary:delegates", want: true},
		{name: "summary scope ignores title", query: "summary:defenders", want: false},
		{name: "category scope", query: "category:switzerland", want: true},
		{name: "category scope phrase", query: `category:"human rights"`, want: true},
		{name: "category scope ignores title", query: "category:defenders", want: false},
		{name: "author scope", query: "author:amelie", want: true},
		{name: "author scope phrase", query: `author:"amélie dupont"`, want: true},
		{name: "source scope by name", query: "source:swiss-wire", want: true},
		{name: "source scope by name word", query: "source:swiss", want: true},
		{name: "source scope by tag", query: "source:europe", want: true},
		{name: "source scope by hyphenated tag", query: "source:public-broadcaster", want: true},
		{name: "source scope by tag prefix", query: "source:pub*", want: true},
		{name: "source scope phrase not across name and tag", query: `source:"wire europe"`, want: false},
		{name: "source scope ignores title", query: "source:forum", want: false},
		{name: "field name is case insensitive", query: "Title:forum", want: true},
		{name: "unscoped searches categories", query: "switzerland", want: true},
		{name: "unscoped searches content", query: "delegates", want: true},
		{name: "unscoped does not search authors", query: "dupont", want: false},
		{name: "unscoped does not search source", query: "europe", want: false},
		{name: "colon in non-field word is punctuation", query: "10:30", doc: title("opens at 10:30 today"), want: true},

		// Boolean structure.
		{name: "juxtaposition is AND", query: "forum geneve", want: true},
		{name: "juxtaposition needs both", query: "forum paris", want: false},
		{name: "explicit AND", query: "forum AND geneve", want: true},
		{name: "OR either", query: "paris OR geneve", want: true},
		{name: "OR neither", query: "paris OR london", want: false},
		{name: "NOT excludes", query: "forum NOT geneve", want: false},
		{name: "NOT of absent term", query: "forum NOT paris", want: true},
		{name: "minus term", query: "forum -geneve", want: false},
		{name: "minus phrase", query: `forum -"human rights"`, want: false},
		{name: "minus phrase absent", query: `forum -"rights human"`, want: true},
		{name: "minus scoped term", query: "forum -title:palais", want: true},
		{name: "minus group", query: "forum -(paris OR london)", want: true},
		{name: "NOT with parentheses", query: "NOT (paris OR geneve)", want: false},
		{name: "NOT binds tighter than AND", query: "NOT paris geneve", want: true},
		{name: "NOT binds tighter than AND, excluded", query: "NOT geneve paris", want: false},
		{name: "AND binds tighter than OR", query: "forum OR paris london", want: true},
		{name: "AND binds tighter than OR, right", query: "paris london OR forum", want: true},
		{name: "AND binds tighter than OR, neither", query: "paris forum OR london", want: false},
		{name: "parentheses override precedence", query: "(forum OR paris) london", want: false},
		{name: "nested parentheses", query: "((forum OR paris) AND (geneve OR london)) -sport", want: true},
		{name: "double NOT", query: "NOT NOT forum", want: true},
		{name: "NOT alone on empty document", query: "NOT forum", doc: &Fields{}, want: true},
		{name: "lower-case and is a term", query: "war and peace", doc: title("war, peace"), want: false},
		{name: "lower-case and present", query: "war and peace", doc: title("war and peace"), want: true},
		{name: "lower-case or is a term", query: "tea or coffee", doc: title("tea"), want: false},
		{name: "lower-case not is a term", query: "not", doc: title("not guilty"), want: true},
		{name: "mixed-case Or is a term", query: "paris Or geneve", want: false},

		// Syntax errors.
		{name: "empty query", query: "", err: "column 1: empty query"},
		{name: "blank query", query: "  \t ", err: "column 1: empty query"},
		{name: "unbalanced open parenthesis", query: "(forum OR paris", err: "column 1: unbalanced parenthesis"},
		{name: "unbalanced inner open parenthesis", query: "forum OR (paris london", err: "column 10: unbalanced parenthesis"},
		{name: "unbalanced open parenthesis at end", query: "forum (", err: "column 7: unbalanced parenthesis"},
		{name: "unbalanced close parenthesis", query: "forum)", err: "column 6: unbalanced parenthesis"},
		{name: "extra close parenthesis", query: "(a OR b)) c", err: "column 9: unbalanced parenthesis"},
		{name: "leading close parenthesis", query: ") a", err: "column 1: unbalanced parenthesis"},
		{name: "empty parentheses", query: "a ()", err: "column 3: empty parentheses"},
		{name: "unterminated quote", query: `forum "human rights`, err: "column 7: unterminated quote"},
		{name: "unterminated scoped quote", query: `title:"human`, err: "column 7: unterminated quote"},
		{name: "empty phrase", query: `forum ""`, err: "column 7: empty phrase"},
		{name: "phrase of punctuation only", query: `" -- "`, err: "column 1: empty phrase"},
		{name: "dangling AND", query: "forum AND", err: "column 7: AND must be followed by a term"},
		{name: "leading AND", query: "AND forum", err: "column 1: AND must follow a term"},
		{name: "dangling OR", query: "forum OR", err: "column 7: OR must be followed by a term"},
		{name: "OR before close parenthesis", query: "(forum OR) x", err: "column 8: OR must be followed by a term"},
		{name: "leading OR", query: "OR forum", err: "column 1: OR must follow a term"},
		{name: "AND OR", query: "a AND OR b", err: "column 3: AND must be followed by a term"},
		{name: "dangling NOT", query: "forum NOT", err: "column 7: NOT must be followed by a term"},
		{name: "NOT before AND", query: "NOT AND a", err: "column 1: NOT must be followed by a term"},
		{name: "lone minus", query: "forum - paris", err: "column 7: '-' must be followed directly by a term"},
		{name: "minus at end", query: "forum -", err: "column 7: '-' must be followed directly by a term"},
		{name: "unknown field", query: "forum foo:bar", err: `column 7: unknown field "foo" (fields are title, summary, category, author, source)`},
		{name: "URL looks like unknown field", query: "https://example.org", err: `column 1: unknown field "https" (fields are title, summary, category, author, source)`},
		{name: "field without term", query: "title: forum", err: "column 1: title: must be followed by a term, a prefix or a phrase"},
		{name: "field before group", query: "title:(a OR b)", err: "column 1: title: must be followed by a term, a prefix or a phrase"},
		{name: "minus after field", query: "title:-forum", err: "column 7: put '-' before the field to exclude: -title:forum"},
		{name: "star inside term", query: "fo*rum", err: "column 3: '*' is only allowed at the end of a term"},
		{name: "lone star", query: "a *", err: "column 3: '*' must follow a word"},
		{name: "term without letters", query: "a &&", err: `column 3: term "&&" has no letters or digits`},
		{name: "columns count runes", query: "Genève (paris", err: "column 8: unbalanced parenthesis"},
		{name: "columns count runes in CJK", query: "人权 AND", err: "column 4: AND must be followed by a term"},
		{name: "too deeply nested", query: strings.Repeat("(", 101) + "a" + strings.Repeat(")", 101), err: "column 101: query nested deeper than 100 levels"},
	}
}

func TestMatch(t *testing.T) {
	cases := matchCases()
	if len(cases) < 60 {
		t.Fatalf("only %d cases", len(cases))
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.query)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %s, want error %q", tc.query, q, tc.err)
				}
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("Parse(%q) error %T, want *SyntaxError", tc.query, err)
				}
				if err.Error() != tc.err {
					t.Fatalf("Parse(%q) error\n got %q\nwant %q", tc.query, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.query, err)
			}
			f := &news
			if tc.doc != nil {
				f = tc.doc
			}
			d := NewDocument(*f)
			if got := q.Match(d); got != tc.want {
				t.Fatalf("Parse(%q) [%s].Match = %v, want %v; explain %q", tc.query, q, got, tc.want, q.Explain(d))
			}
			// The canonical form means the same thing.
			q2, err := Parse(q.String())
			if err != nil {
				t.Fatalf("re-parse %q: %v", q, err)
			}
			if got := q2.Match(d); got != tc.want {
				t.Fatalf("canonical %q.Match = %v, want %v", q, got, tc.want)
			}
			// A document indexing only the query's vocabulary answers
			// alike, and so does one for another query's vocabulary,
			// which falls back to a full index.
			vd := NewVocabulary(q).NewDocument(*f)
			if got := q.Match(vd); got != tc.want {
				t.Fatalf("Parse(%q) [%s].Match(vocabulary document) = %v, want %v; fields noted %v", tc.query, q, got, tc.want, vd.vocabFields)
			}
			if got, want := q.Explain(vd), q.Explain(d); !slices.Equal(got, want) {
				t.Fatalf("Parse(%q) [%s].Explain(vocabulary document) = %q, want %q", tc.query, q, got, want)
			}
			if got := q2.Match(vd); got != tc.want {
				t.Fatalf("canonical %q.Match(document of another vocabulary) = %v, want %v", q, got, tc.want)
			}
		})
	}
}

// indexWords lists the words d's index holds.
func indexWords(d *Document) []string {
	var ws []string
	for _, e := range d.index {
		ws = append(ws, d.word(e.span))
	}
	return ws
}

// TestVocabularyDocument checks what a vocabulary document notes: for
// each of the vocabulary's words and prefixes, the fields a full index
// finds it in, and no sorted index. Words of scripts without spaces are
// found in the text, not noted.
func TestVocabularyDocument(t *testing.T) {
	q, err := Parse(`forum OR "human rights" OR defend* OR title:genève OR 人权 OR x OR hum*`)
	if err != nil {
		t.Fatal(err)
	}
	f := Fields{
		Title:      "Forum in Genève: defenders defend human rights",
		Summary:    "<p>The forum's human-rights defenders. 人权论坛</p>",
		Categories: []string{"Human Rights"},
	}
	v := NewVocabulary(q)
	d, full := v.NewDocument(f), NewDocument(f)
	if len(d.index) != 0 || len(d.vocabFields) != 7 {
		t.Fatalf("vocabulary document: index %q, %d noted", indexWords(d), len(d.vocabFields))
	}
	const title, summary, category = 1 << fieldTitle, 1 << fieldSummary, 1 << fieldCategory
	for _, tc := range []struct {
		word   string
		prefix bool
		want   uint8
	}{
		{"forum", false, title | summary},
		{"human", false, title | summary | category},
		{"rights", false, title | summary | category},
		{"geneve", false, title},
		{"x", false, 0},
		{"defend", true, title | summary},
		{"hum", true, title | summary | category},
	} {
		got, fromFull := d.wordFields(tc.word), full.wordFields(tc.word)
		if tc.prefix {
			got, fromFull = d.prefixFields(tc.word), full.prefixFields(tc.word)
		}
		if got != tc.want || fromFull != tc.want {
			t.Errorf("%q (prefix %v): fields %03b, full index %03b, want %03b", tc.word, tc.prefix, got, fromFull, tc.want)
		}
	}
	if !q.Match(d) {
		t.Errorf("%s does not match", q)
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct{ name, query, want string }{
		{"term normalised", "Genève", "geneve"},
		{"juxtaposition", "a b", "a AND b"},
		{"precedence needs no parentheses", "a b OR c", "a AND b OR c"},
		{"parentheses kept where needed", "(a OR b) c", "(a OR b) AND c"},
		{"redundant parentheses dropped", "((a)) OR (b c)", "a OR b AND c"},
		{"same operator flattened", "a AND (b AND c)", "a AND b AND c"},
		{"OR flattened", "(a OR b) OR (c OR d)", "a OR b OR c OR d"},
		{"minus is NOT", `-a -"b c"`, `NOT a AND NOT "b c"`},
		{"NOT of group", "NOT (a OR b)", "NOT (a OR b)"},
		{"double NOT", "--a", "NOT NOT a"},
		{"hyphenated term is phrase", "human-rights", `"human rights"`},
		{"phrase of one word is a term", `"forum"`, "forum"},
		{"prefix", "Forum*", "forum*"},
		{"multi-word prefix", "human-righ*", "human-righ*"},
		{"scopes", `Title:a summary:"b c" category:d* author:e source:f`, `title:a AND summary:"b c" AND category:d* AND author:e AND source:f`},
		{"lower-case keywords are terms", "a and b or not c", "a AND and AND b AND or AND not AND c"},
		{"mixed script splits", "iPhone手机", `"iphone 手机"`},
		{"curly quotes", "“a b”", `"a b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := MustParse(tc.query)
			if got := q.String(); got != tc.want {
				t.Fatalf("String() = %q, want %q", got, tc.want)
			}
			q2 := MustParse(q.String())
			if !reflect.DeepEqual(q.root, q2.root) {
				t.Fatalf("canonical %q re-parses to a different tree: %q", q, q2)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	d := NewDocument(news)
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"positive terms", `forum* OR paris OR "human rights"`, []string{"forum*", `"human rights"`}},
		{"negated terms marked", "geneve -title:defenders -sport", []string{"geneve", "NOT title:defenders"}},
		{"double negation is positive", "NOT NOT geneve", []string{"geneve"}},
		{"repeats listed once", "geneve OR (geneve forum)", []string{"geneve", "forum"}},
		{"nothing matched", "paris", nil},
		{"CJK", "人权", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MustParse(tc.query).Explain(d); !slices.Equal(got, tc.want) {
				t.Fatalf("Explain = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSyntaxErrorColumn(t *testing.T) {
	_, err := Parse("forum AND (paris OR")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want *SyntaxError", err, err)
	}
	if se.Column != 18 || se.Msg != "OR must be followed by a term" {
		t.Fatalf("got %+v", *se)
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MustParse did not panic")
		}
	}()
	MustParse("(")
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"ascii lower", "Hello, World", "hello, world"},
		{"accents", "Genève Ça Ñandú", "geneve ca nandu"},
		{"vietnamese", "Việt Nam", "viet nam"},
		{"fullwidth", "ＡＢＣ１２３", "abc123"},
		{"ligature", "ﬁﬂ", "fifl"},
		{"sharp s", "STRAẞE Straße", "strasse strasse"},
		{"dotted capital I", "İstanbul", "istanbul"},
		{"kelvin sign", "K", "k"},
		{"hangul recomposed", "한국", "한국"},
		{"kana voicing kept", "ガ", "ガ"},
		{"halfwidth kana", "ｶﾞ", "ガ"},
		{"thai marks kept", "สิทธิ", "สิทธิ"},
		{"nbsp", "a\u00a0b", "a b"},
		{"invalid bytes separate", "x\xf7ö\xffy", "x o y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(new(normalizer).appendNormalized(nil, []byte(tc.in)))
			if got != tc.want {
				t.Fatalf("normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := string(new(normalizer).appendNormalized(nil, []byte(got))); again != got {
				t.Fatalf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

func TestHTMLText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"script and style dropped", `a<script>b()</script>c<style>d{}</style>e`, "ace"},
		{"nested template", `a<template>b<template>c</template>d</template>e`, "ae"},
		{"block elements separate", `<p>a</p><p>b</p>c<br>d`, " a  b c d"},
		{"inline elements join", `<b>a</b><i>b</i>`, "ab"},
		{"entities", `&lt;tag&gt; &amp; &quot;q&quot; &nbsp;`, "<tag> & \"q\" \u00a0"},
		{"comments dropped", `a<!-- b -->c`, "ac"},
		{"lone less-than is text", `a < b`, "a < b"},
		{"ruby readings dropped", `<ruby>漢<rt>かん</rt></ruby>字`, "漢字"},
		{"unclosed script drops the rest", `a<script>b`, "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(appendHTMLText(nil, tc.in)); got != tc.want {
				t.Fatalf("text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestDocumentWords checks the tokenised form the matcher relies on.
func TestDocumentWords(t *testing.T) {
	d := NewDocument(Fields{
		Title:      "Forum's agenda: human-rights",
		Categories: []string{"A b", "C"},
		Source:     "x",
		SourceTags: []string{"新款iPhone手机"},
	})
	var got []string
	for _, w := range d.words {
		got = append(got, d.word(w))
	}
	want := []string{"forum", "s", "agenda", "human", "rights", "a", "b", "", "c", "x", "新款", "iphone", "手机"}
	if !slices.Equal(got, want) {
		t.Fatalf("words = %q, want %q", got, want)
	}
	if !d.fields[fieldSourceTag].hasNoSpace || d.fields[fieldTitle].hasNoSpace {
		t.Fatalf("hasNoSpace wrong: %+v", d.fields)
	}
	for i := 1; i < len(d.index); i++ {
		if d.word(d.index[i-1].span) >= d.word(d.index[i].span) {
			t.Fatalf("index not sorted and unique at %d", i)
		}
	}
}

// TestNormalizeEveryRune checks, for every code point, that the normal
// form is idempotent and that each word of it is a word on its own: the
// properties that let a query's canonical String re-parse to itself and
// any document word be found by a query.
func TestNormalizeEveryRune(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	var nz normalizer
	var buf, again []byte
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if 0xD800 <= r && r <= 0xDFFF {
			continue
		}
		in := utf8.AppendRune(nil, r)
		buf = nz.appendNormalized(buf[:0], in)
		again = nz.appendNormalized(again[:0], buf)
		if !bytes.Equal(buf, again) {
			t.Errorf("U+%04X: normal form %q is not idempotent: %q", r, buf, again)
			continue
		}
		for i := 0; ; {
			start, end, _ := nextWord(buf, i)
			if start == end {
				break
			}
			w := string(buf[start:end])
			if words, _ := splitWords(w); len(words) != 1 || words[0] != w {
				t.Errorf("U+%04X: word %q splits into %q", r, w, words)
			}
			i = end
		}
	}
}

// TestConcurrentMatch shares one Document and the queries across
// goroutines, as the poller does; run it with -race.
func TestConcurrentMatch(t *testing.T) {
	d := NewDocument(news)
	qs := []*Query{MustParse("forum* -sport"), MustParse(`"human rights" OR 人权`), MustParse("source:europe")}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, q := range qs {
				if !q.Match(d) || len(q.Explain(d)) == 0 {
					t.Errorf("%s does not match", q)
				}
			}
		})
	}
	wg.Wait()
}

// TestFastPaths checks the shortcuts for caseless scripts against the
// general code.
func TestFastPaths(t *testing.T) {
	for r := rune(0x0E00); r <= 0xA000; r++ {
		if isCaseless(r) {
			if got := string(appendFolded(nil, r)); got != string(r) {
				t.Errorf("U+%04X is caseless but folds to %q", r, got)
			}
		}
		if 0x4E00 <= r && r <= 0x9FFF || 0x3041 <= r && r <= 0x3096 || 0x30A1 <= r && r <= 0x30FA {
			if !unicode.IsLetter(r) || !isNoSpace(r) {
				t.Errorf("U+%04X is not a letter of a script without spaces", r)
			}
		}
	}
	// Output stays NFC when caseless runes meet marks that compose.
	for _, s := range []string{"か\u3099", "が", "ก\u0e31", "人\u0301", "ｶﾞ"} {
		got := string(new(normalizer).appendNormalized(nil, []byte(s)))
		if want := norm.NFC.String(string(new(normalizer).appendNormalized(nil, []byte(s)))); got != want {
			t.Errorf("%q: %q, want %q", s, got, want)
		}
	}
}

// TestHTMLTextPrefix: the prefix is the start of HTMLText, at least the
// limit long unless it is the whole text, and ends after a space, so that
// no word in it is cut.
func TestHTMLTextPrefix(t *testing.T) {
	for _, in := range []string{
		"",
		"plain text without any tags at all, long enough to be cut in a few places",
		"<p>First paragraph.</p><p>Second <b>bo</b>ld paragraph.</p><div>Third</div>",
		"Un<b>broken</b>Word<i>Without</i>Spaces<p>then a block</p>and more",
		"<script>skipped text</script>seen text &amp; entities&nbsp;and spaces\tand\ttabs\nand lines",
		"<ul><li>one</li><li>two</li><li>three</li></ul>",
	} {
		whole := HTMLText(in)
		for limit := 1; limit <= len(whole)+2; limit++ {
			got, complete := HTMLTextPrefix(in, limit)
			switch {
			case !strings.HasPrefix(whole, got):
				t.Fatalf("HTMLTextPrefix(%q, %d) = %q, not a prefix of %q", in, limit, got, whole)
			case complete && got != whole:
				t.Fatalf("HTMLTextPrefix(%q, %d) = %q complete, want %q", in, limit, got, whole)
			case !complete && (len(got) < limit || !strings.ContainsAny(got[len(got)-1:], " \t\n\r\f")):
				t.Fatalf("HTMLTextPrefix(%q, %d) = %q: short of the limit or not ending after a space", in, limit, got)
			}
		}
	}
	// Reading stops near the limit rather than at the end.
	long := strings.Repeat("<p>one two three four five</p>", 1000)
	if got, complete := HTMLTextPrefix(long, 100); complete || len(got) > 200 {
		t.Errorf("HTMLTextPrefix(long, 100): %d bytes, complete %v; want about 100, incomplete", len(got), complete)
	}
}
