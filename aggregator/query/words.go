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
	in  []byte // s as bytes, for the normaliser
	buf []byte
}

// AppendWords appends the words of s to words and noSpace, as Words
// returns them.
func (ws *WordSplitter) AppendWords(words []string, noSpace []bool, s string) ([]string, []bool) {
	ws.in = append(ws.in[:0], s...)
	ws.buf = ws.nz.appendNormalized(ws.buf[:0], ws.in)
	return appendWords(words, noSpace, ws.buf)
}

// HTMLText returns the text content of an HTML fragment: entities decoded,
// script and style content dropped, a space where a block element
// separates words.
func HTMLText(s string) string { return string(appendHTMLText(nil, s)) }

// HTMLTextPrefix returns the start of HTMLText(s): at least limit bytes of
// it where s has that many, ending just after a space, so that the words
// it holds are the first words of the whole text, whole. complete reports
// whether it is the whole text. A caller that needs only the first words
// of a long fragment reads no more of it than that.
func HTMLTextPrefix(s string, limit int) (text string, complete bool) {
	b, complete := appendHTMLTextPrefix(nil, s, max(limit, 1))
	return string(b), complete
}
