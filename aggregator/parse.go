package aggregator

// This is the only file that imports gofeed: its types are converted to
// ParsedFeed here and never leave. It also owns what happens to a body
// before gofeed sees it: charset decoding, defusing DTDs and entities,
// and recovering the complete items of a truncated feed.

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	gofeedatom "github.com/mmcdole/gofeed/atom"
	ext "github.com/mmcdole/gofeed/extensions"
	gofeedjson "github.com/mmcdole/gofeed/json"
	"github.com/mmcdole/gofeed/rss"
	xhtml "golang.org/x/net/html"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
)

// ParsedFeed is a feed as parsed, before it is tied to a source.
type ParsedFeed struct {
	Title    string
	Link     string // the site's address, absolute
	Language string
	Items    []ParsedItem
	// PollHint is how often the publisher says the feed changes: RSS
	// <ttl>, or sy:updatePeriod / sy:updateFrequency (the larger when
	// both are given). 0 when absent or not sane (under a minute, over a
	// year). Callers cap it to their own maximum.
	PollHint time.Duration
	// Truncated is set when the body ended mid-document and Items are the
	// entries that were complete before the cut.
	Truncated bool
}

// ParsedItem is one entry of a parsed feed, whatever its format.
type ParsedItem struct {
	GUID  string // guid (RSS) or id (Atom, JSON Feed)
	Link  string // absolute
	Title string // plain text: tags stripped, entities decoded
	// Summary and Content are HTML.
	Summary string
	Content string
	// Authors are names, or e-mail addresses when a name is missing.
	Authors    []string
	Categories []string
	// Published is the item's publication date, else its update date; zero
	// when the feed gives neither (or nothing parseable).
	Published time.Time
	// Updated is the item's update date; zero when missing.
	Updated time.Time
}

// Sanity bounds of a publisher's poll hint.
const (
	parseMinPollHint = time.Minute
	parseMaxPollHint = 365 * 24 * time.Hour
)

// ParseFeed parses an RSS (0.9x, 1.0, 2.0), Atom (0.3, 1.0) or JSON Feed
// body. What the body is comes from its bytes, not from contentType, which
// only supplies a charset (see parseToUTF8 for the order of precedence).
// feedURL is where the body came from: relative links resolve against the
// feed's own link, itself resolved against feedURL. An HTML page is an
// error naming the feeds the page advertises. A DTD never expands or
// fetches anything, and a truncated XML feed yields the items that were
// complete, else an error starting "truncated feed:".
func ParseFeed(body []byte, contentType string, feedURL string) (*ParsedFeed, error) {
	body = parseToUTF8(body, contentType)
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errors.New("empty response body")
	}
	page := body // as it came, for telling an HTML page by its doctype
	if trimmed[0] == '<' {
		var err error
		if body, err = parseDefuseXML(body); err != nil {
			if detectFeedType(page) == gofeed.FeedTypeUnknown && parseLooksLikeHTML(page) {
				return nil, parseHTMLPageError(page, feedURL)
			}
			return nil, err
		}
	}

	switch detectFeedType(body) {
	case gofeed.FeedTypeRSS:
		return parseRSS(body, feedURL)
	case gofeed.FeedTypeAtom:
		return parseAtom(body, feedURL)
	case gofeed.FeedTypeJSON:
		return parseJSON(body, feedURL)
	}
	if parseLooksLikeHTML(page) {
		return nil, parseHTMLPageError(page, feedURL)
	}
	return nil, fmt.Errorf("parse feed: %w", gofeed.ErrFeedTypeNotDetected)
}

func parseRSS(body []byte, feedURL string) (*ParsedFeed, error) {
	original, truncated, err := parseXMLFeed(body, (&rss.Parser{}).Parse)
	if err != nil {
		return nil, err
	}
	// Items keep no image, so the translator need not parse every item's
	// HTML looking for one (a full HTML parse per item: 8% of parsing a
	// news feed).
	universal, err := (&gofeed.DefaultRSSTranslator{DisableContentImageScan: true}).Translate(original)
	if err != nil {
		return nil, fmt.Errorf("parse feed: %w", err)
	}
	feed, base := parseConvertFeed(universal, feedURL)
	feed.Truncated = truncated
	feed.PollHint = max(parseTTLHint(original.TTL), parseSyndicationHint(original.Extensions))
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
	original, truncated, err := parseXMLFeed(body, (&gofeedatom.Parser{}).Parse)
	if err != nil {
		return nil, err
	}
	universal, err := (&gofeed.DefaultAtomTranslator{}).Translate(original)
	if err != nil {
		return nil, fmt.Errorf("parse feed: %w", err)
	}
	feed, base := parseConvertFeed(universal, feedURL)
	feed.Truncated = truncated
	feed.PollHint = parseSyndicationHint(original.Extensions)
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
	// gofeed's JSON parser copies the body into a buffer of its own and
	// unmarshals that: the same, less a copy of every feed.
	original := &gofeedjson.Feed{}
	if err := json.Unmarshal(body, original); err != nil {
		if parseJSONTruncated(err) {
			return nil, fmt.Errorf("truncated feed: %w", err)
		}
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
		if it == nil {
			continue
		}
		item := parseConvertItem(it, base)
		if i < len(original.Items) && original.Items[i] != nil {
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

// parseJSONTruncated reports whether a JSON decoding error means the input
// ended too early.
func parseJSONTruncated(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected end of JSON input")
}

// parseXMLFeed runs a gofeed XML parser over body. When that fails because
// the body ends mid-document, it parses again what precedes the end of the
// last complete item or entry, with the open elements closed, and reports
// truncated. A truncated body without a complete item is an error
// starting "truncated feed:"; any other failure one starting "parse feed:".
func parseXMLFeed[T any](body []byte, parse func(io.Reader) (T, error)) (feed T, truncated bool, err error) {
	feed, err = parse(bytes.NewReader(body))
	if err == nil {
		return feed, false, nil
	}
	cut, isTruncated := parseCutTruncated(body)
	if !isTruncated {
		return feed, false, fmt.Errorf("parse feed: %w", err)
	}
	if cut == nil {
		return feed, true, fmt.Errorf("truncated feed: no complete item before the body ends (%w)", err)
	}
	recovered, rerr := parse(bytes.NewReader(cut))
	if rerr != nil {
		return feed, true, fmt.Errorf("truncated feed: %w", err)
	}
	return recovered, true, nil
}

// parseMaxDepth bounds how deep elements may nest: real feeds nest a
// handful of levels (a few dozen with XHTML content), while gofeed
// recurses per level, and a million levels would overflow the stack and
// kill the process.
const parseMaxDepth = 10000

// parseMaxItemDepth is the deepest an item or entry sits in a feed
// (rdf:RDF/item, rss/channel/item), with room to spare.
const parseMaxItemDepth = 4

// parseCutTruncated tokenises an XML body to tell whether it ends
// mid-document. When it does, cut is the body up to the end of the last
// complete <item> or <entry> (any prefix) followed by end tags for the
// elements still open there; nil when there is no such item.
func parseCutTruncated(body []byte) (cut []byte, truncated bool) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = false
	// The body is UTF-8 by now and its prolog says so, but a label the
	// decoder does not know must not stop the scan.
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var (
		stack     []string
		lastEnd   int64 = -1
		lastStack []string
	)
	for {
		tok, err := d.RawToken()
		if err != nil {
			var syntaxErr *xml.SyntaxError
			switch {
			case errors.Is(err, io.EOF) && len(stack) > 0:
			case errors.As(err, &syntaxErr) && strings.Contains(syntaxErr.Msg, "unexpected EOF"):
			default:
				return nil, false
			}
			if lastEnd < 0 {
				return nil, true
			}
			var b bytes.Buffer
			b.Grow(int(lastEnd) + 64)
			b.Write(body[:lastEnd])
			for i := len(lastStack) - 1; i >= 0; i-- {
				b.WriteString("</" + lastStack[i] + ">")
			}
			return b.Bytes(), true
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= parseMaxDepth {
				return nil, false
			}
			stack = append(stack, parseRawName(t.Name))
		case xml.EndElement:
			name := parseRawName(t.Name)
			// Tolerate a stray end tag; an end tag for an outer element
			// closes the ones inside it, as the non-strict parser does.
			for j := len(stack) - 1; j >= max(0, len(stack)-parseMaxUnclosed); j-- {
				if stack[j] == name {
					stack = stack[:j]
					break
				}
			}
			if local := strings.ToLower(t.Name.Local); (local == "item" || local == "entry") && len(stack) <= parseMaxItemDepth {
				lastEnd = d.InputOffset()
				lastStack = append(lastStack[:0], stack...)
			}
		}
	}
}

// parseRawName spells an element name as it appeared: prefix:local.
func parseRawName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// parseTTLHint reads RSS <ttl>, a number of minutes.
func parseTTLHint(ttl string) time.Duration {
	minutes, err := strconv.ParseInt(strings.TrimSpace(ttl), 10, 64)
	if err != nil || minutes <= 0 || minutes > int64(parseMaxPollHint/time.Minute) {
		return 0
	}
	return parseSaneHint(time.Duration(minutes) * time.Minute)
}

// parseSyndicationHint reads the RSS syndication module: sy:updatePeriod
// (hourly, daily, weekly, monthly, yearly; daily when only the frequency is
// given) divided by sy:updateFrequency (1 when only the period is given).
func parseSyndicationHint(extensions ext.Extensions) time.Duration {
	sy := extensions["sy"]
	text := func(name string) (string, bool) {
		values := sy[name]
		if len(values) == 0 {
			return "", false
		}
		return strings.ToLower(strings.TrimSpace(values[0].Value)), true
	}
	period, hasPeriod := text("updatePeriod")
	frequency, hasFrequency := text("updateFrequency")
	if !hasPeriod && !hasFrequency {
		return 0
	}
	var span time.Duration
	switch period {
	case "hourly":
		span = time.Hour
	case "daily", "":
		span = 24 * time.Hour
	case "weekly":
		span = 7 * 24 * time.Hour
	case "monthly":
		span = 30 * 24 * time.Hour
	case "yearly":
		span = 365 * 24 * time.Hour
	default:
		return 0
	}
	times := int64(1)
	if frequency != "" {
		n, err := strconv.ParseInt(frequency, 10, 64)
		if err != nil || n <= 0 {
			return 0
		}
		times = n
	}
	return parseSaneHint(span / time.Duration(times))
}

// parseSaneHint returns d when it is a believable poll interval, else 0.
func parseSaneHint(d time.Duration) time.Duration {
	if d < parseMinPollHint || d > parseMaxPollHint {
		return 0
	}
	return d
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

// parseCleanTitle makes a title plain text: whatever the format, titles
// arrive with HTML in them (Atom type="html", RSS titles with <b>), so
// tags are stripped and entities decoded, once, here; runs of white space
// (often newlines and indentation in the XML) become single spaces.
func parseCleanTitle(s string) string {
	return normPlainText(s)
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

// parseUTF8BOM is the UTF-8 byte order mark, which some servers prepend.
const parseUTF8BOM = "\xEF\xBB\xBF"

// parsePrologEncoding finds the encoding declaration of an XML prolog; the
// first submatch is its value.
var parsePrologEncoding = regexp.MustCompile(`^[ \t\r\n]*<\?xml[ \t\r\n][^>]*?\bencoding[ \t\r\n]*=[ \t\r\n]*["']([^"'>]*)["']`)

// parseToUTF8 returns body as valid UTF-8, whatever it came in, and makes
// its XML prolog (if any) declare UTF-8 so that the XML decoder does not
// transcode a second time. It never fails. In order:
//
//  1. a byte order mark (UTF-8, UTF-16LE/BE) decides, as it does in
//     browsers; UTF-16 without a BOM is recognised from its "<" or "{";
//  2. a body that is valid UTF-8 stays as it is, whatever it declares: a
//     declaration that disagrees with valid UTF-8 is the one that is wrong
//     (Miniflux does the same);
//  3. otherwise the XML prolog's encoding, then the Content-Type charset:
//     the prolog is written by whatever wrote the bytes, while a server's
//     charset is often a default for every file (Miniflux also prefers
//     the prolog; browsers prefer the header);
//  4. otherwise, when something declared UTF-8, invalid sequences become
//     U+FFFD; when nothing was declared at all, stray bytes are read as
//     Windows-1252, the usual culprit (valid UTF-8 sequences are kept).
func parseToUTF8(body []byte, contentType string) []byte {
	switch {
	case bytes.HasPrefix(body, []byte(parseUTF8BOM)):
		body = parseRepairUTF8(body[len(parseUTF8BOM):])
	case bytes.HasPrefix(body, []byte{0xFF, 0xFE}):
		body = parseDecode(unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), body[2:])
	case bytes.HasPrefix(body, []byte{0xFE, 0xFF}):
		body = parseDecode(unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), body[2:])
	case parseLooksUTF16(body, false):
		body = parseDecode(unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), body)
	case parseLooksUTF16(body, true):
		body = parseDecode(unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), body)
	case utf8.Valid(body):
	default:
		declaredUTF8 := false
		decoded := false
		for _, label := range []string{parsePrologLabel(body), parseContentTypeCharset(contentType)} {
			enc, isUTF8 := parseEncodingFor(label)
			declaredUTF8 = declaredUTF8 || isUTF8
			if enc != nil {
				body = parseDecode(enc, body)
				decoded = true
				break
			}
		}
		switch {
		case decoded:
		case declaredUTF8:
			body = parseRepairUTF8(body)
		default:
			body = parseGuessWindows1252(body)
		}
	}
	return parseDeclareUTF8(body)
}

// parseLooksUTF16 reports whether body starts like ASCII markup or JSON
// in UTF-16 without a byte order mark: zero high bytes, at odd offsets in
// little endian, at even ones in big endian.
func parseLooksUTF16(body []byte, bigEndian bool) bool {
	if len(body) < 4 {
		return false
	}
	hi, lo := 1, 0
	if bigEndian {
		hi, lo = 0, 1
	}
	c := body[lo]
	return body[hi] == 0 && body[hi+2] == 0 && body[lo+2] != 0 &&
		(c == '<' || c == '{' || c == ' ' || c == '\n' || c == '\r' || c == '\t')
}

// parsePrologLabel returns the encoding an XML prolog declares, or "".
func parsePrologLabel(body []byte) string {
	m := parsePrologEncoding.FindSubmatch(body[:min(len(body), 1024)])
	if m == nil {
		return ""
	}
	return strings.TrimSpace(string(m[1]))
}

// parseContentTypeCharset returns the charset parameter of a Content-Type
// header, or "".
func parseContentTypeCharset(contentType string) string {
	if contentType == "" {
		return ""
	}
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		return strings.TrimSpace(params["charset"])
	}
	// A malformed header may still carry a readable charset.
	const key = "charset="
	i := 0
	for ; i+len(key) <= len(contentType) && !strings.EqualFold(contentType[i:i+len(key)], key); i++ {
	}
	if i+len(key) > len(contentType) {
		return ""
	}
	v := contentType[i+len(key):]
	if j := strings.IndexAny(v, "; \t"); j >= 0 {
		v = v[:j]
	}
	return strings.Trim(v, `"'`)
}

// parseEncodingFor looks a charset label up as browsers do (so ISO-8859-1
// means Windows-1252 and GB2312 means GBK). It returns the encoding to
// decode with, or nil when the label is unknown, UTF-8 (isUTF8 set), or
// UTF-16 (which a body without a BOM or zero bytes is not) or a label
// that would only turn the body into a single replacement character.
func parseEncodingFor(label string) (enc encoding.Encoding, isUTF8 bool) {
	if label == "" {
		return nil, false
	}
	e, err := htmlindex.Get(label)
	if err != nil {
		return nil, false
	}
	name, err := htmlindex.Name(e)
	if err != nil {
		return nil, false
	}
	switch name {
	case "utf-8":
		return nil, true
	case "utf-16le", "utf-16be", "replacement":
		return nil, false
	}
	return e, false
}

// parseDecode transcodes body to UTF-8; undecodable bytes become U+FFFD.
func parseDecode(enc encoding.Encoding, body []byte) []byte {
	out, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		return parseRepairUTF8(body)
	}
	out = bytes.TrimPrefix(out, []byte(parseUTF8BOM))
	return parseRepairUTF8(out)
}

// parseRepairUTF8 replaces each invalid UTF-8 sequence with U+FFFD.
func parseRepairUTF8(body []byte) []byte {
	if utf8.Valid(body) {
		return body
	}
	return bytes.ToValidUTF8(body, []byte("\uFFFD"))
}

// parseGuessWindows1252 keeps the valid UTF-8 sequences of a body that
// declares no encoding and reads every other byte as Windows-1252.
func parseGuessWindows1252(body []byte) []byte {
	var b bytes.Buffer
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
	return b.Bytes()
}

// parseDeclareUTF8 rewrites an XML prolog's encoding declaration to UTF-8,
// which the body now is.
func parseDeclareUTF8(body []byte) []byte {
	m := parsePrologEncoding.FindSubmatchIndex(body[:min(len(body), 1024)])
	if m == nil {
		return body
	}
	if label := strings.ToLower(string(body[m[2]:m[3]])); label == "utf-8" || label == "utf8" {
		return body
	}
	out := make([]byte, 0, len(body))
	out = append(out, body[:m[2]]...)
	out = append(out, "UTF-8"...)
	return append(out, body[m[3]:]...)
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

// parseEntityDecl finds the general entities a DTD's internal subset
// declares: their name, and their value when it is quoted.
var parseEntityDecl = regexp.MustCompile(`<!ENTITY[ \t\r\n]+([^ \t\r\n%"'<>]+)[ \t\r\n]+(?:"([^"]*)"|'([^']*)')?`)

// parseCharRef matches a value that is one character reference.
var parseCharRef = regexp.MustCompile(`^&#(?:[0-9]{1,7}|x[0-9a-fA-F]{1,6});$`)

// parseMaxEntityName bounds how far after an '&' the ';' of a reference
// is looked for.
const parseMaxEntityName = 64

// parseDefuseXML makes an XML body safe and tolerable before it is parsed.
// The DOCTYPE is removed, so nothing a DTD declares is ever expanded or
// fetched (billion laughs, external entities); references to the entities
// it declared are dropped, except those declared as one character
// reference (as DTDs declare &nbsp;), which become that reference.
// Characters XML forbids are dropped too, raw or as character references,
// rather than failing the whole feed. Elements nested deeper than
// parseMaxDepth are an error. One linear pass: nothing grows.
func parseDefuseXML(body []byte) ([]byte, error) {
	start, end := parseFindDoctype(body)
	var entities map[string]string
	if start >= 0 {
		for _, m := range parseEntityDecl.FindAllSubmatch(body[start:end], -1) {
			if entities == nil {
				entities = make(map[string]string)
			}
			value := string(m[2]) + string(m[3])
			if !parseCharRef.MatchString(value) {
				value = ""
			}
			entities[string(m[1])] = value
		}
		body = slices.Concat(body[:start], body[end:])
	}
	out := make([]byte, 0, len(body))
	var (
		open   [][]byte // names of the open elements (sub-slices of body)
		tagEnd int      // end of the start tag last measured
	)
	for i := 0; i < len(body); {
		c := body[i]
		if parsePlainXML[c] {
			// Most of a feed: a run that needs no look is copied whole.
			j := i + 1
			for j < len(body) && parsePlainXML[body[j]] {
				j++
			}
			out = append(out, body[i:j]...)
			i = j
			continue
		}
		switch {
		case c == '<' && (bytes.HasPrefix(body[i:], []byte("<![CDATA[")) || bytes.HasPrefix(body[i:], []byte("<!--"))):
			// Literal text: references are not references here.
			closer := []byte("]]>")
			if body[i+2] == '-' {
				closer = []byte("-->")
			}
			n := bytes.Index(body[i+4:], closer)
			if n < 0 {
				n = len(body)
			} else {
				n = i + 4 + n + len(closer)
			}
			out = parseAppendXMLChars(out, body[i:n])
			i = n
		case c == '<' && i >= tagEnd && i+1 < len(body):
			// Follow the nesting, tolerating what the non-strict decoder
			// tolerates: an end tag closes the nearest open element of its
			// name (and those inside it), an unmatched one nothing.
			if body[i+1] == '/' {
				name := parseTagName(body, i+2)
				for j := len(open) - 1; j >= max(0, len(open)-parseMaxUnclosed); j-- {
					if bytes.Equal(open[j], name) {
						open = open[:j]
						break
					}
				}
			} else if name := parseTagName(body, i+1); len(name) > 0 {
				tagEnd = parseTagEnd(body, i+1)
				if selfClosing := body[tagEnd-2] == '/'; tagEnd < len(body) && !selfClosing {
					open = append(open, name)
					if len(open) > parseMaxDepth {
						return nil, fmt.Errorf("parse feed: elements nested more than %d deep", parseMaxDepth)
					}
				}
			}
			out = append(out, c)
			i++
		case c == '&':
			window := body[i+1 : min(len(body), i+1+parseMaxEntityName)]
			semi := bytes.IndexByte(window, ';')
			if semi <= 0 {
				out = append(out, c)
				i++
				continue
			}
			name := window[:semi]
			ref := body[i : i+semi+2]
			i += semi + 2
			if name[0] == '#' {
				if r, ok := parseCharRefRune(name[1:]); ok && !parseIsXMLChar(r) {
					continue // a forbidden character, spelt as a reference
				}
				out = append(out, ref...)
				continue
			}
			if value, ok := entities[string(name)]; ok {
				out = append(out, value...)
				continue
			}
			out = append(out, ref...)
		case c >= 0x20 && c < 0x80:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(body[i:])
			if parseIsXMLChar(r) || r == '\r' {
				out = append(out, body[i:i+size]...)
			}
			i += size
		}
	}
	return out, nil
}

// parsePlainXML marks the bytes parseDefuseXML copies as they are,
// whatever surrounds them: ASCII characters XML allows (and '\r'), but
// for the '<' and '&' it must look at.
var parsePlainXML = func() (plain [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		plain[c] = c != '<' && c != '&'
	}
	plain['\t'], plain['\n'], plain['\r'] = true, true, true
	return plain
}()

// parseMaxUnclosed is how many open elements an end tag looks through for
// its start tag: enough for HTML left unclosed inside a feed, and a bound
// on the work a hostile run of end tags can cause.
const parseMaxUnclosed = 16

// parseTagName returns the element name starting at body[i], or nil.
func parseTagName(body []byte, i int) []byte {
	j := i
	for j < len(body) {
		c := body[j]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' || c == '>' || c == '<' || c == '=' || c == '"' || c == '\'' {
			break
		}
		j++
	}
	if j == i || !(body[i] >= 'A' && body[i] <= 'Z' || body[i] >= 'a' && body[i] <= 'z' || body[i] == '_' || body[i] == ':' || body[i] >= 0x80) {
		return nil
	}
	return body[i:j]
}

// parseTagEnd returns the offset just past the '>' that ends the tag whose
// name starts at body[i], skipping quoted attribute values; len(body) when
// the tag never ends.
func parseTagEnd(body []byte, i int) int {
	var quote byte
	for ; i < len(body); i++ {
		switch c := body[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i + 1
		}
	}
	return len(body)
}

// parseAppendXMLChars appends the characters of b that XML allows.
func parseAppendXMLChars(out, b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if parseIsXMLChar(r) || r == '\r' {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

// parseCharRefRune reads the number of a character reference ("38",
// "x26").
func parseCharRefRune(num []byte) (rune, bool) {
	base := 10
	if len(num) > 0 && (num[0] == 'x' || num[0] == 'X') {
		base, num = 16, num[1:]
	}
	n, err := strconv.ParseUint(string(num), base, 32)
	if err != nil || n > utf8.MaxRune {
		return 0, false
	}
	return rune(n), true
}

// parseIsXMLChar reports whether XML 1.0 allows r in a document (the Char
// production, without \r, which the caller decides about).
func parseIsXMLChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n':
		return true
	case r < 0x20:
		return false
	case r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
		return false
	}
	return r <= utf8.MaxRune
}

// parseFindDoctype returns where the DOCTYPE declaration of an XML body is
// (start and end offsets), or -1, -1 when there is none before the root
// element. An unterminated declaration runs to the end of the body.
func parseFindDoctype(body []byte) (start, end int) {
	i := 0
	for i < len(body) {
		switch c := body[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case bytes.HasPrefix(body[i:], []byte("<?")):
			n := bytes.Index(body[i:], []byte("?>"))
			if n < 0 {
				return -1, -1
			}
			i += n + 2
		case bytes.HasPrefix(body[i:], []byte("<!--")):
			n := bytes.Index(body[i:], []byte("-->"))
			if n < 0 {
				return -1, -1
			}
			i += n + 3
		case len(body)-i >= 9 && bytes.EqualFold(body[i:i+9], []byte("<!DOCTYPE")):
			return i, parseDoctypeEnd(body, i+9)
		default:
			return -1, -1
		}
	}
	return -1, -1
}

// parseDoctypeEnd finds the '>' that ends a DOCTYPE declaration, skipping
// quoted strings, comments and the bracketed internal subset.
func parseDoctypeEnd(body []byte, i int) int {
	depth := 0
	var quote byte
	for i < len(body) {
		c := body[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '<' && bytes.HasPrefix(body[i:], []byte("<!--")):
			n := bytes.Index(body[i:], []byte("-->"))
			if n < 0 {
				return len(body)
			}
			i += n + 3
			continue
		case c == '[':
			depth++
		case c == ']':
			depth = max(depth-1, 0)
		case c == '>' && depth == 0:
			return i + 1
		}
		i++
	}
	return len(body)
}

// detectHead is how much of a body detectFeedType shows gofeed first.
const detectHead = 8 << 10

// detectFeedType is gofeed.DetectFeedType, which copies the whole body to
// find its root element or first character: it is shown the start of the
// body first, and the whole only when that start does not tell. The tokens
// before the root are the same in both, so the answer is too.
func detectFeedType(body []byte) gofeed.FeedType {
	if len(body) > detectHead {
		if t := gofeed.DetectFeedType(bytes.NewReader(body[:detectHead])); t != gofeed.FeedTypeUnknown {
			return t
		}
	}
	return gofeed.DetectFeedType(bytes.NewReader(body))
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
	links := DiscoverFeeds(body, feedURL)
	if len(links) == 0 {
		return errors.New("this is an HTML page, not a feed")
	}
	return fmt.Errorf("this is an HTML page, not a feed; it advertises: %s", strings.Join(links, ", "))
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
