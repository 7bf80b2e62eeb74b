package query

// Words returns the words of s in the normal form queries match in (NFKC,
// case folded, diacritics removed), in order. noSpace[i] reports whether
// words[i] is a run of a script written without spaces (Chinese, Japanese,
// Thai), which holds many words.
func Words(s string) (words []string, noSpace []bool) { return splitWords(s) }

// HTMLText returns the text content of an HTML fragment: entities decoded,
// script and style content dropped, a space where a block element
// separates words.
func HTMLText(s string) string { return string(appendHTMLText(nil, s)) }
