package publish

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// sanitizer cleans item HTML for republishing. It is built once and is safe
// for concurrent use (a bluemonday.Policy is, once configured).
type sanitizer struct {
	policy *bluemonday.Policy
}

func newSanitizer() *sanitizer {
	// UGCPolicy drops scripts, event handlers, style attributes, iframes,
	// frames, objects, embeds and forms, and allows only http, https and
	// mailto URLs. Relative URLs are made absolute before it runs; any that
	// are left (no usable base) are dropped, since a feed has no base URL
	// a reader would agree on.
	p := bluemonday.UGCPolicy()
	p.AllowRelativeURLs(false)
	p.RequireNoReferrerOnLinks(true)
	return &sanitizer{policy: p}
}

// HTML returns s as safe HTML: parsed and re-serialised as an HTML5
// parser sees it (so tags are balanced), relative URLs resolved against base
// (which may be nil), unsafe markup removed, and characters that XML 1.0
// cannot carry dropped. The sanitiser runs last, on what the parser made.
func (z *sanitizer) HTML(s string, base *url.URL) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	s = normalizeHTML(s, base)
	// bluemonday decodes character references, so "&#1;" becomes a raw
	// control character: clean after it, not before.
	return strings.TrimSpace(cleanXMLText(z.policy.Sanitize(s)))
}

// isURLAttr reports whether an attribute's value is a URL (srcset, a list
// of them, is handled apart).
func isURLAttr(key string) bool {
	switch key {
	case "href", "src", "cite", "poster", "action", "longdesc", "background", "formaction", "data":
		return true
	}
	return false
}

// normalizeHTML parses an HTML fragment as a browser would, rewrites
// relative URLs against base (when not nil) and serialises it again. On a
// failure it returns s unchanged (the sanitiser then drops relative URLs).
func normalizeHTML(s string, base *url.URL) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(s), ctx)
	if err != nil {
		return s
	}
	var b strings.Builder
	for _, n := range nodes {
		if base != nil {
			rewriteURLs(n, base)
		}
		if err := html.Render(&b, n); err != nil {
			return s
		}
	}
	return b.String()
}

func rewriteURLs(n *html.Node, base *url.URL) {
	if n.Type == html.ElementNode {
		for i, a := range n.Attr {
			key := strings.ToLower(a.Key)
			switch {
			case a.Namespace != "":
			case isURLAttr(key):
				n.Attr[i].Val = resolveURL(base, a.Val)
			case key == "srcset":
				n.Attr[i].Val = resolveSrcset(base, a.Val)
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		rewriteURLs(c, base)
	}
}

// resolveURL resolves ref against base; a ref that does not parse is
// returned as it is, for the sanitiser to judge.
func resolveURL(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ref
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme != "" {
		return ref
	}
	return base.ResolveReference(u).String()
}

func resolveSrcset(base *url.URL, set string) string {
	parts := strings.Split(set, ",")
	for i, p := range parts {
		fields := strings.Fields(p)
		if len(fields) == 0 {
			continue
		}
		fields[0] = resolveURL(base, fields[0])
		parts[i] = strings.Join(fields, " ")
	}
	return strings.Join(parts, ", ")
}

// baseURL returns the first of candidates that is an absolute http(s) URL,
// or nil.
func baseURL(candidates ...string) *url.URL {
	for _, c := range candidates {
		if u, ok := httpURL(c); ok {
			return u
		}
	}
	return nil
}

// httpURL parses s as an absolute http(s) URL with a host.
func httpURL(s string) (*url.URL, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return nil, false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false
	}
	return u, true
}

// cleanXMLText drops what XML 1.0 cannot carry (C0 controls other than tab,
// newline and carriage return, U+FFFE and U+FFFF) and what is never
// meaningful in news text (DEL and the C1 controls, usually mis-decoded
// Windows-1252), and replaces invalid UTF-8 with U+FFFD.
func cleanXMLText(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !keepRune(r) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case keepRune(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func keepRune(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r >= 0x7f && r <= 0x9f:
		return false
	case r == 0xfffe || r == 0xffff:
		return false
	case r >= 0xd800 && r <= 0xdfff:
		return false
	}
	return true
}

// cleanText prepares a plain-text field (title, author, category): XML-safe
// characters and whitespace runs collapsed to one space.
func cleanText(s string) string {
	return strings.Join(strings.Fields(cleanXMLText(s)), " ")
}

// isInlineTag reports whether an element leaves words joined when HTML is
// turned into plain text.
func isInlineTag(name string) bool {
	switch name {
	case "a", "abbr", "b", "bdi", "cite", "code", "del", "dfn", "em", "i", "ins", "kbd", "mark",
		"q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var":
		return true
	}
	return false
}

// plainText turns (sanitised) HTML into one line of plain text.
func plainText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return cleanText(s)
	}
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return cleanText(b.String())
		case html.TextToken:
			b.Write(z.Text())
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			if !isInlineTag(string(name)) {
				b.WriteByte(' ')
			}
		}
	}
}
