package query

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxDepth bounds the nesting of parentheses and NOTs, so that a hostile
// query cannot exhaust the stack of the parser or the matcher.
const maxDepth = 100

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokLParen
	tokRParen
	tokAnd
	tokOr
	tokNot
	tokMinus
	tokTerm
)

type token struct {
	kind tokKind
	col  int   // rune column, from 1
	term *node // tokTerm
}

// startsOperand reports whether a token can begin an operand of AND/OR.
func (k tokKind) startsOperand() bool {
	return k == tokLParen || k == tokNot || k == tokMinus || k == tokTerm
}

func errorf(col int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Column: col, Msg: fmt.Sprintf(format, args...)}
}

// lexer splits a query into tokens, normalising terms as it goes.
type lexer struct {
	src  string
	pos  int // byte offset
	col  int // rune column of pos, from 1
	toks []token
}

func (l *lexer) peek() (rune, int) {
	if l.pos >= len(l.src) {
		return 0, 0
	}
	return utf8.DecodeRuneInString(l.src[l.pos:])
}

func (l *lexer) advance(size int) {
	l.pos += size
	l.col++
}

func isQuote(r rune) bool { return r == '"' || r == '“' || r == '”' }

// endsBare reports whether r ends a bare word.
func endsBare(r rune) bool {
	return unicode.IsSpace(r) || r == '(' || r == ')' || isQuote(r)
}

func (l *lexer) lex() error {
	for {
		r, size := l.peek()
		col := l.col
		switch {
		case size == 0:
			l.toks = append(l.toks, token{kind: tokEOF, col: col})
			return nil
		case unicode.IsSpace(r):
			l.advance(size)
		case r == '(':
			l.advance(size)
			l.toks = append(l.toks, token{kind: tokLParen, col: col})
		case r == ')':
			l.advance(size)
			l.toks = append(l.toks, token{kind: tokRParen, col: col})
		case isQuote(r):
			t, err := l.phrase(scopeAny)
			if err != nil {
				return err
			}
			l.toks = append(l.toks, t)
		case r == '-':
			l.advance(size)
			if next, n := l.peek(); n == 0 || unicode.IsSpace(next) || next == ')' {
				return errorf(col, "'-' must be followed directly by a term")
			}
			l.toks = append(l.toks, token{kind: tokMinus, col: col})
		default:
			if err := l.bare(); err != nil {
				return err
			}
		}
	}
}

// bare lexes a keyword, a term or a scoped term.
func (l *lexer) bare() error {
	start, col := l.pos, l.col
	for {
		r, size := l.peek()
		if size == 0 || endsBare(r) {
			break
		}
		l.advance(size)
	}
	word := l.src[start:l.pos]
	switch word {
	case "AND":
		l.toks = append(l.toks, token{kind: tokAnd, col: col})
		return nil
	case "OR":
		l.toks = append(l.toks, token{kind: tokOr, col: col})
		return nil
	case "NOT":
		l.toks = append(l.toks, token{kind: tokNot, col: col})
		return nil
	}
	sc := scopeAny
	if i := strings.IndexByte(word, ':'); i > 0 && isFieldName(word[:i]) {
		name := word[:i]
		var ok bool
		if sc, ok = lookupScope(name); !ok {
			return errorf(col, "unknown field %q (fields are title, summary, category, author, source)", name)
		}
		rest := word[i+1:]
		restCol := col + utf8.RuneCountInString(word[:i+1])
		switch {
		case rest == "":
			if r, _ := l.peek(); isQuote(r) {
				t, err := l.phrase(sc)
				if err != nil {
					return err
				}
				l.toks = append(l.toks, t)
				return nil
			}
			return errorf(col, "%s: must be followed by a term, a prefix or a phrase", name)
		case rest[0] == '-':
			return errorf(restCol, "put '-' before the field to exclude: -%s:%s", name, rest[1:])
		}
		word, col = rest, restCol
	}
	return l.term(word, col, sc)
}

func isFieldName(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// term lexes a bare term or prefix in scope sc.
func (l *lexer) term(word string, col int, sc scope) error {
	prefix := false
	if i := strings.IndexByte(word, '*'); i >= 0 {
		if i != len(word)-1 {
			return errorf(col+utf8.RuneCountInString(word[:i]), "'*' is only allowed at the end of a term")
		}
		prefix = true
		word = word[:i]
	}
	words, noSpace := splitWords(word)
	if len(words) == 0 {
		if prefix {
			return errorf(col, "'*' must follow a word")
		}
		return errorf(col, "term %q has no letters or digits", word)
	}
	l.toks = append(l.toks, token{kind: tokTerm, col: col, term: newTerm(sc, words, noSpace, prefix)})
	return nil
}

// phrase lexes a quoted phrase in scope sc; l is at the opening quote.
func (l *lexer) phrase(sc scope) (token, error) {
	col := l.col
	_, size := l.peek()
	l.advance(size)
	start := l.pos
	for {
		r, size := l.peek()
		if size == 0 {
			return token{}, errorf(col, "unterminated quote")
		}
		if isQuote(r) {
			text := l.src[start:l.pos]
			l.advance(size)
			words, noSpace := splitWords(text)
			if len(words) == 0 {
				return token{}, errorf(col, "empty phrase")
			}
			return token{kind: tokTerm, col: col, term: newTerm(sc, words, noSpace, false)}, nil
		}
		l.advance(size)
	}
}

// splitWords normalises s and splits it into words.
func splitWords(s string) (words []string, noSpace []bool) {
	var nz normalizer
	return appendWords(nil, nil, nz.appendNormalized(nil, []byte(s)))
}

// appendWords appends the words of normalised text p.
func appendWords(words []string, noSpace []bool, p []byte) ([]string, []bool) {
	for i := 0; ; {
		start, end, class := nextWord(p, i)
		if start == end {
			return words, noSpace
		}
		words = append(words, string(p[start:end]))
		noSpace = append(noSpace, class == classNoSpace)
		i = end
	}
}

func newTerm(sc scope, words []string, noSpace []bool, prefix bool) *node {
	return &node{
		op:      opTerm,
		scope:   sc,
		words:   words,
		noSpace: noSpace,
		prefix:  prefix,
		fields:  sc.fields(),
		text:    termString(sc, words, prefix),
	}
}

// parser is a recursive-descent parser over the lexer's tokens:
//
//	or      = and { "OR" and }
//	and     = unary { ["AND"] unary }
//	unary   = ("NOT" | "-") unary | "(" or ")" | term
type parser struct {
	toks  []token
	pos   int
	depth int
}

func newParser(src string) (*parser, error) {
	l := lexer{src: src, col: 1}
	if err := l.lex(); err != nil {
		return nil, err
	}
	return &parser{toks: l.toks}, nil
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *parser) parse() (*node, error) {
	if p.peek().kind == tokEOF {
		return nil, errorf(1, "empty query")
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		// or() stops only at EOF or ')'.
		return nil, errorf(t.col, "unbalanced parenthesis")
	}
	return n, nil
}

func (p *parser) or() (*node, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	kids := []*node{left}
	for p.peek().kind == tokOr {
		t := p.next()
		if !p.peek().kind.startsOperand() {
			return nil, errorf(t.col, "OR must be followed by a term")
		}
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		kids = append(kids, right)
	}
	return group(opOr, kids), nil
}

func (p *parser) and() (*node, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	kids := []*node{left}
	for {
		switch k := p.peek().kind; {
		case k == tokAnd:
			t := p.next()
			if !p.peek().kind.startsOperand() {
				return nil, errorf(t.col, "AND must be followed by a term")
			}
		case k.startsOperand(): // juxtaposition
		default:
			return group(opAnd, kids), nil
		}
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, right)
	}
}

func (p *parser) unary() (*node, error) {
	t := p.next()
	switch t.kind {
	case tokTerm:
		return t.term, nil
	case tokNot, tokMinus:
		if !p.peek().kind.startsOperand() {
			if t.kind == tokMinus {
				return nil, errorf(t.col, "'-' must be followed directly by a term")
			}
			return nil, errorf(t.col, "NOT must be followed by a term")
		}
		if err := p.enter(t.col); err != nil {
			return nil, err
		}
		kid, err := p.unary()
		if err != nil {
			return nil, err
		}
		p.depth--
		return &node{op: opNot, kids: []*node{kid}}, nil
	case tokLParen:
		switch p.peek().kind {
		case tokRParen:
			return nil, errorf(t.col, "empty parentheses")
		case tokEOF:
			return nil, errorf(t.col, "unbalanced parenthesis")
		}
		if err := p.enter(t.col); err != nil {
			return nil, err
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		p.depth--
		if p.next().kind != tokRParen {
			return nil, errorf(t.col, "unbalanced parenthesis")
		}
		return n, nil
	case tokAnd:
		return nil, errorf(t.col, "AND must follow a term")
	case tokOr:
		return nil, errorf(t.col, "OR must follow a term")
	case tokRParen:
		return nil, errorf(t.col, "unbalanced parenthesis")
	}
	// tokEOF: every caller checks startsOperand first.
	return nil, errorf(t.col, "unexpected end of query")
}

func (p *parser) enter(col int) error {
	if p.depth++; p.depth > maxDepth {
		return errorf(col, "query nested deeper than %d levels", maxDepth)
	}
	return nil
}

// group builds an AND or OR node from kids, flattening kids of the same
// kind (from parentheses) so that equal queries have equal trees.
func group(o op, kids []*node) *node {
	if len(kids) == 1 {
		return kids[0]
	}
	flat := kids[:0:0]
	for _, k := range kids {
		if k.op == o {
			flat = append(flat, k.kids...)
		} else {
			flat = append(flat, k)
		}
	}
	return &node{op: o, kids: flat}
}
