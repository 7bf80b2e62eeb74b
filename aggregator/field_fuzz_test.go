package aggregator

import (
	"strings"
	"testing"
	"unicode"
)

// referenceNextField is nextField as first written, on strings.IndexFunc:
// the table-driven one must split every text the same way.
func referenceNextField(text string) (field, rest string, ok bool) {
	isSeparator := func(r rune) bool {
		return unicode.IsSpace(r) || r == '-' || r == '–' || r == '—' || r == '/' || r == ','
	}
	i := strings.IndexFunc(text, func(r rune) bool { return !isSeparator(r) })
	if i < 0 {
		return "", "", false
	}
	text = text[i:]
	j := strings.IndexFunc(text, isSeparator)
	if j < 0 {
		j = len(text)
	}
	return text[:j], text[j:], true
}

func FuzzNextField(f *testing.F) {
	for _, seed := range []string{
		"", " ", "word", "  Forum opens, in Geneva — on Friday/Saturday.",
		"tab\tand\nnewline\r\vform\ffeed", "no\u00a0break\u2003em\u3000ideographic",
		"en–dash em—dash hy-phen", "\u0085next line", "中文，标点 日本語",
		"bad \xff\xfe bytes \xe2\x80", "trailing, ", "-/,", "é café naïve",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for rest := text; ; {
			field, next, ok := nextField(rest)
			wantField, wantNext, wantOK := referenceNextField(rest)
			if field != wantField || next != wantNext || ok != wantOK {
				t.Fatalf("nextField(%q) = %q, %q, %v; want %q, %q, %v", rest, field, next, ok, wantField, wantNext, wantOK)
			}
			if !ok {
				return
			}
			rest = next
		}
	})
}
