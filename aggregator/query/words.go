package query

// Words returns the words of s in the normal form queries match in (NFKC,
// case folded, diacritics removed), in order. noSpace[i] reports whether
// words[i] is a run of a script written without spaces (Chinese, Japanese,
// Thai), which holds many words.
func Words(s string) (words []string, noSpace []bool) { return splitWords(s) }

// A WordSplitter splits many strings into words like Words, reusing its
// normaliser's buffers (a few KB) and its scratch space between calls. It
// is not safe for concurrent use; the zero value is ready.
type WordSplitter struct {
	nz  normalizer
	buf []byte
}

// Words is the package's Words.
func (ws *WordSplitter) Words(s string) (words []string, noSpace []bool) {
	ws.buf = ws.nz.appendNormalized(ws.buf[:0], []byte(s))
	return appendWords(nil, nil, ws.buf)
}

// HTMLText returns the text content of an HTML fragment: entities decoded,
// script and style content dropped, a space where a block element
// separates words.
func HTMLText(s string) string { return string(appendHTMLText(nil, s)) }
