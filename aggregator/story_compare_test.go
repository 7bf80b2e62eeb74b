package aggregator

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

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

// jaccard is |a ∩ b| / |a ∪ b|; nearDuplicate computes it from the count
// of shared words it already has.
func jaccard[T cmp.Ordered](a, b []T) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 0
	}
	n := common(a, b)
	return float64(n) / float64(len(a)+len(b)-n)
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

// TestMinhashBandsGolden: the MinHash bands of the labelled stories stay
// those in testdata/stories/bands.golden, written before the merge
// documents held hashes. Items are stored with their bands and found by
// them, so bands that changed would stop new items from finding the
// stored ones. Run with -update only for a change meant to re-band every
// stored item.
func TestMinhashBandsGolden(t *testing.T) {
	_, items := comparisonCorpus(t)
	var b strings.Builder
	banded := 0
	for _, it := range items {
		if it.Source == "bench" {
			continue
		}
		b.WriteString(it.ID)
		for _, band := range it.Keys.Bands {
			fmt.Fprintf(&b, " %016x", band)
		}
		b.WriteByte('\n')
		if len(it.Keys.Bands) > 0 {
			banded++
		}
	}
	path := filepath.Join("testdata", "stories", "bands.golden")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if banded < 90 {
		t.Fatalf("only %d items have bands", banded)
	}
	if got := b.String(); got != string(want) {
		g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("bands differ from %s at line %d:\n got  %q\n want %q", path, i+1, g[i], w[i])
			}
		}
		t.Fatalf("%d lines of bands, %s has %d", len(g), path, len(w))
	}
}
