package query

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Text is compared in one normal form: NFKC, case folded, without the
// combining diacritical marks of Latin, Greek and Cyrillic (so "Genève"
// is "geneve"). Queries and documents go through the same functions, so
// the form only has to be consistent, and idempotent so that a query's
// canonical String re-parses to the same words.

// normalizer holds the state of appendNormalized; the zero value is
// ready. It is too big for the stack of every call.
type normalizer struct {
	it norm.Iter
}

// appendNormalized appends the normal form of p to dst.
//
// ASCII runs take a fast path (lower-casing only). Each run of non-ASCII
// bytes is decomposed (NFKD; most text already is), folded and stripped
// of diacritics rune by rune; the result is recomposed (NFC) only if it
// may need it, which plain Latin text with accents never does once the
// accents are gone. Splitting the decomposition at ASCII bytes is exact:
// ASCII characters are starters and are their own decomposition.
func (nz *normalizer) appendNormalized(dst, p []byte) []byte {
	start := len(dst)
	mayCompose := false
	for i := 0; i < len(p); {
		j := i
		for j < len(p) && p[j] < utf8.RuneSelf {
			j++
		}
		if j > i {
			n := len(dst)
			dst = append(dst, p[i:j]...)
			for k := n; k < len(dst); k++ {
				dst[k] = lowerASCII(dst[k])
			}
			i = j
			continue
		}
		for j < len(p) && p[j] >= utf8.RuneSelf {
			j++
		}
		// Invalid bytes separate words. They are cut out before the
		// norm package sees them: it and utf8 disagree on their length.
		for run := p[i:j]; len(run) > 0; {
			v := validPrefix(run)
			dst = nz.appendDecomposed(dst, run[:v], &mayCompose)
			if v == len(run) {
				break
			}
			dst = append(dst, ' ')
			run = run[v+1:]
		}
		i = j
	}
	if mayCompose && !norm.NFC.IsNormal(dst[start:]) {
		composed := norm.NFC.Bytes(dst[start:])
		dst = append(dst[:start], composed...)
	}
	return dst
}

// appendDecomposed appends the folded NFKD form of valid UTF-8 run.
func (nz *normalizer) appendDecomposed(dst, run []byte, mayCompose *bool) []byte {
	n := norm.NFKD.QuickSpan(run)
	dst = appendFoldedRun(dst, run[:n], mayCompose)
	if n < len(run) {
		nz.it.Init(norm.NFKD, run[n:])
		for !nz.it.Done() {
			dst = appendFoldedRun(dst, nz.it.Next(), mayCompose)
		}
	}
	return dst
}

// validPrefix returns the length of the longest valid UTF-8 prefix of p.
func validPrefix(p []byte) int {
	if utf8.Valid(p) {
		return len(p)
	}
	i := 0
	for i < len(p) {
		r, n := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	return i
}

// appendFoldedRun appends the folded runes of decomposed text p to dst. It
// sets *mayCompose if it appends a rune that NFC might compose.
func appendFoldedRun(dst, p []byte, mayCompose *bool) []byte {
	for k := 0; k < len(p); {
		c := p[k]
		if c < utf8.RuneSelf {
			dst = append(dst, lowerASCII(c))
			k++
			continue
		}
		r, n := utf8.DecodeRune(p[k:])
		if isCaseless(r) {
			dst = append(dst, p[k:k+n]...)
		} else {
			dst = appendFolded(dst, r)
			*mayCompose = true
		}
		k += n
	}
	return dst
}

// isCaseless reports whether r is in a common range of letters (CJK
// ideographs, kana, Thai) that have no case, no diacritics and take no
// part in composition: appendFolded would append them unchanged.
func isCaseless(r rune) bool {
	return 0x4E00 <= r && r <= 0x9FFF || 0x3400 <= r && r <= 0x4DBF ||
		0x3041 <= r && r <= 0x3096 || 0x30A1 <= r && r <= 0x30FA ||
		0x0E01 <= r && r <= 0x0E5B
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// appendFolded appends the case-folded form of a decomposed rune r, or
// nothing if r is a diacritical mark or an invisible format character.
func appendFolded(dst []byte, r rune) []byte {
	if isDiacritic(r) || unicode.Is(unicode.Cf, r) {
		// Format characters too: a soft hyphen or a zero-width joiner
		// inside a word does not split it.
		return dst
	}
	// Upper then lower merges every case variant of a letter (ſ, s and S;
	// ς, σ and Σ; ı, i and I) into one.
	r = unicode.ToLower(unicode.ToUpper(r))
	// Letters that carry their "diacritic" inside the code point (no
	// decomposition), folded the way a reader would type them.
	switch r {
	case 'ß':
		return append(dst, "ss"...)
	case 'æ':
		return append(dst, "ae"...)
	case 'œ':
		return append(dst, "oe"...)
	case 'ø':
		return append(dst, 'o')
	case 'đ':
		return append(dst, 'd')
	case 'ł':
		return append(dst, 'l')
	case 'ħ':
		return append(dst, 'h')
	case 'ŧ':
		return append(dst, 't')
	}
	return utf8.AppendRune(dst, r)
}

// isDiacritic reports whether r is a combining diacritical mark of the
// kind accents are made of. Other combining marks (Thai vowels and tones,
// Indic matras, the kana voicing marks) are part of their letters and stay.
func isDiacritic(r rune) bool {
	switch {
	case r < 0x0300:
		return false
	case r <= 0x036F, // Combining Diacritical Marks
		0x1AB0 <= r && r <= 0x1AFF, // ... Extended
		0x1DC0 <= r && r <= 0x1DFF, // ... Supplement
		0x20D0 <= r && r <= 0x20FF, // ... for Symbols
		0xFE20 <= r && r <= 0xFE2F: // Combining Half Marks
		return true
	}
	return false
}

// Word classes. A word is a maximal run of letters, digits and marks of
// one class; a change of class also ends a word, so "iPhone手机" holds
// "iphone" and "手机".
const (
	classNone    uint8 = iota // not part of a word
	classSpaced               // scripts that separate words with spaces
	classNoSpace              // scripts written without spaces: matched as substrings
)

// runeClass classifies a normalised rune; prev is the class of the rune
// before it (marks belong to the word they follow).
func runeClass(r rune, prev uint8) uint8 {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z' {
			return classSpaced
		}
		return classNone
	}
	switch {
	case 0x4E00 <= r && r <= 0x9FFF, 0x3041 <= r && r <= 0x3096, 0x30A1 <= r && r <= 0x30FA:
		return classNoSpace // common Han and kana letters, without table lookups
	case unicode.IsMark(r):
		return prev
	case unicode.IsLetter(r):
		if isNoSpace(r) {
			return classNoSpace
		}
		return classSpaced
	case unicode.IsNumber(r):
		if isNoSpace(r) {
			return classNoSpace
		}
		return classSpaced
	}
	return classNone
}

// isNoSpace reports whether r belongs to a script written without spaces
// between words: Han, Hiragana, Katakana, Thai, and likewise Lao, Khmer
// and Myanmar.
func isNoSpace(r rune) bool {
	if r < 0x0E00 {
		return false
	}
	if r == 0x30FC { // KATAKANA-HIRAGANA PROLONGED SOUND MARK, script Common
		return true
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana,
		unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// nextWord finds the next word in normalised text p at or after i. It
// returns start == end == len(p) when there is none.
func nextWord(p []byte, i int) (start, end int, class uint8) {
	start = len(p)
	cur := classNone
	for i < len(p) {
		if c := p[i]; c < utf8.RuneSelf {
			// ASCII, most of most text, is classed by table, a run of
			// letters and digits at a time: its class does not depend on
			// the rune before it.
			if !asciiWord[c] {
				if cur != classNone {
					return start, i, cur
				}
				i++
				continue
			}
			if cur != classSpaced {
				if cur != classNone {
					return start, i, cur
				}
				start, cur = i, classSpaced
			}
			for i++; i < len(p) && asciiWord[p[i]]; i++ {
			}
			continue
		}
		r, n := utf8.DecodeRune(p[i:])
		c := runeClass(r, cur)
		if c != cur {
			if cur != classNone {
				return start, i, cur
			}
			start = i
			cur = c
		}
		i += n
	}
	if cur == classNone {
		return len(p), len(p), classNone
	}
	return start, len(p), cur
}

// asciiWord holds the ASCII bytes that are part of words: letters and
// digits. Bytes from 0x80 up are false (they start multi-byte runes).
var asciiWord = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = runeClass(rune(c), classNone) == classSpaced
	}
	return t
}()
