package aggregator

// This is the only file that imports gofeed: its types are converted to
// ParsedFeed here and never leave.

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	gofeedatom "github.com/mmcdole/gofeed/atom"
	gofeedjson "github.com/mmcdole/gofeed/json"
	"github.com/mmcdole/gofeed/rss"
	xhtml "golang.org/x/net/html"
	htmlatom "golang.org/x/net/html/atom"
)

// ParsedFeed is a feed as parsed, before it is tied to a source.
type ParsedFeed struct {
	Title    string
	Link     string // the site's address, absolute
	Language string
	Items    []ParsedItem
}

// ParsedItem is one entry of a parsed feed, whatever its format.
type ParsedItem struct {
	GUID    string // guid (RSS) or id (Atom, JSON Feed)
	Link    string // absolute
	Title   string
	Summary string // HTML
	Content string // HTML
	// Authors are names, or e-mail addresses when a name is missing.
	Authors    []string
	Categories []string
	// Published is the item's publication date, else its update date; zero
	// when the feed gives neither (or nothing parseable).
	Published time.Time
	// Updated is the item's update date; zero when missing.
	Updated time.Time
}

// parseUTF8BOM is the UTF-8 byte order mark, which some servers prepend.
const parseUTF8BOM = "\xEF\xBB\xBF"

// ParseFeed parses an RSS (0.9x, 1.0, 2.0), Atom (0.3, 1.0) or JSON Feed
// body. feedURL is where the body came from: relative links resolve
// against the feed's own link, itself resolved against feedURL. An HTML
// page is an error naming the feeds the page advertises.
func ParseFeed(body []byte, feedURL string) (*ParsedFeed, error) {
	body = bytes.TrimPrefix(body, []byte(parseUTF8BOM))
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New("empty response body")
	}

	switch gofeed.DetectFeedType(bytes.NewReader(body)) {
	case gofeed.FeedTypeRSS:
		return parseRSS(body, feedURL)
	case gofeed.FeedTypeAtom:
		return parseAtom(body, feedURL)
	case gofeed.FeedTypeJSON:
		return parseJSON(body, feedURL)
	}
	if parseLooksLikeHTML(body) {
		return nil, parseHTMLPageError(body, feedURL)
	}
	return nil, fmt.Errorf("parse feed: %w", gofeed.ErrFeedTypeNotDetected)
}

func parseRSS(body []byte, feedURL string) (*ParsedFeed, error) {
	original, err := (&rss.Parser{}).Parse(bytes.NewReader(parseFixUTF8(body)))
	if err != nil {
		return nil, fmt.Errorf("parse feed: %w", err)
	}
	universal, err := (&gofeed.DefaultRSSTranslator{}).Translate(original)
	if err != nil {
		return nil, fmt.Errorf("parse feed: %w", err)
	}
	feed, base := parseConvertFeed(universal, feedURL)
	for i, it := range universal.Items {
		item := parseConvertItem(it, base)
		// A guid that is a permalink is the item's link when it has none.
		if item.Link == "" && i < len(original.Items) {
			if g := original.Items[i].GUID; g != nil && !strings.EqualFold(g.IsPermalink, "false") && parseIsWebURL(item.GUID) {
				item.Link = item.GUID
			}
		}
		feed.Items = append(feed.Items, item)
	}
	return feed, nil
}

func parseAtom(body []byte, feedURL string) (*ParsedFeed, error) {
	original, err := (&gofeedatom.Parser{}).Parse(bytes.NewReader(parseFixUTF8(body)))
	if err != nil {
		return nil, fmt.Errorf("parse feed: %w", err)
	}
	universal, err := (&gofeed.DefaultAtomTranslator{}).Translate(original)
	if err != nil {
		return nil, fmt.Errorf("parse feed: %w", err)
	}
	feed, base := parseConvertFeed(universal, feedURL)
	feedAuthors := parsePersons(universal.Authors)
	for i, it := range universal.Items {
		item := parseConvertItem(it, base)
		if i < len(original.Entries) {
			// Plain-text content is escaped so that Content is always HTML.
			if c := original.Entries[i].Content; c != nil && strings.EqualFold(strings.TrimSpace(c.Type), "text") {
				item.Content = parseTextToHTML(item.Content)
			}
		}
		// An entry without an author inherits the feed's (RFC 4287 4.2.1).
		if len(item.Authors) == 0 {
			item.Authors = append([]string(nil), feedAuthors...)
		}
		feed.Items = append(feed.Items, item)
	}
	return feed, nil
}

func parseJSON(body []byte, feedURL string) (*ParsedFeed, error) {
	original, err := (&gofeedjson.Parser{}).Parse(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse feed: %w", err)
	}
	if strings.TrimSpace(original.Version) == "" && len(original.Items) == 0 {
		// Any JSON object gets this far; one with neither a version nor
		// items is some other API's response, not an empty feed.
		return nil, fmt.Errorf("parse feed: %w", gofeed.ErrFeedTypeNotDetected)
	}
	universal, err := (&gofeed.DefaultJSONTranslator{}).Translate(original)
	if err != nil {
		return nil, fmt.Errorf("parse feed: %w", err)
	}
	feed, base := parseConvertFeed(universal, feedURL)
	feedAuthors := parsePersons(universal.Authors)
	for i, it := range universal.Items {
		item := parseConvertItem(it, base)
		if i < len(original.Items) {
			src := original.Items[i]
			// summary and content_text are plain text; Summary and
			// Content hold HTML.
			item.Summary = parseTextToHTML(strings.TrimSpace(src.Summary))
			if strings.TrimSpace(src.ContentHTML) != "" {
				item.Content = strings.TrimSpace(src.ContentHTML)
			} else {
				item.Content = parseTextToHTML(strings.TrimSpace(src.ContentText))
			}
		}
		// An item without an author inherits the feed's.
		if len(item.Authors) == 0 {
			item.Authors = append([]string(nil), feedAuthors...)
		}
		feed.Items = append(feed.Items, item)
	}
	return feed, nil
}

// parseConvertFeed converts the feed-level fields and returns the base URL
// for the feed's relative links: its own link, else feedURL.
func parseConvertFeed(f *gofeed.Feed, feedURL string) (*ParsedFeed, *url.URL) {
	base, _ := url.Parse(strings.TrimSpace(feedURL))
	link := parseResolve(base, f.Link)
	if u, err := url.Parse(link); err == nil && u.IsAbs() {
		base = u
	}
	return &ParsedFeed{
		Title:    parseCleanTitle(f.Title),
		Link:     link,
		Language: strings.TrimSpace(f.Language),
		Items:    make([]ParsedItem, 0, len(f.Items)),
	}, base
}

func parseConvertItem(it *gofeed.Item, base *url.URL) ParsedItem {
	link := it.Link
	if strings.TrimSpace(link) == "" && len(it.Links) > 0 {
		link = it.Links[0]
	}
	item := ParsedItem{
		GUID:       strings.TrimSpace(it.GUID),
		Link:       parseResolve(base, link),
		Title:      parseCleanTitle(it.Title),
		Summary:    strings.TrimSpace(it.Description),
		Content:    strings.TrimSpace(it.Content),
		Authors:    parsePersons(it.Authors),
		Categories: parseDedupe(it.Categories),
	}
	if it.UpdatedParsed != nil {
		item.Updated = it.UpdatedParsed.UTC()
	}
	if it.PublishedParsed != nil {
		item.Published = it.PublishedParsed.UTC()
	} else {
		// Atom requires only <updated>, and many feeds give one date of
		// either kind: a known date beats the poll time.
		item.Published = item.Updated
	}
	return item
}

// parsePersons returns names, or e-mail addresses for people without a
// name, trimmed and deduplicated.
func parsePersons(people []*gofeed.Person) []string {
	var out []string
	for _, p := range people {
		if p == nil {
			continue
		}
		name := strings.TrimSpace(p.Name)
		if name == "" {
			name = strings.TrimSpace(p.Email)
		}
		out = append(out, name)
	}
	return parseDedupe(out)
}

// parseDedupe trims values, drops empty ones and keeps the first of those
// that differ only in case.
func parseDedupe(values []string) []string {
	var out []string
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		v = strings.Join(strings.Fields(v), " ")
		key := strings.ToLower(v)
		if v == "" || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, v)
	}
	return out
}

// parseCleanTitle trims a title and collapses the runs of white space
// (often newlines and indentation in the XML) into single spaces.
func parseCleanTitle(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// parseTextToHTML turns plain text into HTML that shows the same text.
func parseTextToHTML(s string) string {
	if s == "" {
		return ""
	}
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>\n")
}

// parseResolve makes ref absolute against base. A ref that does not parse
// as a URL is kept as it is.
func parseResolve(base *url.URL, ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	if u.IsAbs() || base == nil {
		return u.String()
	}
	return base.ResolveReference(u).String()
}

// parseIsWebURL reports whether s is an absolute http(s) URL.
func parseIsWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// parseFixUTF8 handles an XML body that declares no encoding (so must be
// UTF-8) but is not valid UTF-8: such feeds are nearly always
// Windows-1252, which is decoded here instead of failing the whole feed.
// Valid UTF-8 and bodies that declare their encoding are left alone; the
// XML decoder transcodes the latter itself.
func parseFixUTF8(body []byte) []byte {
	if utf8.Valid(body) || parseDeclaresEncoding(body) {
		return body
	}
	var b strings.Builder
	b.Grow(len(body) + len(body)/8)
	for len(body) > 0 {
		r, size := utf8.DecodeRune(body)
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(parseWindows1252(body[0]))
		} else {
			b.Write(body[:size])
		}
		body = body[size:]
	}
	return []byte(b.String())
}

// parseDeclaresEncoding reports whether an XML prolog names an encoding
// other than UTF-8.
func parseDeclaresEncoding(body []byte) bool {
	head := body[:min(len(body), 200)]
	if !bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("<?xml")) {
		return false
	}
	end := bytes.Index(head, []byte("?>"))
	if end < 0 {
		return false
	}
	prolog := strings.ToLower(string(head[:end]))
	i := strings.Index(prolog, "encoding")
	if i < 0 {
		return false
	}
	rest := strings.TrimLeft(prolog[i+len("encoding"):], " \t=\"'")
	return !strings.HasPrefix(rest, "utf-8") && !strings.HasPrefix(rest, "utf8")
}

// parseWindows1252 maps one Windows-1252 byte to its rune.
func parseWindows1252(b byte) rune {
	// 0x80-0x9F differ from Latin-1; undefined positions map to U+FFFD.
	high := [32]rune{
		'€', '\uFFFD', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\uFFFD', 'Ž', '\uFFFD',
		'\uFFFD', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\uFFFD', 'ž', 'Ÿ',
	}
	if b >= 0x80 && b <= 0x9F {
		return high[b-0x80]
	}
	return rune(b)
}

// parseLooksLikeHTML reports whether a body that is not a feed is an HTML
// page, from the first tags it starts with.
func parseLooksLikeHTML(body []byte) bool {
	head := bytes.ToLower(body[:min(len(body), 2048)])
	head = bytes.TrimLeft(head, " \t\r\n")
	if !bytes.HasPrefix(head, []byte("<")) {
		return false
	}
	for _, marker := range []string{"<!doctype html", "<html", "<head", "<body", "<meta", "<title"} {
		if bytes.Contains(head, []byte(marker)) {
			return true
		}
	}
	return false
}

// parseIsFeedLinkType reports whether a <link rel="alternate"> media type
// points at a feed.
func parseIsFeedLinkType(mediaType string) bool {
	switch mediaType {
	case "application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml":
		return true
	}
	return false
}

// parseHTMLPageError reports that the body is an HTML page, listing the
// feeds it advertises so that the user can pick the right URL.
func parseHTMLPageError(body []byte, feedURL string) error {
	links := parseAdvertisedFeeds(body, feedURL)
	if len(links) == 0 {
		return errors.New("this is an HTML page, not a feed")
	}
	return fmt.Errorf("this is an HTML page, not a feed; it advertises: %s", strings.Join(links, ", "))
}

// parseAdvertisedFeeds returns the absolute URLs of the feeds an HTML page
// advertises with <link rel="alternate" type="..." href="...">, honouring
// <base href>, in document order without duplicates.
func parseAdvertisedFeeds(body []byte, pageURL string) []string {
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
			hrefs = append(hrefs, parseResolve(base, href))
		}
	}
	return parseDedupeExact(hrefs)
}

func parseAttr(tok xhtml.Token, key string) string {
	for _, a := range tok.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return strings.TrimSpace(a.Val)
		}
	}
	return ""
}

func parseDedupeExact(values []string) []string {
	var out []string
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
