package query

import (
	"html"
	"strings"
	"unicode/utf8"
)

// The text of an HTML fragment is read by a scanner of its own rather than
// by golang.org/x/net/html's Tokenizer. Every item's summary and content
// are read twice (for its topics and its story tokens), and the Tokenizer
// allocates a 4 KB buffer per fragment and goes through its input a byte
// at a time behind an io.Reader. This scanner slices the string it is
// given and jumps from one '<' to the next.
//
// It splits the fragment exactly as the Tokenizer does — tags and their
// quoted attributes, comments and their HTML5 endings, bogus comments,
// raw text elements and the escapes of script data, text at the end of
// the input — and TestHTMLTextMatchesTokenizer and FuzzHTMLText hold it to
// the Tokenizer's output.

// htmlToken is what the scanner found at a position.
type htmlToken int

const (
	tokenEOF     htmlToken = iota // the input ended, or a tag was cut short by its end
	tokenComment                  // comments, doctypes, processing instructions, "</>"
	tokenStartTag
	tokenEndTag
	tokenSelfClosingTag
)

// htmlScanner walks an HTML fragment the way the HTML5 tokenizer does.
type htmlScanner struct {
	s      string
	i      int    // position of the next byte
	rawTag string // the raw text element whose content comes next, lower case
	// keptValueEnd is where the value of the last attribute the Tokenizer
	// keeps of the start tag last read ends, or -1 if it keeps none.
	keptValueEnd int
	valueEnd     int // end of the value of the attribute last read
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f'
}

// skipSpace moves past white space.
func (z *htmlScanner) skipSpace() {
	for z.i < len(z.s) && isHTMLSpace(z.s[z.i]) {
		z.i++
	}
}

// text returns the next run of text and how it is to be decoded, or ok
// false at a tag, a comment or the end of the input. A raw text element's
// content is one run; other text runs to the next '<' that opens a tag,
// a comment or a declaration.
func (z *htmlScanner) text() (text string, raw, nul, ok bool) {
	if tag := z.rawTag; tag != "" {
		z.rawTag = ""
		start := z.i
		switch tag {
		case "plaintext":
			z.i = len(z.s)
		case "script":
			z.readScript()
		default:
			z.readRawText(tag)
		}
		if z.i > start {
			// textarea and title hold RCDATA, where references count.
			return z.s[start:z.i], tag != "textarea" && tag != "title", true, true
		}
	}
	start := z.i
	for {
		j := strings.IndexByte(z.s[z.i:], '<')
		if j < 0 {
			z.i = len(z.s)
			break
		}
		p := z.i + j
		if p+1 >= len(z.s) {
			// A '<' at the very end is text.
			z.i = len(z.s)
			break
		}
		// "</" at the very end is text too.
		if c := z.s[p+1]; isASCIILetter(c) || c == '!' || c == '?' || c == '/' && p+2 < len(z.s) {
			z.i = p
			break
		}
		z.i = p + 1
	}
	return z.s[start:z.i], false, false, z.i > start
}

// next reads the tag, comment or declaration at z.i, just after text()
// returned ok false. It returns the raw bytes of a tag, from its '<'.
func (z *htmlScanner) next() (htmlToken, string) {
	if z.i >= len(z.s) {
		return tokenEOF, ""
	}
	p := z.i
	c := z.s[p+1]
	switch {
	case isASCIILetter(c):
		z.i = p + 2
		tt := z.readStartTag(p + 1)
		return tt, z.s[p:z.i]
	case c == '/':
		c2 := z.s[p+2]
		switch {
		case c2 == '>':
			z.i = p + 3
			return tokenComment, ""
		case isASCIILetter(c2):
			z.i = p + 3
			if !z.readTag(p+2, false) {
				return tokenEOF, ""
			}
			return tokenEndTag, z.s[p:z.i]
		}
		z.i = p + 2
		z.readUntilCloseAngle()
		return tokenComment, ""
	case c == '!':
		z.i = p + 2
		z.readMarkupDeclaration()
		return tokenComment, ""
	default: // '?'
		z.i = p + 1
		z.readUntilCloseAngle()
		return tokenComment, ""
	}
}

// readStartTag reads a start tag whose name begins at nameStart, with z.i
// just past that first letter.
func (z *htmlScanner) readStartTag(nameStart int) htmlToken {
	if !z.readTag(nameStart, true) {
		return tokenEOF
	}
	name := z.s[nameStart:z.tagNameEnd(nameStart)]
	for _, raw := range [...]string{"iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "textarea", "title", "xmp"} {
		if equalFoldASCII(name, raw) {
			z.rawTag = raw
			break
		}
	}
	// Self-closing when the byte before '>' is a '/' that does not end the
	// unquoted value of the last attribute kept ("<p a=/>" is not).
	if end := z.i; z.s[end-2] == '/' && (z.keptValueEnd < 0 || end-2 != z.keptValueEnd-1) {
		return tokenSelfClosingTag
	}
	return tokenStartTag
}

// tagNameEnd returns where the name starting at start ends.
func (z *htmlScanner) tagNameEnd(start int) int {
	i := start + 1
	for i < len(z.s) && !isHTMLSpace(z.s[i]) && z.s[i] != '/' && z.s[i] != '>' {
		i++
	}
	return i
}

// lastKeptValueEnd returns the end of the value of the last attribute the
// Tokenizer keeps, each attribute given as key start, key end and value
// end: the last with a non-empty key not seen before it, keys compared in
// ASCII lower case. It returns -1 if it keeps none.
func (z *htmlScanner) lastKeptValueEnd(attrs [][3]int) int {
	for k := len(attrs) - 1; k >= 0; k-- {
		a := attrs[k]
		if a[0] == a[1] {
			continue
		}
		seen := false
		for _, b := range attrs[:k] {
			if equalFoldASCII(z.s[b[0]:b[1]], z.s[a[0]:a[1]]) {
				seen = true
				break
			}
		}
		if !seen {
			return a[2]
		}
	}
	return -1
}

// equalFoldASCII reports whether a and b are equal with ASCII letters
// compared case-insensitively (the Tokenizer lower-cases ASCII only).
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// readTag reads a tag's name and attributes up to and past its '>', with
// z.i just past the name's first letter at nameStart. It returns false
// when the input ends first: the Tokenizer then ends, dropping the tag.
func (z *htmlScanner) readTag(nameStart int, saveAttrs bool) bool {
	var buf [8][3]int
	attrs := buf[:0]
	z.i = z.tagNameEnd(nameStart)
	z.skipSpace()
	for {
		if z.i >= len(z.s) {
			return false
		}
		if z.s[z.i] == '>' {
			z.i++
			z.keptValueEnd = z.lastKeptValueEnd(attrs)
			return true
		}
		keyStart := z.i
		z.readAttrKey()
		keyEnd := z.i
		z.readAttrValue()
		if saveAttrs {
			attrs = append(attrs, [3]int{keyStart, keyEnd, z.valueEnd})
		}
		z.skipSpace()
	}
}

// readAttrKey moves past an attribute's key: up to white space, '/', '>'
// or an '=' that is not its first byte.
func (z *htmlScanner) readAttrKey() {
	start := z.i
	for ; z.i < len(z.s); z.i++ {
		switch z.s[z.i] {
		case '=':
			if z.i == start {
				continue
			}
			return
		case ' ', '\n', '\r', '\t', '\f', '/', '>':
			return
		}
	}
}

// readAttrValue moves past an attribute's "= value", if it has one, or
// past a '/' after its key, setting z.valueEnd like the Tokenizer.
func (z *htmlScanner) readAttrValue() {
	z.valueEnd = z.i
	z.skipSpace()
	if z.i >= len(z.s) {
		return
	}
	c := z.s[z.i]
	z.i++
	if c == '/' {
		return
	}
	if c != '=' {
		z.i--
		return
	}
	z.skipSpace()
	if z.i >= len(z.s) {
		return
	}
	quote := z.s[z.i]
	z.i++
	switch quote {
	case '>':
		z.i--
	case '\'', '"':
		if j := strings.IndexByte(z.s[z.i:], quote); j >= 0 {
			z.valueEnd = z.i + j
			z.i += j + 1
		} else {
			z.i = len(z.s)
			z.valueEnd = z.i
		}
	default:
		for ; z.i < len(z.s); z.i++ {
			if c := z.s[z.i]; isHTMLSpace(c) {
				z.valueEnd = z.i
				z.i++
				return
			} else if c == '>' {
				break
			}
		}
		z.valueEnd = z.i
	}
}

// readUntilCloseAngle moves past the next '>', or to the end.
func (z *htmlScanner) readUntilCloseAngle() {
	if j := strings.IndexByte(z.s[z.i:], '>'); j >= 0 {
		z.i += j + 1
	} else {
		z.i = len(z.s)
	}
}

// readMarkupDeclaration moves past a comment, a doctype or a bogus
// comment, with z.i just past its "<!".
func (z *htmlScanner) readMarkupDeclaration() {
	if z.i+2 > len(z.s) {
		z.i = len(z.s)
		return
	}
	if z.s[z.i] == '-' && z.s[z.i+1] == '-' {
		z.i += 2
		z.readComment()
		return
	}
	// A doctype and a bogus comment both end at the next '>'.
	z.readUntilCloseAngle()
}

// readComment moves past the end of a comment, with z.i just past its
// "<!--": "-->", "--!>", or '>' right at the start ("<!-->", "<!--->").
func (z *htmlScanner) readComment() {
	dashes := 0
	beginning := true
	for z.i < len(z.s) {
		c := z.s[z.i]
		z.i++
		switch c {
		case '-':
			dashes++
			continue
		case '>':
			if dashes >= 2 || beginning {
				return
			}
		case '!':
			if dashes >= 2 {
				if z.i >= len(z.s) {
					return
				}
				c = z.s[z.i]
				z.i++
				if c == '>' {
					return
				} else if c == '-' {
					dashes = 1
					beginning = false
					continue
				}
			}
		}
		dashes = 0
		beginning = false
	}
}

// readRawText moves to the "</tag" that ends a raw text element's
// content (tag followed by white space, '/' or '>'), or to the end.
func (z *htmlScanner) readRawText(tag string) {
	for {
		j := strings.Index(z.s[z.i:], "</")
		if j < 0 {
			z.i = len(z.s)
			return
		}
		z.i += j
		if z.isRawEndTag(z.i, tag) {
			return
		}
		z.i += 2
	}
}

// isRawEndTag reports whether "</tag" followed by white space, '/' or '>'
// starts at p (the end of the input does not end the tag).
func (z *htmlScanner) isRawEndTag(p int, tag string) bool {
	end := p + 2 + len(tag)
	if end >= len(z.s) || !equalFoldASCII(z.s[p+2:end], tag) {
		return false
	}
	c := z.s[end]
	return isHTMLSpace(c) || c == '/' || c == '>'
}

// readScript moves to the "</script" that ends a script's content,
// following the HTML5 rules for escaped and double-escaped script data,
// or to the end.
func (z *htmlScanner) readScript() {
	s := z.s
	i := z.i
	defer func() { z.i = i }()
	// endTag reads on from just past a "</": it reports whether
	// "script" and a terminator follow, moving i back to the '<', and
	// whether the input ended first. Otherwise i is past the bytes of
	// "script" that matched.
	endTag := func() (matched, eof bool) {
		for k := range len("script") {
			if i >= len(s) {
				return false, true
			}
			if lowerASCII(s[i]) != "script"[k] {
				return false, false
			}
			i++
		}
		if i >= len(s) {
			return false, true
		}
		if c := s[i]; isHTMLSpace(c) || c == '/' || c == '>' {
			i -= len("</script")
			return true, false
		}
		return false, false
	}
	var c byte
	next := func() bool {
		if i >= len(s) {
			return false
		}
		c = s[i]
		i++
		return true
	}

scriptData:
	if !next() {
		return
	}
	if c == '<' {
		goto scriptDataLessThanSign
	}
	goto scriptData

scriptDataLessThanSign:
	if !next() {
		return
	}
	switch c {
	case '/':
		goto scriptDataEndTagOpen
	case '!':
		goto scriptDataEscapeStart
	}
	i--
	goto scriptData

scriptDataEndTagOpen:
	if matched, eof := endTag(); matched || eof {
		return
	}
	goto scriptData

scriptDataEscapeStart:
	if !next() {
		return
	}
	if c == '-' {
		goto scriptDataEscapeStartDash
	}
	i--
	goto scriptData

scriptDataEscapeStartDash:
	if !next() {
		return
	}
	if c == '-' {
		goto scriptDataEscapedDashDash
	}
	i--
	goto scriptData

scriptDataEscaped:
	if !next() {
		return
	}
	switch c {
	case '-':
		goto scriptDataEscapedDash
	case '<':
		goto scriptDataEscapedLessThanSign
	}
	goto scriptDataEscaped

scriptDataEscapedDash:
	if !next() {
		return
	}
	switch c {
	case '-':
		goto scriptDataEscapedDashDash
	case '<':
		goto scriptDataEscapedLessThanSign
	}
	goto scriptDataEscaped

scriptDataEscapedDashDash:
	if !next() {
		return
	}
	switch c {
	case '-':
		goto scriptDataEscapedDashDash
	case '<':
		goto scriptDataEscapedLessThanSign
	case '>':
		goto scriptData
	}
	goto scriptDataEscaped

scriptDataEscapedLessThanSign:
	if !next() {
		return
	}
	if c == '/' {
		goto scriptDataEscapedEndTagOpen
	}
	if isASCIILetter(c) {
		goto scriptDataDoubleEscapeStart
	}
	i--
	goto scriptData

scriptDataEscapedEndTagOpen:
	if matched, eof := endTag(); matched || eof {
		return
	}
	goto scriptDataEscaped

scriptDataDoubleEscapeStart:
	i--
	for k := range len("script") {
		if !next() {
			return
		}
		if lowerASCII(c) != "script"[k] {
			i--
			goto scriptDataEscaped
		}
	}
	if !next() {
		return
	}
	if isHTMLSpace(c) || c == '/' || c == '>' {
		goto scriptDataDoubleEscaped
	}
	i--
	goto scriptDataEscaped

scriptDataDoubleEscaped:
	if !next() {
		return
	}
	switch c {
	case '-':
		goto scriptDataDoubleEscapedDash
	case '<':
		goto scriptDataDoubleEscapedLessThanSign
	}
	goto scriptDataDoubleEscaped

scriptDataDoubleEscapedDash:
	if !next() {
		return
	}
	switch c {
	case '-':
		goto scriptDataDoubleEscapedDashDash
	case '<':
		goto scriptDataDoubleEscapedLessThanSign
	}
	goto scriptDataDoubleEscaped

scriptDataDoubleEscapedDashDash:
	if !next() {
		return
	}
	switch c {
	case '-':
		goto scriptDataDoubleEscapedDashDash
	case '<':
		goto scriptDataDoubleEscapedLessThanSign
	case '>':
		goto scriptData
	}
	goto scriptDataDoubleEscaped

scriptDataDoubleEscapedLessThanSign:
	if !next() {
		return
	}
	if c == '/' {
		goto scriptDataDoubleEscapeEnd
	}
	i--
	goto scriptDataDoubleEscaped

scriptDataDoubleEscapeEnd:
	matched, eof := endTag()
	if matched {
		i += len("</script>")
		goto scriptDataEscaped
	}
	if eof {
		return
	}
	goto scriptDataDoubleEscaped
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
	z := htmlScanner{s: s}
	var nameBuf, skipBuf [16]byte
	var skip []byte // name of the element whose content is being skipped
	depth := 0      // nesting of skip within itself
	for {
		if text, raw, nul, ok := z.text(); ok {
			if skip == nil {
				from := len(dst)
				dst = appendTokenText(dst, text, raw, nul)
				if out, stop := cut(from); stop {
					return out, false
				}
			}
			continue
		}
		tt, rawTag := z.next()
		switch tt {
		case tokenEOF:
			return dst, true
		case tokenComment:
			continue
		}
		name := tagName(nameBuf[:0], rawTag)
		switch {
		case skip != nil:
			if string(name) == string(skip) {
				switch tt {
				case tokenStartTag:
					depth++
				case tokenEndTag:
					if depth--; depth == 0 {
						skip = nil
					}
				}
			}
		case tt == tokenStartTag && isSkipped(name):
			skip = append(skipBuf[:0], name...)
			depth = 1
		case !isInline(name):
			dst = append(dst, ' ')
			if out, stop := cut(len(dst) - 1); stop {
				return out, false
			}
		}
	}
}

// appendTokenText appends a run of text as the Tokenizer's Text gives it:
// line breaks made "\n", NULs in raw text made U+FFFD, and references
// decoded unless the text is raw.
func appendTokenText(dst []byte, text string, raw, nul bool) []byte {
	if strings.IndexByte(text, '\r') >= 0 {
		text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	}
	if nul && strings.IndexByte(text, 0) >= 0 {
		text = strings.ReplaceAll(text, "\x00", "\uFFFD")
	}
	if raw {
		return append(dst, text...)
	}
	for {
		j := strings.IndexByte(text, '&')
		if j < 0 {
			return append(dst, text...)
		}
		dst = append(dst, text[:j]...)
		ref := referenceAt(text[j:])
		dst = appendReference(dst, ref)
		text = text[j+len(ref):]
	}
}

// referenceAt returns the character reference at the start of s, which
// starts with '&': "&#", an optional 'x' and digits, or '&' and letters
// and digits, each with its ';' if it has one. Decoding it alone gives
// what decoding the whole text gives there.
func referenceAt(s string) string {
	i := 1
	if i < len(s) && s[i] == '#' {
		i++
		hex := i < len(s) && (s[i] == 'x' || s[i] == 'X')
		if hex {
			i++
		}
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || hex && (s[i] >= 'a' && s[i] <= 'f' || s[i] >= 'A' && s[i] <= 'F')) {
			i++
		}
	} else {
		for i < len(s) && (isASCIILetter(s[i]) || s[i] >= '0' && s[i] <= '9') {
			i++
		}
	}
	if i < len(s) && s[i] == ';' {
		i++
	}
	return s[:i]
}

// appendReference appends the decoded reference ref. Numeric references
// are decoded here as the Tokenizer decodes them (html.UnescapeString
// differs on "&#x;" and on numbers past U+10FFFF), and so are the named
// references news text is full of; other names by html.UnescapeString,
// which shares the Tokenizer's table and rules for names.
func appendReference(dst []byte, ref string) []byte {
	if len(ref) > 1 && ref[1] == '#' {
		return appendNumericReference(dst, ref)
	}
	var r rune
	switch ref {
	case "&amp;":
		r = '&'
	case "&lt;":
		r = '<'
	case "&gt;":
		r = '>'
	case "&quot;":
		r = '"'
	case "&apos;":
		r = '\''
	case "&nbsp;":
		r = '\u00a0'
	case "&ldquo;":
		r = '“'
	case "&rdquo;":
		r = '”'
	case "&lsquo;":
		r = '‘'
	case "&rsquo;":
		r = '’'
	case "&ndash;":
		r = '–'
	case "&mdash;":
		r = '—'
	case "&hellip;":
		r = '…'
	default:
		return append(dst, html.UnescapeString(ref)...)
	}
	return utf8.AppendRune(dst, r)
}

// appendNumericReference decodes ref, "&#" and digits or "&#x" and hex
// digits, with its ';' if it has one: characters of Windows-1252's C1
// range as Windows-1252 has them, NUL, surrogates and numbers past
// Unicode as U+FFFD, and a reference without digits as itself.
func appendNumericReference(dst []byte, ref string) []byte {
	digits := strings.TrimSuffix(ref[2:], ";")
	base := rune(10)
	if digits != "" && (digits[0] == 'x' || digits[0] == 'X') {
		base, digits = 16, digits[1:]
	}
	if digits == "" {
		return append(dst, ref...)
	}
	x := rune(0)
	for i := range len(digits) {
		c := digits[i]
		var d rune
		switch {
		case '0' <= c && c <= '9':
			d = rune(c - '0')
		case 'a' <= c && c <= 'f':
			d = rune(c-'a') + 10
		default:
			d = rune(c-'A') + 10
		}
		if x <= 0x10FFFF {
			x = base*x + d
		}
	}
	switch {
	case 0x80 <= x && x <= 0x9F:
		x = windows1252[x-0x80]
	case x == 0 || 0xD800 <= x && x <= 0xDFFF || x > 0x10FFFF:
		x = '\uFFFD'
	}
	return utf8.AppendRune(dst, x)
}

// windows1252 holds what references to U+0080 to U+009F stand for.
var windows1252 = [32]rune{
	'\u20AC', '\u0081', '\u201A', '\u0192', '\u201E', '\u2026', '\u2020', '\u2021',
	'\u02C6', '\u2030', '\u0160', '\u2039', '\u0152', '\u008D', '\u017D', '\u008F',
	'\u0090', '\u2018', '\u2019', '\u201C', '\u201D', '\u2022', '\u2013', '\u2014',
	'\u02DC', '\u2122', '\u0161', '\u203A', '\u0153', '\u009D', '\u017E', '\u0178',
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

// tagName appends the lower-cased name of the tag whose source is raw
// ("<P class=x>", "</p>") to dst. Names longer than dst's capacity are
// cut short; no element this package cares about has one.
func tagName(dst []byte, raw string) []byte {
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
