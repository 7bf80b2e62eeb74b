// Package query owns tributary's topic query language: its lexer and
// parser (errors carry the column), the normal form text is compared in,
// and matching a parsed query against an item's pre-normalised text.
//
// A query is made of terms. A bare term matches a whole word (forum), a
// term ending in * matches words starting with it (forum*), and a quoted
// phrase matches consecutive words ("human rights"). Terms combine with
// AND, OR, NOT (upper case) and parentheses; juxtaposition means AND and
// a leading - means NOT. NOT binds tighter than AND, AND tighter than OR.
// A term may be scoped to a field: title:, summary: (summary and content),
// category:, author:, source: (source name or tag); unscoped terms search
// title, summary, content and categories.
//
// Text is compared after NFKC normalisation, case folding and removal of
// diacritics, with HTML stripped and entities decoded. Words are split at
// anything that is not a letter, a digit or a combining mark. In scripts
// written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer,
// Myanmar) a term matches as a substring.
//
// Parse a query once; build a Document once per item with NewDocument and
// match any number of queries against it. Both are immutable and safe for
// concurrent use.
package query

import (
	"fmt"
	"strings"
)

// Query is a parsed topic query.
type Query struct {
	root *node
}

// SyntaxError is a query that does not parse. Column counts runes from 1.
type SyntaxError struct {
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("column %d: %s", e.Column, e.Msg) }

// Parse parses a topic query. Errors are *SyntaxError.
func Parse(src string) (*Query, error) {
	p, err := newParser(src)
	if err != nil {
		return nil, err
	}
	root, err := p.parse()
	if err != nil {
		return nil, err
	}
	return &Query{root: root}, nil
}

// MustParse is Parse for queries known to be valid; it panics on error.
func MustParse(src string) *Query {
	q, err := Parse(src)
	if err != nil {
		panic(fmt.Sprintf("query: MustParse(%q): %v", src, err))
	}
	return q
}

// String returns the query in canonical form: normalised words, explicit
// AND, OR and NOT, and only the parentheses precedence needs. It parses
// back to the same query.
func (q *Query) String() string {
	var b strings.Builder
	q.root.write(&b)
	return b.String()
}

type op uint8

const (
	opTerm op = iota
	opNot
	opAnd
	opOr
)

// scope is what a term searches, as written before the colon.
type scope uint8

const (
	scopeAny scope = iota
	scopeTitle
	scopeSummary
	scopeCategory
	scopeAuthor
	scopeSource
)

func (s scope) name() string {
	switch s {
	case scopeTitle:
		return "title"
	case scopeSummary:
		return "summary"
	case scopeCategory:
		return "category"
	case scopeAuthor:
		return "author"
	case scopeSource:
		return "source"
	}
	return ""
}

// fields returns the document fields a scope searches, as a bit mask.
func (s scope) fields() uint8 {
	switch s {
	case scopeTitle:
		return 1 << fieldTitle
	case scopeSummary:
		return 1<<fieldSummary | 1<<fieldContent
	case scopeCategory:
		return 1 << fieldCategory
	case scopeAuthor:
		return 1 << fieldAuthor
	case scopeSource:
		return 1<<fieldSourceName | 1<<fieldSourceTag
	}
	return 1<<fieldTitle | 1<<fieldSummary | 1<<fieldContent | 1<<fieldCategory
}

func lookupScope(name string) (scope, bool) {
	for s := scopeTitle; s <= scopeSource; s++ {
		if strings.EqualFold(name, s.name()) {
			return s, true
		}
	}
	return scopeAny, false
}

// node is one node of a parsed query. AND and OR nodes have two or more
// kids and never a kid of their own kind (the parser flattens them), so
// equal queries have equal trees.
type node struct {
	op   op
	kids []*node // opAnd, opOr: two or more; opNot: one

	// opTerm:
	scope   scope
	words   []string // normalised, at least one
	noSpace []bool   // words[i] is in a script without spaces: substring match
	prefix  bool     // the last word matches as a prefix
	fields  uint8    // scope.fields()
	text    string   // canonical form
}

// termString renders a term in canonical form: scope, then a bare word,
// a quoted phrase, or words joined by '-' with a trailing '*' for a
// prefix (a phrase cannot carry the '*').
func termString(sc scope, words []string, prefix bool) string {
	var b strings.Builder
	if sc != scopeAny {
		b.WriteString(sc.name())
		b.WriteByte(':')
	}
	switch {
	case prefix:
		b.WriteString(strings.Join(words, "-"))
		b.WriteByte('*')
	case len(words) == 1:
		b.WriteString(words[0])
	default:
		b.WriteByte('"')
		b.WriteString(strings.Join(words, " "))
		b.WriteByte('"')
	}
	return b.String()
}

func (n *node) write(b *strings.Builder) {
	switch n.op {
	case opTerm:
		b.WriteString(n.text)
	case opNot:
		b.WriteString("NOT ")
		n.kids[0].writeOperand(b, opNot)
	case opAnd, opOr:
		sep := " AND "
		if n.op == opOr {
			sep = " OR "
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			k.writeOperand(b, n.op)
		}
	}
}

// writeOperand writes n as an operand of parent, in parentheses if n
// binds more loosely.
func (n *node) writeOperand(b *strings.Builder, parent op) {
	if n.op > parent || (n.op == parent && n.op != opNot) {
		b.WriteByte('(')
		n.write(b)
		b.WriteByte(')')
		return
	}
	n.write(b)
}
