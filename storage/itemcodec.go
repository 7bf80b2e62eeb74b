package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

// The binary item codec (version 2): every field in a fixed order, strings
// and lists prefixed with their length as a uvarint, times in time.Time's
// binary form (the instant and its zone offset). The record is a head —
// every field but the HTML, prefixed with its length — then the summary
// and the content, so that lookups which need no HTML (reconciling a
// stored item, comparing a story candidate) read the head alone.
//
// Decoding copies the head into one string and slices the fields out of
// it: a head costs one allocation plus its lists. The story tokens are a
// sub-record of their own, copied apart, so that a comparison document
// kept in a cache does not keep the rest of the record alive.

var errTruncated = errors.New("truncated record")

// headBuffers are scratch buffers for encoding heads: the head is
// written first, to know its length, then copied into a record allocated
// at its exact size.
var headBuffers = sync.Pool{New: func() any { return new([]byte) }}

func appendItem(b []byte, it *aggregator.Item) ([]byte, error) {
	scratch := headBuffers.Get().(*[]byte)
	defer headBuffers.Put(scratch)
	head, err := appendItemHead((*scratch)[:0], it)
	if err != nil {
		return nil, err
	}
	*scratch = head
	b = slices.Grow(b, 1+stringSize(len(head))+stringSize(len(it.Summary))+stringSize(len(it.Content)))
	b = append(b, codecBinary)
	b = appendString(b, head)
	b = appendString(b, it.Summary)
	return appendString(b, it.Content), nil
}

// stringSize is how many bytes appendString writes for a string of n.
func stringSize(n int) int { return uvarintSize(uint64(n)) + n }

func uvarintSize(x uint64) int { return max(1, (bits.Len64(x)+6)/7) }

// stringsSize is how many bytes appendStrings writes for l.
func stringsSize(l []string) int {
	n := uvarintSize(uint64(len(l)))
	for _, s := range l {
		n += stringSize(len(s))
	}
	return n
}

func appendItemHead(b []byte, it *aggregator.Item) ([]byte, error) {
	for _, s := range [...]string{it.ID, it.Source, it.Hash, it.StoryID, it.MergedBy} {
		b = appendString(b, s)
	}
	for _, t := range [...]time.Time{it.Published, it.Updated, it.FirstSeen} {
		var err error
		if b, err = appendTime(b, t); err != nil {
			return nil, err
		}
	}
	for _, s := range [...]string{it.Identity, it.Link, it.Title} {
		b = appendString(b, s)
	}
	for _, l := range [...][]string{it.Topics, it.Authors, it.Categories} {
		b = appendStrings(b, l)
	}
	b = appendString(b, it.Keys.Link)
	b = appendString(b, it.Keys.Title)
	b = binary.AppendUvarint(b, uint64(len(it.Keys.Bands)))
	for _, band := range it.Keys.Bands {
		b = binary.BigEndian.AppendUint64(b, band)
	}
	if t := it.Tokens; t == nil {
		b = append(b, 0)
	} else {
		// The token lists are a sub-record, written in place after its
		// length.
		lists := [...][]string{t.Title, t.TitleNamed, t.Lede, t.LedeNamed}
		size := 0
		for _, l := range lists {
			size += stringsSize(l)
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(size))
		for _, l := range lists {
			b = appendStrings(b, l)
		}
	}
	return b, nil
}

func appendString[S string | []byte](b []byte, s S) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, l []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = appendString(b, s)
	}
	return b
}

func appendTime(b []byte, t time.Time) ([]byte, error) {
	tb, err := t.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode time %v: %w", t, err)
	}
	return appendString(b, string(tb)), nil
}

// readItem decodes the payload of a version 2 record; without body, the
// Summary and Content are left empty and not read.
func readItem(payload []byte, body bool) (aggregator.Item, error) {
	head, n := binary.Uvarint(payload)
	if n <= 0 || head > uint64(len(payload)-n) {
		return aggregator.Item{}, errTruncated
	}
	it, err := readItemHead(string(payload[n : n+int(head)]))
	if err != nil {
		return aggregator.Item{}, err
	}
	if !body {
		return it, nil
	}
	r := fieldReader{s: string(payload[n+int(head):])}
	it.Summary, it.Content = r.str(), r.str()
	if err := r.end("item record"); err != nil {
		return aggregator.Item{}, err
	}
	return it, nil
}

func readItemHead(head string) (aggregator.Item, error) {
	r := fieldReader{s: head}
	var it aggregator.Item
	for _, p := range [...]*string{&it.ID, &it.Source, &it.Hash, &it.StoryID, &it.MergedBy} {
		*p = r.str()
	}
	for _, p := range [...]*time.Time{&it.Published, &it.Updated, &it.FirstSeen} {
		*p = r.time()
	}
	for _, p := range [...]*string{&it.Identity, &it.Link, &it.Title} {
		*p = r.str()
	}
	for _, p := range [...]*[]string{&it.Topics, &it.Authors, &it.Categories} {
		*p = r.strs()
	}
	it.Keys.Link, it.Keys.Title = r.str(), r.str()
	if n := r.count(8); n > 0 {
		it.Keys.Bands = make([]uint64, n)
		for i := range it.Keys.Bands {
			it.Keys.Bands[i] = r.uint64()
		}
	}
	switch r.byte() {
	case 0:
	case 1:
		sub := fieldReader{s: strings.Clone(r.str())}
		it.Tokens = &aggregator.StoryTokens{Title: sub.strs(), TitleNamed: sub.strs(), Lede: sub.strs(), LedeNamed: sub.strs()}
		if err := sub.end("story tokens"); err != nil {
			return aggregator.Item{}, err
		}
	default:
		r.fail(errors.New("bad story tokens flag"))
	}
	if err := r.end("item head"); err != nil {
		return aggregator.Item{}, err
	}
	return it, nil
}

// fieldReader reads the fields of a record; after the first error every
// read returns a zero value and err keeps that error.
type fieldReader struct {
	s   string
	err error
}

// end returns the first error of the reads, or an error if bytes are
// left after the last field of what (say, "item head").
func (r *fieldReader) end(what string) error {
	if r.err == nil && r.s != "" {
		r.err = fmt.Errorf("trailing bytes in %s", what)
	}
	return r.err
}

func (r *fieldReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.s = ""
}

func (r *fieldReader) uvarint() uint64 {
	var x uint64
	for i := 0; i < len(r.s) && i < binary.MaxVarintLen64; i++ {
		c := r.s[i]
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			r.s = r.s[i+1:]
			return x
		}
	}
	r.fail(errTruncated)
	return 0
}

// varint reads a signed integer written by binary.AppendVarint.
func (r *fieldReader) varint() int64 {
	u := r.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// count reads a length of elements of at least size bytes each, which
// must fit in what is left.
func (r *fieldReader) count(size int) int {
	n := r.uvarint()
	if n > uint64(len(r.s)/size) {
		r.fail(errTruncated)
		return 0
	}
	return int(n)
}

func (r *fieldReader) str() string {
	n := r.count(1)
	v := r.s[:n]
	r.s = r.s[n:]
	return v
}

func (r *fieldReader) strs() []string {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	if r.err != nil {
		return nil
	}
	return out
}

func (r *fieldReader) byte() byte {
	if r.s == "" {
		r.fail(errTruncated)
		return 0
	}
	c := r.s[0]
	r.s = r.s[1:]
	return c
}

func (r *fieldReader) uint64() uint64 {
	if len(r.s) < 8 {
		r.fail(errTruncated)
		return 0
	}
	v := binary.BigEndian.Uint64([]byte(r.s[:8]))
	r.s = r.s[8:]
	return v
}

func (r *fieldReader) time() time.Time {
	s := r.str()
	var t time.Time
	if err := t.UnmarshalBinary([]byte(s)); err != nil && r.err == nil {
		r.fail(fmt.Errorf("decode time: %w", err))
	}
	return t
}
