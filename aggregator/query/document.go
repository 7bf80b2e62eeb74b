package query

import (
	"bytes"
	"html"
	"slices"
	"strings"

	nethtml "golang.org/x/net/html"
)

// Fields are the searchable parts of an item, as they come from the feed.
type Fields struct {
	Title, Summary, Content string // Summary and Content may be HTML
	Categories, Authors     []string
	Source                  string // source name
	SourceTags              []string
}

// Field indexes into Document.fields; a term's scope is a bit mask of them.
const (
	fieldTitle = iota
	fieldSummary
	fieldContent
	fieldCategory
	fieldAuthor
	fieldSourceName
	fieldSourceTag
	numFields
)

// Document is an item's text, normalised and split into words once, so
// that any number of queries can be matched against it cheaply. It is
// immutable and safe for concurrent use.
type Document struct {
	// text holds every word of every field in normal form, separated by
	// single spaces; words, fields and index point into it.
	text   string
	words  []span
	fields [numFields]fieldRange
	// index holds each distinct word once, sorted, with the fields it
	// occurs in, for binary-search lookups of terms and prefixes.
	index []indexEntry
}

type span struct{ start, end uint32 }

type fieldRange struct {
	words      [2]int32 // [lo, hi) in Document.words
	textStart  int32    // [textStart, textEnd) in Document.text
	textEnd    int32
	hasNoSpace bool // some word is in a script written without spaces
}

type indexEntry struct {
	span
	fields uint8 // bit i set: the word occurs in field i
}

// NewDocument normalises f. Do it once per item and match every topic
// against the result.
func NewDocument(f Fields) *Document {
	size := len(f.Title) + len(f.Summary) + len(f.Content) + len(f.Source) +
		totalLen(f.Categories) + totalLen(f.Authors) + totalLen(f.SourceTags)
	b := docBuilder{words: make([]span, 0, size/6+8)}
	b.text.Grow(size + 16)

	b.field(fieldTitle)
	b.addHTML(f.Title) // titles are plain text by the specs, often HTML in practice
	b.field(fieldSummary)
	b.addHTML(f.Summary)
	b.field(fieldContent)
	b.addHTML(f.Content)
	b.field(fieldCategory)
	b.addPlainList(f.Categories)
	b.field(fieldAuthor)
	b.addPlainList(f.Authors)
	b.field(fieldSourceName)
	b.addPlain(f.Source)
	b.field(fieldSourceTag)
	b.addPlainList(f.SourceTags)
	b.field(numFields)

	d := &Document{text: b.text.String(), words: b.words, fields: b.fields}
	d.buildIndex()
	return d
}

func totalLen(ss []string) int {
	n := 0
	for _, s := range ss {
		n += len(s) + 1
	}
	return n
}

type docBuilder struct {
	normalizer
	text   strings.Builder
	words  []span
	fields [numFields]fieldRange
	cur    int // field being filled
	raw    []byte
	norm   []byte
}

// field closes the current field and starts field f.
func (b *docBuilder) field(f int) {
	if f > 0 {
		r := &b.fields[f-1]
		r.words[1] = int32(len(b.words))
		r.textEnd = int32(b.text.Len())
	}
	if f < numFields {
		b.fields[f] = fieldRange{
			words:     [2]int32{int32(len(b.words)), 0},
			textStart: int32(b.text.Len()),
		}
	}
	b.cur = f
}

func (b *docBuilder) addPlainList(values []string) {
	for i, v := range values {
		if i > 0 {
			// An empty word between values: a phrase never matches
			// across two categories or two tags.
			n := uint32(b.text.Len())
			b.words = append(b.words, span{n, n})
		}
		b.addPlain(v)
	}
}

// addPlain adds a plain-text value; entities are decoded because feeds
// often escape text twice.
func (b *docBuilder) addPlain(s string) {
	if strings.IndexByte(s, '&') >= 0 {
		s = html.UnescapeString(s)
	}
	b.raw = append(b.raw[:0], s...)
	b.addRaw()
}

// addHTML adds the text of an HTML fragment.
func (b *docBuilder) addHTML(s string) {
	if strings.IndexByte(s, '<') < 0 {
		b.addPlain(s)
		return
	}
	b.raw = appendHTMLText(slices.Grow(b.raw[:0], len(s)), s)
	b.addRaw()
}

// addRaw normalises b.raw and appends its words to the current field.
func (b *docBuilder) addRaw() {
	// Text grows a little in normalisation (ß is ss, ﬃ is ffi), rarely more.
	b.norm = b.appendNormalized(slices.Grow(b.norm[:0], len(b.raw)+len(b.raw)/8), b.raw)
	p := b.norm
	for i := 0; ; {
		start, end, class := nextWord(p, i)
		if start == end {
			return
		}
		if b.text.Len() > 0 {
			b.text.WriteByte(' ')
		}
		n := uint32(b.text.Len())
		b.text.Write(p[start:end])
		b.words = append(b.words, span{n, n + uint32(end-start)})
		if class == classNoSpace {
			b.fields[b.cur].hasNoSpace = true
		}
		i = end
	}
}

func (d *Document) word(s span) string { return d.text[s.start:s.end] }

// Sorting the words is most of the cost of indexing. Instead of sorting
// spans with a comparison function, buildIndex sorts plain integers: each
// holds a word's first keyBytes bytes (big-endian, zero-padded, so
// integers order as words do; words hold no zero byte) above the word's
// position in Document.words. Only runs of words that share those bytes
// are then sorted by their full text.
const (
	keyBytes = 5
	posBits  = 64 - 8*keyBytes
	posMask  = 1<<posBits - 1
)

func (d *Document) buildIndex() {
	keys := make([]uint64, 0, len(d.words))
	if len(d.words) > posMask {
		// Not worth a second code path: such a document is tens of
		// megabytes. Index what fits.
		d.words = d.words[:posMask]
		for f := range d.fields {
			r := &d.fields[f].words
			r[0], r[1] = min(r[0], posMask), min(r[1], posMask)
		}
	}
	for i, w := range d.words {
		if w.start == w.end {
			continue
		}
		var k uint64
		for j := range keyBytes {
			k <<= 8
			if p := w.start + uint32(j); p < w.end {
				k |= uint64(d.text[p])
			}
		}
		keys = append(keys, k<<posBits|uint64(i))
	}
	slices.Sort(keys)
	byWord := func(a, b uint64) int {
		return strings.Compare(d.word(d.words[a&posMask]), d.word(d.words[b&posMask]))
	}
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j]>>posBits == keys[i]>>posBits {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(keys[i:j], byWord)
		}
		i = j
	}

	// Merge equal words, keeping the union of their fields.
	var fieldOf [numFields]int32 // first word of each field, to map positions to fields
	for f := range numFields {
		fieldOf[f] = d.fields[f].words[0]
	}
	idx := make([]indexEntry, 0, len(keys))
	for _, k := range keys {
		pos := int32(k & posMask)
		f := numFields - 1
		for f > 0 && pos < fieldOf[f] {
			f--
		}
		w := d.words[pos]
		if n := len(idx); n > 0 && d.word(idx[n-1].span) == d.word(w) {
			idx[n-1].fields |= 1 << f
			continue
		}
		idx = append(idx, indexEntry{w, 1 << f})
	}
	d.index = idx
}

// search returns the position of the first index entry >= w.
func (d *Document) search(w string) int {
	lo, hi := 0, len(d.index)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if d.word(d.index[m].span) < w {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// wordFields returns the fields that hold the word w.
func (d *Document) wordFields(w string) uint8 {
	i := d.search(w)
	if i < len(d.index) && d.word(d.index[i].span) == w {
		return d.index[i].fields
	}
	return 0
}

// prefixFields returns the fields that hold a word starting with p.
func (d *Document) prefixFields(p string) uint8 {
	var fields uint8
	for i := d.search(p); i < len(d.index); i++ {
		e := d.index[i]
		if !strings.HasPrefix(d.word(e.span), p) {
			break
		}
		fields |= e.fields
	}
	return fields
}

// isSkipped reports whether the content of an element is not text a
// reader sees.
func isSkipped(name []byte) bool {
	switch string(name) {
	case "script", "style", "template", "noscript", "iframe", "noembed",
		"noframes", "object",
		"rt", "rp": // ruby annotations: readings, not words
		return true
	}
	return false
}

// isInline reports whether an element does not separate words: "<b>H</b>ello"
// is one word.
func isInline(name []byte) bool {
	switch string(name) {
	case "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn",
		"em", "font", "i", "ins", "kbd", "mark", "q", "ruby", "s", "samp",
		"small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u",
		"var", "wbr":
		return true
	}
	return false
}

// appendHTMLText appends the text content of an HTML fragment to dst, with
// entities decoded, the content of script, style and similar elements
// dropped, and a space where a block element separates words.
func appendHTMLText(dst []byte, s string) []byte {
	dst, _ = appendHTMLTextPrefix(dst, s, 0)
	return dst
}

// appendHTMLTextPrefix is appendHTMLText that stops reading once it has
// appended at least limit bytes (none if limit is 0) and can end what it
// appended just after an ASCII space: the text it returns then ends at a
// word boundary and is a prefix of the whole text. complete reports
// whether the whole fragment was read.
func appendHTMLTextPrefix(dst []byte, s string, limit int) (_ []byte, complete bool) {
	start := len(dst)
	// cut ends dst after the first ASCII space at or after the limit that
	// lies past from, if there is one.
	cut := func(from int) ([]byte, bool) {
		if limit <= 0 || len(dst)-start < limit {
			return dst, false
		}
		for i := max(from, start+limit-1); i < len(dst); i++ {
			switch dst[i] {
			case ' ', '\t', '\n', '\r', '\f':
				return dst[:i+1], true
			}
		}
		return dst, false
	}
	z := nethtml.NewTokenizer(strings.NewReader(s))
	var nameBuf [16]byte
	var skip []byte // name of the element whose content is being skipped
	depth := 0      // nesting of skip within itself
	for {
		tt := z.Next()
		switch tt {
		case nethtml.ErrorToken:
			return dst, true
		case nethtml.TextToken:
			if skip == nil {
				from := len(dst)
				dst = append(dst, z.Text()...)
				if out, stop := cut(from); stop {
					return out, false
				}
			}
			continue
		case nethtml.StartTagToken, nethtml.EndTagToken, nethtml.SelfClosingTagToken:
		default:
			continue
		}
		// The name from Raw, lower-cased into nameBuf: TagName allocates.
		name := tagName(nameBuf[:0], z.Raw())
		switch {
		case skip != nil:
			if bytes.Equal(name, skip) {
				switch tt {
				case nethtml.StartTagToken:
					depth++
				case nethtml.EndTagToken:
					if depth--; depth == 0 {
						skip = nil
					}
				}
			}
		case tt == nethtml.StartTagToken && isSkipped(name):
			skip = append([]byte(nil), name...)
			depth = 1
		case !isInline(name):
			dst = append(dst, ' ')
			if out, stop := cut(len(dst) - 1); stop {
				return out, false
			}
		}
	}
}

// tagName appends the lower-cased name of the tag whose source is raw
// ("<P class=x>", "</p>") to dst. Names longer than dst's capacity are
// cut short; no element this package cares about has one.
func tagName(dst, raw []byte) []byte {
	i := 1
	if i < len(raw) && raw[i] == '/' {
		i++
	}
	for ; i < len(raw) && len(dst) < cap(dst); i++ {
		c := raw[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '/' || c == '>' {
			break
		}
		dst = append(dst, lowerASCII(c))
	}
	return dst
}
