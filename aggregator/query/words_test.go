package query

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// TestWordSplitterMatchesWords checks that a reused WordSplitter gives
// exactly what Words gives, call after call: its buffers must not leak
// one string's words into the next.
func TestWordSplitterMatchesWords(t *testing.T) {
	inputs := []string{
		"Forum on Business and Human Rights opens in Genève",
		"",
		"中国外交部发言人 said on Tuesday",
		"ÉCOLE Straße ﬁnance — ½ price",
		"a",
		"Long long long long long long long long long long long long long long words",
		"x",
	}
	var ws WordSplitter
	var gotW []string
	var gotN []bool
	for round := range 2 {
		for _, in := range inputs {
			gotW, gotN = ws.AppendWords(gotW[:0], gotN[:0], in)
			wantW, wantN := Words(in)
			if len(gotW) != len(wantW) || len(gotW) > 0 && (!reflect.DeepEqual(gotW, wantW) || !reflect.DeepEqual(gotN, wantN)) {
				t.Errorf("round %d, %q: WordSplitter gave %q %v, Words %q %v", round, in, gotW, gotN, wantW, wantN)
			}
		}
	}
}

// runeByRuneNextWord is nextWord without its ASCII fast path: every rune
// classed by runeClass. The fast path must find the same words.
func runeByRuneNextWord(p []byte, i int) (start, end int, class uint8) {
	start = len(p)
	cur := classNone
	for i < len(p) {
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

func FuzzNextWord(f *testing.F) {
	for _, s := range []string{
		"Forum on Business and Human Rights opens in Genève",
		"iPhone手机 a\u0301b 1,5 e\u0301\u0301x \xffab\xc3",
		"中国外交部发言人 said on Tuesday",
		"\u0301abc \u0e01\u0e34x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		for i := 0; i <= len(p); i++ {
			s, e, c := nextWord(p, i)
			ws, we, wc := runeByRuneNextWord(p, i)
			if s != ws || e != we || c != wc {
				t.Fatalf("nextWord(%q, %d) = %d, %d, %d; rune by rune %d, %d, %d", p, i, s, e, c, ws, we, wc)
			}
		}
	})
}
