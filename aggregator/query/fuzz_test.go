package query

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, tc := range matchCases() {
		f.Add(tc.query)
	}
	for _, s := range topics20 {
		f.Add(s)
	}
	d := NewDocument(news)
	f.Fuzz(func(t *testing.T, src string) {
		q, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", src, err)
			}
			if se.Column < 1 || se.Column > utf8.RuneCountInString(src)+1 {
				t.Fatalf("Parse(%q): column %d out of range", src, se.Column)
			}
			return
		}
		s := q.String()
		q2, err := Parse(s)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", s, src, err)
		}
		if s2 := q2.String(); s2 != s {
			t.Fatalf("canonical form of %q not stable: %q then %q", src, s, s2)
		}
		if !reflect.DeepEqual(q.root, q2.root) {
			t.Fatalf("canonical form %q of %q parses to a different tree", s, src)
		}
		if q.Match(d) != q2.Match(d) {
			t.Fatalf("%q and its canonical form %q disagree", src, s)
		}
		q.Explain(d)
	})
}

// FuzzNewDocument checks that documents build from any text and that
// every word they hold, used as a query, finds itself.
func FuzzNewDocument(f *testing.F) {
	f.Add("Forum's agenda: human-rights in Genève", news.Summary)
	f.Add("南南人权论坛 iPhone手机 コーヒー", "<p>สิทธิมนุษยชน</p><script>x</script>")
	f.Add("ｶﾞ 한국 İstanbul STRAẞE ﬁ", "&eacute;&#0;<b>a</b>\x00\xff")
	f.Fuzz(func(t *testing.T, title, summary string) {
		d := NewDocument(Fields{Title: title, Summary: summary, Categories: []string{title}})
		r := d.fields[fieldTitle].words
		for _, w := range d.words[r[0]:min(r[1], r[0]+20)] {
			word := d.word(w)
			q, err := Parse(`title:"` + word + `"`)
			if err != nil {
				t.Fatalf("word %q of title %q does not parse: %v", word, title, err)
			}
			if !q.Match(d) {
				t.Fatalf("word %q of title %q: %s does not match", word, title, q)
			}
		}
		for i := 1; i < len(d.index); i++ {
			if d.word(d.index[i-1].span) >= d.word(d.index[i].span) {
				t.Fatalf("index not sorted and unique at %d", i)
			}
		}
	})
}

// FuzzVocabularyDocument checks that a document indexing only a query's
// vocabulary matches and explains it as a full document does, and that
// a query outside that vocabulary does too.
func FuzzVocabularyDocument(f *testing.F) {
	for _, tc := range matchCases() {
		f.Add(tc.query, "gen*", news.Title, news.Summary)
	}
	f.Add("人权 OR human-righ*", `"forum genève"`, "南南人权论坛 human rights", "<p>Forum, Genève</p>")
	f.Add("a* OR ab OR abc*", "title:b", "a ab abc abcd", "")
	f.Fuzz(func(t *testing.T, src, other, title, summary string) {
		q, err := Parse(src)
		if err != nil {
			return
		}
		fields := Fields{Title: title, Summary: summary, Categories: []string{summary}}
		full, vd := NewDocument(fields), NewVocabulary(q).NewDocument(fields)
		if got, want := q.Match(vd), q.Match(full); got != want {
			t.Fatalf("%s: vocabulary document matches %v, full %v; fields noted %v", q, got, want, vd.vocabFields)
		}
		if got, want := q.Explain(vd), q.Explain(full); !slices.Equal(got, want) {
			t.Fatalf("%s: vocabulary document explains %q, full %q", q, got, want)
		}
		if o, err := Parse(other); err == nil && o.Match(vd) != o.Match(full) {
			t.Fatalf("%s outside the vocabulary of %s: the documents disagree", o, q)
		}
	})
}
