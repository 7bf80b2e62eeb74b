package aggregator

import (
	"fmt"
	"slices"
	"testing"
)

// The merge rules as first written, plainly: over sets of the token
// strings, every guard computed in full, with the union of title and lede
// tokens. The rules in story.go compare token hashes, check the cheap
// conditions first and stop counting early; they must decide every pair
// exactly as these do.

// refDoc is a storyDoc with sets of strings.
type refDoc struct {
	source                       string
	title                        []string
	titleSet, key, lede, ledeKey []string
	text                         []string // titleSet ∪ lede
	seq                          *storyDoc
}

func refDocOf(source string, t *StoryTokens) *refDoc {
	d := &refDoc{
		source: source, title: t.Title,
		titleSet: setOf(t.Title), key: setOf(t.TitleNamed),
		lede: setOf(t.Lede), ledeKey: setOf(t.LedeNamed),
		seq: &storyDoc{seq: [][]string{t.Title, t.Lede}},
	}
	d.text = union(d.titleSet, d.lede)
	return d
}

func refUnsupported(a, b *refDoc) (n int, named bool) {
	for _, t := range a.titleSet {
		if !has(b.text, t) && !b.seq.abbreviates(t) {
			n++
			named = named || has(a.key, t)
		}
	}
	return n, named
}

func refTemplateGuard(a, b *refDoc) bool {
	na, namedA := refUnsupported(a, b)
	nb, namedB := refUnsupported(b, a)
	if namedA || namedB || na > 2 || nb > 2 {
		return true
	}
	if na > 0 && nb > 0 {
		return na > 1 || nb > 1 || len(a.lede) < 8 || len(b.lede) < 8 || overlap(a.lede, b.lede) < 0.8
	}
	return false
}

func refLedesDisagree(a, b *refDoc) bool {
	count := func(x, y *refDoc) int {
		n := 0
		for _, t := range x.ledeKey {
			if !has(y.text, t) {
				n++
			}
		}
		return n
	}
	return count(a, b) >= 2 && count(b, a) >= 2
}

func refNearDuplicate(a, b *refDoc) (float64, bool) {
	if len(a.title) < 2 || len(b.title) < 2 || refTemplateGuard(a, b) || refLedesDisagree(a, b) {
		return 0, false
	}
	to, tj := overlap(a.titleSet, b.titleSet), jaccard(a.titleSet, b.titleSet)
	if len(a.lede) < 8 || len(b.lede) < 8 {
		if tj >= 0.8 {
			return tj, true
		}
		return 0, false
	}
	lo := overlap(a.lede, b.lede)
	if to >= 0.5 && lo >= 0.6 || to >= 0.75 && lo >= 0.45 {
		return tj + lo, true
	}
	return 0, false
}

func refSameTitle(a, b *refDoc) (float64, bool) {
	lo := overlap(a.lede, b.lede)
	both := len(a.lede) >= 8 && len(b.lede) >= 8
	switch {
	case both && (lo < 0.3 || refLedesDisagree(a, b)):
		return 0, false
	case min(len(a.title), len(b.title)) < 4 && (!both || lo < 0.5):
		return 0, false
	case a.source == b.source && (!both || lo < 0.5):
		return 0, false
	}
	return 1 + lo, true
}

// variants returns copies of t made to pass the overlaps with t, so that
// the guards and the lede thresholds decide: one title word replaced,
// that word also naming something, the lede cut short, and the lede
// sharing only a part of its words.
func variants(t *StoryTokens) []*StoryTokens {
	if len(t.Title) < 2 {
		return nil
	}
	swapped := *t
	swapped.Title = append([]string{"zzswapped"}, t.Title[1:]...)
	named := swapped
	named.TitleNamed = append(slices.Clone(t.TitleNamed), "zzswapped")
	short := *t
	short.Lede = t.Lede[:min(len(t.Lede), 7)]
	out := []*StoryTokens{&swapped, &named, &short}
	for _, keep := range []float64{0.4, 0.47, 0.55, 0.62} {
		partly := *t
		kept := int(keep * float64(len(t.Lede)))
		partly.Lede = slices.Clone(t.Lede[:kept])
		for k := kept; k < len(t.Lede); k++ {
			partly.Lede = append(partly.Lede, fmt.Sprintf("zzlede%02d", k))
		}
		out = append(out, &partly)
	}
	return out
}

// TestMergeRulesMatchReference compares the rules with their plain
// versions on every ordered pair of the comparison corpus (the labelled
// stories and the bench feeds), and on the variants of each item against
// it and against every fourth item.
func TestMergeRulesMatchReference(t *testing.T) {
	_, items := comparisonCorpus(t)
	type both struct {
		doc *storyDoc
		ref *refDoc
	}
	of := func(source string, tokens *StoryTokens) both {
		return both{docOf(source, tokens), refDocOf(source, tokens)}
	}
	var pairs, near, same, guarded int
	check := func(a, b both) {
		pairs++
		gotScore, got := nearDuplicate(a.doc, b.doc)
		wantScore, want := refNearDuplicate(a.ref, b.ref)
		if got != want || gotScore != wantScore {
			t.Fatalf("nearDuplicate(%q, %q) = %v, %v; reference %v, %v", a.ref.title, b.ref.title, gotScore, got, wantScore, want)
		}
		if got {
			near++
		}
		gotScore, got = sameTitle(a.doc, b.doc)
		wantScore, want = refSameTitle(a.ref, b.ref)
		if got != want || gotScore != wantScore {
			t.Fatalf("sameTitle(%q, %q) = %v, %v; reference %v, %v", a.ref.title, b.ref.title, gotScore, got, wantScore, want)
		}
		if got {
			same++
		}
		if g, w := templateGuard(a.doc, b.doc), refTemplateGuard(a.ref, b.ref); g != w {
			t.Fatalf("templateGuard(%q, %q) = %v; reference %v", a.ref.title, b.ref.title, g, w)
		} else if g {
			guarded++
		}
		if g, w := ledesDisagree(a.doc, b.doc), refLedesDisagree(a.ref, b.ref); g != w {
			t.Fatalf("ledesDisagree(%q, %q) = %v; reference %v", a.ref.title, b.ref.title, g, w)
		}
	}
	docs := make([]both, len(items))
	for i := range items {
		docs[i] = of(items[i].Source, items[i].Tokens)
	}
	for _, a := range docs {
		for _, b := range docs {
			check(a, b)
		}
	}
	for i := range items {
		for _, v := range variants(items[i].Tokens) {
			x := of(items[i].Source, v)
			check(x, docs[i])
			check(docs[i], x)
			// Against every fourth item, which keeps the test quick
			// under the race detector.
			for j := i % 4; j < len(docs); j += 4 {
				check(x, docs[j])
			}
		}
	}
	// The corpus must exercise both answers of each rule.
	if near < len(items) || near == pairs || same == 0 || same == pairs || guarded == 0 || guarded == pairs {
		t.Fatalf("%d pairs: %d near duplicates, %d same titles, %d guarded: the corpus does not test both answers",
			pairs, near, same, guarded)
	}
	t.Logf("%d pairs: %d near duplicates, %d same titles, %d guarded", pairs, near, same, guarded)
}

// refMinhashBands is minhashBands over token strings, as first written:
// the bands stored with every item so far.
func refMinhashBands(tokens []string) []uint64 {
	if len(tokens) < 3 {
		return nil
	}
	var mins [minhashSize]uint64
	for i := range mins {
		mins[i] = ^uint64(0)
	}
	for _, t := range tokens {
		x := fnv64(t)
		for i := range mins {
			if h := mix64(x ^ (uint64(i+1) * 0x9e3779b97f4a7c15)); h < mins[i] {
				mins[i] = h
			}
		}
	}
	bands := make([]uint64, 0, minhashSize/minhashRows)
	for b := 0; b < minhashSize; b += minhashRows {
		h := uint64(b) * 0xbf58476d1ce4e5b9
		for r := range minhashRows {
			h = mix64(h ^ mins[b+r])
		}
		bands = append(bands, h)
	}
	return bands
}

// TestMinhashBandsOfHashes: an item's bands are those computed from its
// token strings, so stored items keep finding new ones.
func TestMinhashBandsOfHashes(t *testing.T) {
	_, items := comparisonCorpus(t)
	banded := 0
	for _, it := range items {
		want := refMinhashBands(union(setOf(it.Tokens.Title), setOf(it.Tokens.Lede)))
		if !slices.Equal(it.Keys.Bands, want) {
			t.Fatalf("%q: bands %x, from the token strings %x", it.Title, it.Keys.Bands, want)
		}
		if len(want) > 0 {
			banded++
		}
	}
	if banded < len(items)/2 {
		t.Fatalf("only %d of %d items have bands", banded, len(items))
	}
}
