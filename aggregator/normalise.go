package aggregator

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"html"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	htmlatom "golang.org/x/net/html/atom"
)

// normIdentityHashPrefix marks an identity made from the item's content
// because it had neither guid nor link.
const normIdentityHashPrefix = "hash:"

// normIDNamespace returns the RFC 4122 URL namespace
// (6ba7b811-9dad-11d1-80b4-00c04fd430c8) that item ids are derived in.
// Changing it would change every item's public id.
func normIDNamespace() [16]byte {
	return [16]byte{
		0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
		0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
	}
}

// Limits on what one feed and one item may carry, so that a hostile or
// broken feed cannot fill the store or make every later render slow. Text
// is cut on a rune boundary; a link that is too long is dropped instead,
// since half a URL points somewhere else.
const (
	normDefaultMaxItems  = 1000      // items kept from one feed when the caller gives no limit
	normMaxTitleRunes    = 1000      // title
	normMaxLinkBytes     = 4 << 10   // link: dropped when longer
	normMaxIdentityBytes = 2 << 10   // guid or link used as identity: hashed when longer
	normMaxNameRunes     = 200       // one author or category
	normMaxNames         = 50        // authors, and categories, per item
	normMaxHTMLBytes     = 256 << 10 // summary, and content
)

// ItemIdentity returns what identifies an item within its source: its
// guid/id, else its link, else "hash:" and the hex SHA-256 of its title
// and published time (of its summary and content when it has neither). A
// guid or link longer than 2 KiB is replaced by "hash:" and its SHA-256.
func ItemIdentity(p ParsedItem) string {
	if guid := strings.TrimSpace(p.GUID); guid != "" {
		return normBoundIdentity("guid", guid)
	}
	if link := strings.TrimSpace(p.Link); link != "" {
		return normBoundIdentity("link", link)
	}
	title := strings.TrimSpace(p.Title)
	published := normTime(p.Published)
	h := sha256.New()
	if title == "" && published == "" {
		// Nothing else to tell items apart by; without this every such
		// item of the feed would collapse into one.
		normWriteFields(h, "body", strings.TrimSpace(p.Summary), strings.TrimSpace(p.Content))
	} else {
		normWriteFields(h, title, published)
	}
	return normIdentityHashPrefix + hex.EncodeToString(h.Sum(nil))
}

// normBoundIdentity keeps an identity short enough to store and compare.
func normBoundIdentity(kind, value string) string {
	if len(value) <= normMaxIdentityBytes {
		return value
	}
	h := sha256.New()
	normWriteFields(h, kind, value)
	return normIdentityHashPrefix + hex.EncodeToString(h.Sum(nil))
}

// ItemID returns an item's permanent public id: a "urn:uuid:" name-based
// UUID (version 5, SHA-1) of the source name, a newline and the identity.
func ItemID(source, identity string) string {
	return "urn:uuid:" + normUUIDv5(normIDNamespace(), source+"\n"+identity)
}

// NormaliseItems converts a parsed feed's items into Items of the source.
// Published and Updated stay zero when the feed gives no date; the poller
// fills them. Items with an identity seen earlier in the same feed are
// dropped: the first one wins. At most maxItems items are returned (1000
// when maxItems <= 0): the newest by published date, an undated item
// counting as the oldest and ties kept in feed order; the result stays in
// feed order. Every text field is valid UTF-8 without control characters
// (tab and newline aside) and within the limits above.
func NormaliseItems(source string, feed *ParsedFeed, maxItems int) []Item {
	if feed == nil {
		return nil
	}
	if maxItems <= 0 {
		maxItems = normDefaultMaxItems
	}
	items := make([]Item, 0, min(len(feed.Items), maxItems))
	seen := make(map[string]bool, len(feed.Items))
	for _, p := range feed.Items {
		p.GUID = normText(p.GUID)
		p.Link = normText(p.Link)
		p.Title = normText(p.Title)
		p.Summary = normText(p.Summary)
		p.Content = normText(p.Content)
		identity := ItemIdentity(p)
		if seen[identity] {
			continue
		}
		seen[identity] = true
		link := strings.TrimSpace(p.Link)
		if len(link) > normMaxLinkBytes {
			link = ""
		}
		items = append(items, Item{
			ID:         ItemID(source, identity),
			Source:     source,
			Identity:   identity,
			Link:       link,
			Title:      normTruncateRunes(strings.Join(strings.Fields(p.Title), " "), normMaxTitleRunes),
			Summary:    normTruncateBytes(strings.TrimSpace(p.Summary), normMaxHTMLBytes),
			Content:    normTruncateBytes(strings.TrimSpace(p.Content), normMaxHTMLBytes),
			Authors:    normNames(p.Authors),
			Categories: normNames(p.Categories),
			Published:  normUTC(p.Published),
			Updated:    normUTC(p.Updated),
		})
	}
	items = normKeepNewest(items, maxItems)
	for i := range items {
		items[i].Hash = normItemHash(&items[i])
	}
	return items
}

// normKeepNewest returns the max newest items by Published (zero counts
// as oldest; ties keep feed order), in feed order.
func normKeepNewest(items []Item, max int) []Item {
	if len(items) <= max {
		return items
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return items[b].Published.Compare(items[a].Published)
	})
	order = order[:max]
	slices.Sort(order)
	kept := make([]Item, 0, max)
	for _, i := range order {
		kept = append(kept, items[i])
	}
	return kept
}

// normText returns s as valid UTF-8 (each invalid byte becomes U+FFFD)
// without control characters other than tab and newline, and without the
// non-characters U+FFFE and U+FFFF, none of which any output format can
// carry.
func normText(s string) string {
	if cleanText(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n':
			return r
		case r < 0x20, r >= 0x7F && r <= 0x9F, r == 0xFFFE, r == 0xFFFF:
			return -1
		}
		return r
	}, s)
}

// cleanText reports whether normText would leave s as it is: valid
// UTF-8 with none of the characters it drops. Feeds' text nearly always
// is, and this scan costs a fraction of mapping every rune.
func cleanText(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' || c == 0x7F {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r <= 0x9F || r == 0xFFFE || r == 0xFFFF {
			return false
		}
		i += size
	}
	return true
}

// normTruncateRunes cuts s after max runes.
func normTruncateRunes(s string, max int) string {
	if len(s) <= max { // fewer bytes than max means fewer runes
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return strings.TrimRightFunc(s[:i], unicode.IsSpace)
		}
		n++
	}
	return s
}

// normTruncateBytes cuts valid UTF-8 s to at most max bytes, on a rune
// boundary.
func normTruncateBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// normNames cleans a list of authors or categories: valid text, white
// space collapsed, each at most normMaxNameRunes, empty ones dropped, at
// most normMaxNames of them; nil when nothing is left.
func normNames(values []string) []string {
	var out []string
	for _, v := range values {
		if len(out) == normMaxNames {
			break
		}
		v = strings.Join(strings.Fields(normText(v)), " ")
		if v = normTruncateRunes(v, normMaxNameRunes); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// normPlainText turns a title that may hold HTML into plain text: known
// HTML tags and comments are removed (a "<" that does not start one stays,
// as in "x<y"), entities are decoded and runs of white space become one
// space. It is applied once, where a title is parsed: decoding twice would
// turn a literal "&lt;" into "<".
func normPlainText(s string) string {
	if strings.ContainsAny(s, "<&") {
		s = html.UnescapeString(normStripTags(s))
	}
	return strings.Join(strings.Fields(s), " ")
}

// normStripTags removes HTML comments and the tags of known HTML elements;
// a tag that breaks a line (br, p, div, li…) leaves a space.
func normStripTags(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s, "-->")
			if end < 0 {
				return b.String()
			}
			s = s[end+3:]
			continue
		}
		n, breaks := normTagLen(s)
		if n == 0 {
			b.WriteByte('<')
			s = s[1:]
			continue
		}
		if breaks {
			b.WriteByte(' ')
		}
		s = s[n:]
	}
}

// normTagLen returns the length of the tag of a known HTML element that s
// starts with (0 when it does not start with one), and whether the tag
// breaks the line.
func normTagLen(s string) (n int, breaks bool) {
	i := 1
	if i < len(s) && s[i] == '/' {
		i++
	}
	start := i
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || i > start && s[i] >= '0' && s[i] <= '9') {
		i++
	}
	if i == start || i == len(s) {
		return 0, false
	}
	a := htmlatom.Lookup([]byte(strings.ToLower(s[start:i])))
	if a == 0 {
		return 0, false
	}
	switch s[i] {
	case '>', '/', ' ', '\t', '\n', '\r', '\f':
	default:
		return 0, false
	}
	end := strings.IndexByte(s[i:], '>')
	if end < 0 {
		return 0, false
	}
	switch a {
	case htmlatom.Br, htmlatom.P, htmlatom.Div, htmlatom.Li, htmlatom.Tr, htmlatom.Td, htmlatom.Th,
		htmlatom.H1, htmlatom.H2, htmlatom.H3, htmlatom.H4, htmlatom.H5, htmlatom.H6:
		breaks = true
	}
	return i + end + 1, breaks
}

// normItemHash fingerprints every feed-provided field of an item. Each
// field is length-prefixed, and each list is count-prefixed, so that no two
// different items can produce the same byte stream.
func normItemHash(it *Item) string {
	h := sha256.New()
	normWriteFields(h, "v1", it.Identity, it.Link, it.Title, it.Summary, it.Content)
	normWriteFields(h, it.Authors...)
	normWriteFields(h, it.Categories...)
	normWriteFields(h, normTime(it.Published), normTime(it.Updated))
	return hex.EncodeToString(h.Sum(nil))
}

// normWriteFields writes a count, then each field as length and bytes.
func normWriteFields(h hash.Hash, fields ...string) {
	var buf [binary.MaxVarintLen64]byte
	h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(fields)))])
	for _, f := range fields {
		h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
}

// normTime formats t for hashing: RFC 3339 in UTC, or "" when zero.
func normTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// normUTC returns t in UTC, keeping the zero time zero.
func normUTC(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// normUUIDv5 returns the RFC 4122 version 5 UUID of name in namespace, in
// its canonical lower-case form.
func normUUIDv5(namespace [16]byte, name string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
