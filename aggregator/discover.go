package aggregator

import (
	"bytes"
	"net/url"
	"slices"
	"strings"

	xhtml "golang.org/x/net/html"
	htmlatom "golang.org/x/net/html/atom"
)

// DiscoverFeeds returns the absolute http(s) URLs of the feeds an HTML page
// advertises in its head with <link rel="alternate" type="..." href="...">
// (RSS, Atom, RDF or JSON Feed media types), resolved against pageURL and
// any <base href>, in document order without duplicates. It returns nil
// for a page that advertises none, or for a body that is not HTML at all.
//
// Only web URLs are returned: a page must not be able to point tributary
// at a local file (file:) or a script (javascript:).
func DiscoverFeeds(body []byte, pageURL string) []string {
	base, _ := url.Parse(strings.TrimSpace(pageURL))
	var hrefs []string
	z := xhtml.NewTokenizer(bytes.NewReader(body))
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			break
		}
		if tt != xhtml.StartTagToken && tt != xhtml.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		switch tok.DataAtom {
		case htmlatom.Body:
			// Feed links belong in the head; stop before the page's bulk.
			return parseDedupeExact(hrefs)
		case htmlatom.Base:
			if href := parseAttr(tok, "href"); href != "" && base != nil {
				if u, err := base.Parse(href); err == nil {
					base = u
				}
			}
		case htmlatom.Link:
			rels := strings.Fields(strings.ToLower(parseAttr(tok, "rel")))
			typ := strings.ToLower(strings.TrimSpace(parseAttr(tok, "type")))
			if i := strings.IndexByte(typ, ';'); i >= 0 {
				typ = strings.TrimSpace(typ[:i])
			}
			href := parseAttr(tok, "href")
			if href == "" || !parseIsFeedLinkType(typ) || !slices.Contains(rels, "alternate") {
				continue
			}
			if abs := parseResolve(base, href); parseIsWebURL(abs) {
				hrefs = append(hrefs, abs)
			}
		}
	}
	return parseDedupeExact(hrefs)
}
