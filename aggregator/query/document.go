package query

import (
	"html"
	"slices"
	"strings"
	"sync"
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
	// occurs in, for binary-search lookups of terms and prefixes; a
	// document for a vocabulary has none, but vocabFields: the fields
	// holding each of vocab's words and prefixes, by their number.
	index       []indexEntry
	vocab       *Vocabulary
	vocabFields []uint8
	// full is the document with every word indexed, built the first
	// time a query outside vocab is matched against it.
	full struct {
		once sync.Once
		doc  *Document
	}
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
func NewDocument(f Fields) *Document { return newDocument(f, nil) }

func newDocument(f Fields, v *Vocabulary) *Document {
	size := len(f.Title) + len(f.Summary) + len(f.Content) + len(f.Source) +
		totalLen(f.Categories) + totalLen(f.Authors) + totalLen(f.SourceTags)
	b := docBuilder{words: make([]span, 0, size/6+8)}
	b.text.Grow(size + 16)
	var sc *scratch
	if v != nil {
		sc = v.scratch.Get().(*scratch)
		defer v.scratch.Put(sc)
		b.raw, b.norm = sc.raw[:0], sc.norm[:0]
		defer func() { sc.keep(b.raw, b.norm) }()
	}

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

	d := &Document{text: b.text.String(), words: b.words, fields: b.fields, vocab: v}
	if v != nil {
		d.indexVocabulary()
	} else {
		d.buildIndex()
	}
	return d
}

// indexing returns a document whose index holds every word q looks up:
// d itself, unless it indexes only a vocabulary that q is not part of.
func (d *Document) indexing(q *Query) *Document {
	if d.vocab == nil || d.vocab.queries[q] {
		return d
	}
	d.full.once.Do(func() {
		full := &Document{text: d.text, words: d.words, fields: d.fields}
		full.buildIndex()
		d.full.doc = full
	})
	return d.full.doc
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

// indexVocabulary notes the fields that hold each of the vocabulary's
// words and prefixes.
func (d *Document) indexVocabulary() {
	d.vocabFields = make([]uint8, d.vocab.size)
	for f := range numFields {
		r := d.fields[f].words
		for _, w := range d.words[r[0]:r[1]] {
			if w.start != w.end {
				d.vocab.note(d.vocabFields, d.word(w), 1<<f)
			}
		}
	}
}

// wordFields returns the fields that hold the word w.
func (d *Document) wordFields(w string) uint8 {
	if d.vocab != nil {
		if id, ok := d.vocab.words[w]; ok {
			return d.vocabFields[id]
		}
		return 0
	}
	i := d.search(w)
	if i < len(d.index) && d.word(d.index[i].span) == w {
		return d.index[i].fields
	}
	return 0
}

// prefixFields returns the fields that hold a word starting with p.
func (d *Document) prefixFields(p string) uint8 {
	if d.vocab != nil {
		if id, ok := d.vocab.prefixes[p]; ok {
			return d.vocabFields[id]
		}
		return 0
	}
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

// Vocabulary is the set of words a group of queries look up in a
// document's index: their terms' words, and the last words of prefix
// terms as prefixes. Sorting every word of an item was most of the cost
// of indexing it, and topic queries look up a few dozen words: a document
// made by the vocabulary's NewDocument sorts nothing, but notes which
// fields hold each of the vocabulary's words and prefixes. That answers
// those queries exactly as a full index would. Any other query matched
// against such a document gets a full index, built once. A Vocabulary is
// immutable and safe for concurrent use.
type Vocabulary struct {
	// scratch holds *scratch buffers for building documents.
	scratch sync.Pool
	queries map[*Query]bool
	// words and prefixes number the words and prefixes, from 0 to size.
	words    map[string]int
	prefixes map[string]int
	size     int
	// prefixLens are the prefixes' distinct lengths, ascending.
	prefixLens []int
	// lengths[c] has bit min(n, 63) set when a word of n bytes starting
	// with byte c can be in the vocabulary: a cheap test that most words
	// of a document fail.
	lengths [256]uint64
}

// NewVocabulary returns the vocabulary of qs.
func NewVocabulary(qs ...*Query) *Vocabulary {
	v := &Vocabulary{queries: map[*Query]bool{}, words: map[string]int{}, prefixes: map[string]int{}}
	v.scratch.New = func() any { return new(scratch) }
	for _, q := range qs {
		v.queries[q] = true
		v.add(q.root)
	}
	for p := range v.prefixes {
		if !slices.Contains(v.prefixLens, len(p)) {
			v.prefixLens = append(v.prefixLens, len(p))
		}
	}
	slices.Sort(v.prefixLens)
	return v
}

// add adds the words that matching n looks up in the index (see
// Document.matchTerm); words of scripts without spaces are found in the
// text instead.
func (v *Vocabulary) add(n *node) {
	for _, k := range n.kids {
		v.add(k)
	}
	if n.op != opTerm {
		return
	}
	last := len(n.words) - 1
	for i, w := range n.words {
		switch {
		case n.noSpace[i]:
		case n.prefix && i == last:
			if _, ok := v.prefixes[w]; !ok {
				v.prefixes[w] = v.size
				v.size++
			}
			v.mark(w, ^uint64(0)<<min(len(w), 63))
		default:
			if _, ok := v.words[w]; !ok {
				v.words[w] = v.size
				v.size++
			}
			v.mark(w, 1<<min(len(w), 63))
		}
	}
}

// mark records that words starting as w does, of the lengths in bits,
// may be in the vocabulary.
func (v *Vocabulary) mark(w string, bits uint64) {
	if w == "" {
		for c := range v.lengths {
			v.lengths[c] |= bits
		}
		return
	}
	v.lengths[w[0]] |= bits
}

// note sets bit in fields (by vocabulary number) for the word w, which is
// not empty, if it is one of v's words, and for each of v's prefixes it
// starts with.
func (v *Vocabulary) note(fields []uint8, w string, bit uint8) {
	if v.lengths[w[0]]&(1<<min(len(w), 63)) == 0 {
		return
	}
	if id, ok := v.words[w]; ok {
		fields[id] |= bit
	}
	for _, n := range v.prefixLens {
		if n > len(w) {
			break
		}
		if id, ok := v.prefixes[w[:n]]; ok {
			fields[id] |= bit
		}
	}
}

// NewDocument normalises f, as the package's NewDocument does, noting
// only where the vocabulary's words and prefixes occur.
func (v *Vocabulary) NewDocument(f Fields) *Document { return newDocument(f, v) }

// scratch holds the buffers a document is built in, kept for the next:
// they are as large as the item's text, and a poll builds a document for
// every item.
type scratch struct{ raw, norm []byte }

// maxScratch bounds the bytes of a buffer kept for reuse, so that one
// huge item does not pin its buffers.
const maxScratch = 64 << 10

// keep keeps raw and norm, grown while building a document, for the next.
func (sc *scratch) keep(raw, norm []byte) {
	sc.raw, sc.norm = keepBuffer(sc.raw, raw), keepBuffer(sc.norm, norm)
}

// keepBuffer returns used, the grown form of the kept buffer old, if it is
// small enough to keep, else old.
func keepBuffer(old, used []byte) []byte {
	if cap(used) > maxScratch {
		return old
	}
	return used
}
