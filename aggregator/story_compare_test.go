package aggregator

import (
	"fmt"
	"slices"
	"testing"
)

// The merge rules as first written, plainly: every guard computed in
// full, over the union of title and lede tokens. The rules in story.go
// check the cheap conditions first and stop counting early; they must
// decide every pair exactly as these do.

// textOf is the union of a document's title and lede tokens, kept per
// document: the reference rules look words up in it.
type textOf map[*storyDoc][]string

func (m textOf) of(d *storyDoc) []string {
	text, ok := m[d]
	if !ok {
		text = union(d.titleSet, d.lede)
		m[d] = text
	}
	return text
}

func (texts textOf) unsupported(a, b *storyDoc) (n int, named bool) {
	text := texts.of(b)
	for _, t := range a.titleSet {
		if !has(text, t) && !b.abbreviates(t) {
			n++
			named = named || has(a.key, t)
		}
	}
	return n, named
}

func (texts textOf) templateGuard(a, b *storyDoc) bool {
	na, namedA := texts.unsupported(a, b)
	nb, namedB := texts.unsupported(b, a)
	if namedA || namedB || na > 2 || nb > 2 {
		return true
	}
	if na > 0 && nb > 0 {
		return na > 1 || nb > 1 || len(a.lede) < 8 || len(b.lede) < 8 || overlap(a.lede, b.lede) < 0.8
	}
	return false
}

func (texts textOf) ledesDisagree(a, b *storyDoc) bool {
	count := func(x, y *storyDoc) int {
		text := texts.of(y)
		n := 0
		for _, t := range x.ledeKey {
			if !has(text, t) {
				n++
			}
		}
		return n
	}
	return count(a, b) >= 2 && count(b, a) >= 2
}

func (texts textOf) nearDuplicate(a, b *storyDoc) (float64, bool) {
	if len(a.title) < 2 || len(b.title) < 2 || texts.templateGuard(a, b) || texts.ledesDisagree(a, b) {
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

// TestMergeRulesMatchReference compares the rules with their plain
// versions on every ordered pair of the comparison corpus (the labelled
// stories and the bench feeds), and on pairs made to pass the overlaps so
// that the guards decide: each item against copies of itself with one
// title word replaced, that word also naming something, or its lede cut
// short, and those copies against every fourth item.
func TestMergeRulesMatchReference(t *testing.T) {
	m, items := comparisonCorpus(t)
	ref := textOf{}
	var pairs, near, guarded int
	check := func(a, b *storyDoc) {
		pairs++
		gotScore, got := nearDuplicate(a, b)
		wantScore, want := ref.nearDuplicate(a, b)
		if got != want || gotScore != wantScore {
			t.Fatalf("nearDuplicate(%q, %q) = %v, %v; reference %v, %v", a.title, b.title, gotScore, got, wantScore, want)
		}
		if got {
			near++
		}
		if g, w := templateGuard(a, b), ref.templateGuard(a, b); g != w {
			t.Fatalf("templateGuard(%q, %q) = %v; reference %v", a.title, b.title, g, w)
		} else if g {
			guarded++
		}
		if g, w := ledesDisagree(a, b), ref.ledesDisagree(a, b); g != w {
			t.Fatalf("ledesDisagree(%q, %q) = %v; reference %v", a.title, b.title, g, w)
		}
	}
	docs := make([]*storyDoc, len(items))
	for i := range items {
		docs[i] = m.candidateDoc(&items[i])
	}
	for _, a := range docs {
		for _, b := range docs {
			check(a, b)
		}
	}
	for i, d := range docs {
		if len(d.title) < 2 {
			continue
		}
		swapped := *d
		swapped.title = append([]string{"zzswapped"}, d.title[1:]...)
		swapped.titleSet = setOf(swapped.title)
		swapped.seq = [][]string{swapped.title, d.seq[1]}
		named := swapped
		named.key = union(d.key, []string{"zzswapped"})
		short := *d
		short.lede = d.lede[:min(len(d.lede), 7)]
		variants := []*storyDoc{&swapped, &named, &short}
		// The same title over a lede sharing a part of its words, around
		// the rule's lede thresholds.
		for _, keep := range []float64{0.4, 0.47, 0.55, 0.62} {
			partly := *d
			kept := int(keep * float64(len(d.lede)))
			partly.lede = slices.Clone(d.lede[:kept])
			for k := kept; k < len(d.lede); k++ {
				partly.lede = append(partly.lede, fmt.Sprintf("zzlede%02d", k))
			}
			partly.lede = setOf(partly.lede)
			variants = append(variants, &partly)
		}
		for _, x := range variants {
			check(x, d)
			check(d, x)
			// Against every fourth item, which keeps the test quick
			// under the race detector.
			for j := i % 4; j < len(docs); j += 4 {
				check(x, docs[j])
			}
		}
	}
	// The corpus must exercise both answers of each rule.
	if near < len(items) || near == pairs || guarded == 0 || guarded == pairs {
		t.Fatalf("%d pairs: %d near duplicates, %d guarded: the corpus does not test both answers", pairs, near, guarded)
	}
	t.Logf("%d pairs: %d near duplicates, %d guarded", pairs, near, guarded)
}
