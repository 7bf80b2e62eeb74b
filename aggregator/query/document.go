package query

import (
	"html"
	"slices"
	"strings"
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
