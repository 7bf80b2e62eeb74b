package query

import (
	"reflect"
	"testing"
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
