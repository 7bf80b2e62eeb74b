package publish

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func TestSanitizeHTML(t *testing.T) {
	z := newSanitizer()
	base, _ := url.Parse("https://example.com/blog/2024/post.html")
	tests := []struct {
		name string
		in   string
		base *url.URL
		want string
	}{
		{"plain text", "just words", base, "just words"},
		{"empty", "  \n ", base, ""},
		{"script removed with its content", `<p>a<script>alert(1)</script>b</p>`, base, `<p>ab</p>`},
		{"script in uppercase", `<SCRIPT SRC=//evil.example/x.js></SCRIPT>ok`, base, `ok`},
		{"onerror handler", `<img src="https://example.com/a.png" onerror="steal()">`, base, `<img src="https://example.com/a.png"/>`},
		{"onclick handler", `<p onclick="x()">p</p>`, base, `<p>p</p>`},
		{"javascript href", `<a href="javascript:alert(1)">x</a>`, base, `x`},
		{"javascript href obfuscated", `<a href=" JaVaScRiPt:alert(1)">x</a>`, base, `x`},
		{"javascript href with tab", "<a href=\"java\tscript:alert(1)\">x</a>", base, `x`},
		{"vbscript href", `<a href="vbscript:msgbox(1)">x</a>`, base, `x`},
		{"data href", `<a href="data:text/html,<script>alert(1)</script>">x</a>`, base, `x`},
		{"iframe", `<iframe src="https://evil.example/"></iframe>after`, base, `after`},
		{"frameset", `<frameset><frame src="f.html"></frameset>after`, base, `after`},
		{"object and embed", `<object data="x.swf"><param name="a"></object><embed src="x.swf">after`, base, `after`},
		{"form", `<form action="/login"><input name="pw"><button>go</button></form>`, base, `go`},
		{"style attribute", `<p style="position:fixed;top:0">p</p>`, base, `<p>p</p>`},
		{"style element", `<style>body{display:none}</style>text`, base, `text`},
		{"class attribute", `<span class="x">s</span>`, base, `<span>s</span>`},
		{"meta and base", `<base href="https://evil.example/"><meta http-equiv="refresh" content="0">m`, base, `m`},
		{"relative href", `<a href="/about">a</a>`, base, `<a href="https://example.com/about" rel="nofollow noreferrer">a</a>`},
		{"relative path href", `<a href="../notes.html">a</a>`, base, `<a href="https://example.com/blog/notes.html" rel="nofollow noreferrer">a</a>`},
		{"relative src", `<img src="img/a.png" alt="a">`, base, `<img src="https://example.com/blog/2024/img/a.png" alt="a"/>`},
		{"protocol-relative src", `<img src="//cdn.example/a.png">`, base, `<img src="https://cdn.example/a.png"/>`},
		{"fragment href", `<a href="#top">t</a>`, base, `<a href="https://example.com/blog/2024/post.html#top" rel="nofollow noreferrer">t</a>`},
		{"query href", `<a href="?page=2">n</a>`, base, `<a href="https://example.com/blog/2024/post.html?page=2" rel="nofollow noreferrer">n</a>`},
		{"absolute kept", `<a href="https://other.example/x?a=1&amp;b=2">x</a>`, base, `<a href="https://other.example/x?a=1&amp;b=2" rel="nofollow noreferrer">x</a>`},
		{"relative without base dropped", `<a href="/about">a</a><img src="a.png">`, nil, `a`},
		{"blockquote cite", `<blockquote cite="/src">q</blockquote>`, base, `<blockquote cite="https://example.com/src">q</blockquote>`},
		{"entities preserved", `Fish &amp; chips &lt;3 &gt; &quot;q&quot; &eacute; &#8212;`, base, `Fish &amp; chips &lt;3 &gt; &#34;q&#34; é —`},
		{"entity in attribute", `<a href="/s?a=1&amp;b=2">s</a>`, base, `<a href="https://example.com/s?a=1&amp;b=2" rel="nofollow noreferrer">s</a>`},
		{"raw control characters", "a\x00b\x01c\x08d\x0be\x0cf\x1fg\x7fh\u0085i", base, "abcdefghi"},
		{"tab and newline kept, CR normalised", "a\tb\nc\rd", base, "a\tb\nc\nd"},
		{"control character reference", `x&#1;y&#x1F;z`, base, `xyz`},
		{"noncharacters", "a\uFFFEb\uFFFFc", base, "abc"},
		{"invalid utf-8", "a\xffb", base, "a\uFFFDb"},
		{"unicode kept", "日本語 🚀 עברית", base, "日本語 🚀 עברית"},
		{"lists and tables kept", `<ul><li>a</li></ul><table><tr><td>c</td></tr></table>`, base, `<ul><li>a</li></ul><table><tbody><tr><td>c</td></tr></tbody></table>`},
		{"unclosed tags", `<p><b>bold`, base, `<p><b>bold</b></p>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := z.HTML(tt.in, tt.base); got != tt.want {
				t.Errorf("HTML(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Hello\n\tworld  ", "Hello world"},
		{"bell\x07 and \x1b escape", "bell and escape"},
		{"C1\u0080\u009f gone", "C1 gone"},
		{"Zoë 🚀", "Zoë 🚀"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := cleanText(tt.in); got != tt.want {
				t.Errorf("cleanText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPlainText(t *testing.T) {
	tests := []struct{ in, want string }{
		{`<p>One</p><p>Two <b>bold</b>er</p>`, "One Two bolder"},
		{`a &amp; b &lt;c&gt;`, "a & b <c>"},
		{`line<br/>break`, "line break"},
		{"no markup", "no markup"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := plainText(tt.in); got != tt.want {
				t.Errorf("plainText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzSanitizeHTML(f *testing.F) {
	for _, s := range []string{`<a href="/x" onclick="y">a</a>`, "<script>x</script>", "&#1;\x00<img src=a>"} {
		f.Add(s)
	}
	z := newSanitizer()
	base, _ := url.Parse("https://example.com/a/b")
	f.Fuzz(func(t *testing.T, in string) {
		out := z.HTML(in, base)
		if cleanXMLText(out) != out {
			t.Fatalf("output has characters XML cannot carry: %q", out)
		}
		if problem := unsafeMarkup(out); problem != "" {
			t.Fatalf("output has %s: %q", problem, out)
		}
	})
}

// unsafeMarkup reports the first unsafe tag, attribute or URL in s as an
// HTML parser reads it, or "".
func unsafeMarkup(s string) string {
	zt := html.NewTokenizer(strings.NewReader(s))
	for {
		switch zt.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := zt.Token()
			switch tok.Data {
			case "script", "style", "iframe", "frame", "frameset", "object", "embed", "form", "base", "meta", "link":
				return "<" + tok.Data + ">"
			}
			for _, a := range tok.Attr {
				key := strings.ToLower(a.Key)
				val := strings.ToLower(strings.TrimSpace(a.Val))
				switch {
				case strings.HasPrefix(key, "on"), key == "style":
					return "attribute " + key
				case (key == "href" || key == "src") && !strings.HasPrefix(val, "http://") &&
					!strings.HasPrefix(val, "https://") && !strings.HasPrefix(val, "mailto:"):
					return key + "=" + a.Val
				}
			}
		}
	}
}
