package query

import (
	"slices"
	"strings"
)

// Match reports whether the document satisfies the query.
func (q *Query) Match(d *Document) bool { return q.root.match(d.indexing(q)) }

// Explain lists, in query order and without repeats, the terms and
// phrases of the query that occur in the document, in canonical form.
// A term that occurs under a NOT, and so counts against the match, is
// listed as "NOT term". It is meant for an administrator tuning a query,
// and lists what occurs whether or not the whole query matches.
func (q *Query) Explain(d *Document) []string {
	var out []string
	q.root.explain(d.indexing(q), false, &out)
	return out
}

func (n *node) match(d *Document) bool {
	switch n.op {
	case opTerm:
		return d.matchTerm(n)
	case opNot:
		return !n.kids[0].match(d)
	case opAnd:
		for _, k := range n.kids {
			if !k.match(d) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range n.kids {
			if k.match(d) {
				return true
			}
		}
	}
	return false
}

func (n *node) explain(d *Document, negated bool, out *[]string) {
	switch n.op {
	case opTerm:
		if !d.matchTerm(n) {
			return
		}
		s := n.text
		if negated {
			s = "NOT " + s
		}
		if !slices.Contains(*out, s) {
			*out = append(*out, s)
		}
	case opNot:
		n.kids[0].explain(d, !negated, out)
	default:
		for _, k := range n.kids {
			k.explain(d, negated, out)
		}
	}
}

// matchTerm reports whether the term n occurs in one of its fields.
func (d *Document) matchTerm(n *node) bool {
	last := len(n.words) - 1
	if last == 0 {
		w := n.words[0]
		switch {
		case n.noSpace[0]:
			return d.containsNoSpace(w, n.fields)
		case n.prefix:
			return d.prefixFields(w)&n.fields != 0
		default:
			return d.wordFields(w)&n.fields != 0
		}
	}
	// A phrase. The index rules out most documents: every word must occur
	// (whole, or as a prefix for the last) in a field they share.
	fields := n.fields
	for i, w := range n.words {
		switch {
		case n.noSpace[i]:
			fields &= d.noSpaceFields()
		case i == last && n.prefix:
			fields &= d.prefixFields(w)
		default:
			fields &= d.wordFields(w)
		}
		if fields == 0 {
			return false
		}
	}
	for f := range numFields {
		if fields&(1<<f) != 0 && d.phraseIn(f, n) {
			return true
		}
	}
	return false
}

// containsNoSpace reports whether w, a word of a script written without
// spaces, occurs as a substring in one of fields. A match cannot span two
// words: w holds no space and words are separated by one.
func (d *Document) containsNoSpace(w string, fields uint8) bool {
	for f := range numFields {
		r := &d.fields[f]
		if fields&(1<<f) != 0 && r.hasNoSpace && strings.Contains(d.text[r.textStart:r.textEnd], w) {
			return true
		}
	}
	return false
}

func (d *Document) noSpaceFields() uint8 {
	var fields uint8
	for f := range numFields {
		if d.fields[f].hasNoSpace {
			fields |= 1 << f
		}
	}
	return fields
}

// phraseIn reports whether the phrase n occurs as consecutive words of
// field f. A word of a script without spaces matches the end of the first
// document word, the start of the last, or a whole word in between.
func (d *Document) phraseIn(f int, n *node) bool {
	r := d.fields[f].words
	ws := d.words[r[0]:r[1]]
	k := len(n.words)
outer:
	for i := 0; i+k <= len(ws); i++ {
		for j, w := range n.words {
			tok := d.word(ws[i+j])
			var ok bool
			switch {
			case n.noSpace[j] && j == 0:
				ok = strings.HasSuffix(tok, w)
			case n.noSpace[j] && j == k-1, n.prefix && j == k-1:
				ok = strings.HasPrefix(tok, w)
			default:
				ok = tok == w
			}
			if !ok {
				continue outer
			}
		}
		return true
	}
	return false
}
