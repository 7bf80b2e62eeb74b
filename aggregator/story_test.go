package aggregator

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator/query"
)

// storyFixture is the labelled set in testdata/stories/fixture.json: items
// of many outlets, each labelled with the story it really is, and pairs of
// stories that look alike but are different ("traps").
type storyFixture struct {
	Sources []Source `json:"sources"`
	Items   []struct {
		Story     string    `json:"story"`
		Source    string    `json:"source"`
		GUID      string    `json:"guid"`
		Link      string    `json:"link"`
		Title     string    `json:"title"`
		Summary   string    `json:"summary"`
		Published time.Time `json:"published"`
	} `json:"items"`
	Traps [][2]string `json:"traps"`
}

func loadStoryFixture(t testing.TB) (*storyFixture, []Item, []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "stories", "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f storyFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	items := make([]Item, len(f.Items))
	labels := make([]string, len(f.Items))
	for i, x := range f.Items {
		items[i] = Item{
			ID: ItemID(x.Source, x.GUID), Source: x.Source, Identity: x.GUID,
			Link: x.Link, Title: x.Title, Summary: x.Summary,
			Published: x.Published, Updated: x.Published, FirstSeen: x.Published,
		}
		labels[i] = x.Story
	}
	return &f, items, labels
}

// memLookup is a StoryLookup over a slice, scanning it all: the reference
// the storage indexes must agree with. add stores an item as storage does,
// absorbing the stories it merges.
type memLookup struct{ items []Item }

func (m *memLookup) add(it Item) {
	for _, from := range it.MergeStories {
		for i := range m.items {
			if x := &m.items[i]; x.StoryID == from {
				x.StoryID = it.StoryID
				if x.MergedBy == "" {
					x.MergedBy = MergedByBridge
				}
			}
		}
	}
	it.MergeStories = nil
	m.items = append(m.items, it)
}

func (m *memLookup) StoryPublished(id string) (time.Time, error) {
	var pub time.Time
	found := false
	for _, it := range m.items {
		if it.StoryID == id && (!found || it.Published.Before(pub)) {
			pub, found = it.Published, true
		}
	}
	if !found {
		return time.Time{}, ErrNotFound
	}
	return pub, nil
}

// replay clusters items one by one, in the order given, through m into a
// memLookup, and returns them as stored at the end.
func replay(t testing.TB, m *StoryMerger, items []Item) []Item {
	t.Helper()
	lookup := &memLookup{}
	for _, it := range items {
		if err := m.Cluster(&it, lookup); err != nil {
			t.Fatal(err)
		}
		lookup.add(it)
	}
	return lookup.items
}

// partition describes the stories items are in, whatever their ids and
// order: each item's story as the sorted IDs of its members.
func partition(items []Item) map[string]string {
	members := map[string][]string{}
	for _, it := range items {
		members[it.StoryID] = append(members[it.StoryID], it.ID)
	}
	out := make(map[string]string, len(items))
	for _, ids := range members {
		slices.Sort(ids)
		key := strings.Join(ids, " ")
		for _, id := range ids {
			out[id] = key
		}
	}
	return out
}

func inWindow(it *Item, from, to time.Time) bool {
	return !it.Published.Before(from) && !it.Published.After(to)
}

func (m *memLookup) ByLink(link string) ([]Item, error) {
	var out []Item
	for _, it := range m.items {
		if it.Keys.Link == link {
			out = append(out, it)
		}
	}
	return out, nil
}

func (m *memLookup) ByTitleKey(key string, from, to time.Time) ([]Item, error) {
	var out []Item
	for _, it := range m.items {
		if it.Keys.Title == key && inWindow(&it, from, to) {
			out = append(out, it)
		}
	}
	return out, nil
}

func (m *memLookup) ByBands(bands []uint64, from, to time.Time, minShared, limit int, keep func(TitleSketch) bool) ([]Item, error) {
	type hit struct {
		it Item
		n  int
	}
	var hits []hit
	for _, it := range m.items {
		n := 0
		for _, b := range bands {
			if slices.Contains(it.Keys.Bands, b) {
				n++
			}
		}
		if n >= minShared && inWindow(&it, from, to) {
			hits = append(hits, hit{it, n})
		}
	}
	slices.SortStableFunc(hits, func(a, b hit) int { return b.n - a.n })
	var out []Item
	for i, h := range hits {
		if i == limit {
			break
		}
		if keep == nil || keep(h.it.Tokens.Sketch()) {
			out = append(out, h.it)
		}
	}
	return out, nil
}

// ClusterScore compares the stories assigned to items with their labels.
type ClusterScore struct {
	Stories, Items  int
	TruePairs       int // pairs of items of one labelled story
	FoundPairs      int // of those, pairs put in one story
	WrongMerges     int // stories holding items of more than one label
	TrapsMerged     []string
	MergedByRule    map[string]int
	WrongMergeNames [][]string
}

func (s ClusterScore) Recall() float64 {
	if s.TruePairs == 0 {
		return 1
	}
	return float64(s.FoundPairs) / float64(s.TruePairs)
}

func scoreClusters(items []Item, labels []string, traps [][2]string) ClusterScore {
	sc := ClusterScore{Items: len(items), MergedByRule: map[string]int{}}
	storyLabels := map[string]map[string]bool{}
	labelSet := map[string]bool{}
	for i, it := range items {
		if storyLabels[it.StoryID] == nil {
			storyLabels[it.StoryID] = map[string]bool{}
		}
		storyLabels[it.StoryID][labels[i]] = true
		labelSet[labels[i]] = true
		if it.MergedBy != "" {
			sc.MergedByRule[it.MergedBy]++
		}
		for j := range i {
			if labels[j] == labels[i] {
				sc.TruePairs++
				if items[j].StoryID == it.StoryID {
					sc.FoundPairs++
				}
			}
		}
	}
	sc.Stories = len(labelSet)
	for _, ls := range storyLabels {
		if len(ls) > 1 {
			sc.WrongMerges++
			names := make([]string, 0, len(ls))
			for l := range ls {
				names = append(names, l)
			}
			slices.Sort(names)
			sc.WrongMergeNames = append(sc.WrongMergeNames, names)
		}
	}
	for _, tr := range traps {
		for _, ls := range storyLabels {
			if ls[tr[0]] && ls[tr[1]] {
				sc.TrapsMerged = append(sc.TrapsMerged, tr[0]+"+"+tr[1])
			}
		}
	}
	return sc
}

// TestStoryFixture replays the labelled fixture through the merger in
// feed order, reversed (late copies first) and shuffled, and demands the
// same stories whatever the order, no wrong merge at all (traps
// included) and 95% pairwise recall.
func TestStoryFixture(t *testing.T) {
	orders := []string{"forward", "reversed"}
	for seed := range 8 {
		orders = append(orders, fmt.Sprintf("shuffled-%d", seed))
	}
	var want map[string]string // the forward partition
	for _, order := range orders {
		t.Run(order, func(t *testing.T) {
			f, items, labels := loadStoryFixture(t)
			if n := len(f.Traps); n < 15 {
				t.Fatalf("fixture has %d trap pairs, want at least 15", n)
			}
			perm := make([]int, len(items))
			for i := range perm {
				perm[i] = i
			}
			switch {
			case order == "reversed":
				slices.Reverse(perm)
			case strings.HasPrefix(order, "shuffled-"):
				var seed uint64
				fmt.Sscanf(order, "shuffled-%d", &seed)
				r := rand.New(rand.NewPCG(seed, 42))
				r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			}
			in := make([]Item, len(items))
			inLabels := make([]string, len(items))
			for i, p := range perm {
				in[i], inLabels[i] = items[p], labels[p]
			}
			m := NewStoryMerger(f.Sources)
			out := replay(t, m, in)
			sc := scoreClusters(out, inLabels, f.Traps)
			if sc.Stories < 40 {
				t.Errorf("fixture has %d stories, want at least 40", sc.Stories)
			}
			t.Logf("%d items, %d stories, %d trap pairs; recall %.1f%% (%d/%d pairs); merges by rule %v",
				sc.Items, sc.Stories, len(f.Traps), 100*sc.Recall(), sc.FoundPairs, sc.TruePairs, sc.MergedByRule)
			if sc.WrongMerges > 0 || len(sc.TrapsMerged) > 0 {
				t.Errorf("wrong merges: %v (traps merged: %v)", sc.WrongMergeNames, sc.TrapsMerged)
			}
			for i := range out {
				for j := range i {
					if inLabels[i] == inLabels[j] && out[i].StoryID != out[j].StoryID {
						t.Logf("missed: %q (%s) / %q (%s)", out[j].Title, out[j].Source, out[i].Title, out[i].Source)
					}
				}
			}
			if sc.Recall() < 0.95 {
				t.Errorf("recall %.3f, want >= 0.95", sc.Recall())
			}
			got := partition(out)
			if want == nil {
				want = got
				return
			}
			for id, story := range got {
				if want[id] != story {
					t.Errorf("item %s: story [%s] in this order, [%s] in feed order", id, story, want[id])
				}
			}
		})
	}
}

// TestStoryChain: A and C are one story only through B (same title as A,
// same link as C); D is A's template with another place. In every one of
// the 24 arrival orders A, B and C end up one story, D alone, and the
// story id is that of the earliest story B bridged.
func TestStoryChain(t *testing.T) {
	at := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	items := []Item{
		{ID: "a", Source: "alpha", Title: "Magnitude 6.1 earthquake strikes Sichuan province",
			Summary:   "A magnitude 6.1 earthquake struck Luding county in southwest China's Sichuan province on Wednesday morning, the China Earthquake Networks Center said. No casualties have been reported so far.",
			Link:      "https://alpha.example/2024/quake.html",
			Published: at},
		{ID: "b", Source: "beta", Title: "Magnitude 6.1 earthquake strikes Sichuan province",
			Summary:   "An earthquake of magnitude 6.1 jolted Luding county in Sichuan province on Wednesday, according to the China Earthquake Networks Center. No casualties were reported.",
			Link:      "https://beta.example/world/20240501/quake-sichuan?utm_source=rss",
			Published: at.Add(time.Hour)},
		{ID: "c", Source: "gamma", Title: "Quake jolts southwest China",
			Summary:   "Rescue teams were dispatched on Wednesday.",
			Link:      "https://www.beta.example/world/20240501/quake-sichuan",
			Published: at.Add(2 * time.Hour)},
		{ID: "d", Source: "delta", Title: "Magnitude 6.1 earthquake strikes Yunnan province",
			Summary:   "A magnitude 6.1 earthquake struck Yangbi county in southwest China's Yunnan province on Wednesday morning, the China Earthquake Networks Center said. No casualties have been reported so far.",
			Link:      "https://delta.example/2024/quake-yunnan.html",
			Published: at.Add(30 * time.Minute)},
	}
	m := NewStoryMerger(nil)
	// The rules alone: A~B, B~C, and neither A~C nor anything with D.
	pair := func(x, y Item) bool {
		out := replay(t, m, []Item{x, y})
		return out[0].StoryID == out[1].StoryID
	}
	for _, tt := range []struct {
		x, y int
		want bool
	}{{0, 1, true}, {1, 2, true}, {0, 2, false}, {0, 3, false}, {1, 3, false}, {2, 3, false}} {
		if got := pair(items[tt.x], items[tt.y]); got != tt.want {
			t.Fatalf("%s~%s = %v, want %v", items[tt.x].ID, items[tt.y].ID, got, tt.want)
		}
	}
	var permute func(prefix, rest []Item)
	permute = func(prefix, rest []Item) {
		if len(rest) == 0 {
			order := ""
			for _, it := range prefix {
				order += it.ID
			}
			t.Run(order, func(t *testing.T) {
				got := map[string]string{}
				rules := map[string]string{}
				for _, it := range replay(t, m, prefix) {
					got[it.ID], rules[it.ID] = it.StoryID, it.MergedBy
				}
				if got["a"] != got["b"] || got["b"] != got["c"] || got["d"] == got["a"] || got["d"] != "d" {
					t.Errorf("stories %v, want a, b, c together and d alone", got)
				}
				founders := 0
				for _, id := range []string{"a", "b", "c"} {
					if rules[id] == "" {
						founders++
						if got[id] != id {
							t.Errorf("founder %s in story %s", id, got[id])
						}
					}
				}
				if founders != 1 {
					t.Errorf("%d founders in one story (rules %v)", founders, rules)
				}
				// a is the earliest item: the story it founds or joins on
				// arrival survives every merge.
				want := strings.ReplaceAll(order, "d", "")[:1]
				if want == "c" && strings.Index(order, "a") < strings.Index(order, "b") {
					want = "a" // c alone; a founds a story of its own
				}
				if got["a"] != want {
					t.Errorf("story id %s, want %s", got["a"], want)
				}
			})
			return
		}
		for i := range rest {
			next := append(slices.Clone(rest[:i]), rest[i+1:]...)
			permute(append(slices.Clone(prefix), rest[i]), next)
		}
	}
	permute(nil, items)
}

func TestCanonicalLink(t *testing.T) {
	const want = "news.cn/english/2021-12/10/c_1310364158.htm"
	tests := []struct {
		name, in, want string
	}{
		{"plain", "http://www.news.cn/english/2021-12/10/c_1310364158.htm", want},
		{"https, upper-case host, port, slash, fragment, tracking", "HTTPS://WWW.News.CN:443/english/2021-12/10/c_1310364158.htm/?utm_source=x&utm_medium=rss&fbclid=1#top", want},
		{"http default port", "http://news.cn:80/english/2021-12/10/c_1310364158.htm", want},
		{"every tracking parameter", "https://news.cn/english/2021-12/10/c_1310364158.htm?gclid=1&mc_cid=2&mc_eid=3&ocid=4&cmpid=5&UTM_Campaign=6&spm=7", want},
		{"other port kept", "http://news.cn:8080/a", "news.cn:8080/a"},
		{"query sorted, kept", "https://e.example/item?lang=en&id=2", "e.example/item?id=2&lang=en"},
		{"repeated values sorted", "https://e.example/item?b=2&a=3&a=1", "e.example/item?a=1&a=3&b=2"},
		{"path case kept", "https://e.example/News/A", "e.example/News/A"},
		{"home page", "https://www.example.org/?utm_source=x", ""},
		{"not http", "ftp://e.example/a", ""},
		{"relative", "/a/b", ""},
		{"empty", "", ""},
		{"garbage", "http://[::1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanonicalLink(tt.in); got != tt.want {
				t.Errorf("CanonicalLink(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTitleKey(t *testing.T) {
	tests := []struct {
		name, title string
		names       []string
		want        string
	}{
		{"plain", "Xi sends congratulatory letter to South-South Human Rights Forum", nil, "xi sends congratulatory letter to south south human rights forum"},
		{"NFKC, case, punctuation", "ＸＩ  Sends—“Letter”!", nil, "xi sends letter"},
		{"known outlet with dash", "Scholz elected chancellor - CGTN", nil, "scholz elected chancellor"},
		{"known outlet with bar", "Scholz elected chancellor | Reuters", nil, "scholz elected chancellor"},
		{"domain", "Scholz elected chancellor - Chinadaily.com.cn", nil, "scholz elected chancellor"},
		{"own source title words", "Scholz elected chancellor | Alpha", []string{"alpha-world", "Alpha World"}, "scholz elected chancellor"},
		{"Chinese full-width colon", "习近平向南南人权论坛致贺信：新华网", nil, "习近平向南南人权论坛致贺信"},
		{"Chinese underscore", "习近平向南南人权论坛致贺信_中国日报网", nil, "习近平向南南人权论坛致贺信"},
		{"not an outlet: content after a dash", "Storm hits coast - thousands evacuated", nil, "storm hits coast thousands evacuated"},
		{"not an outlet: another source's words", "Scholz elected chancellor | Beta", []string{"alpha", "Alpha World"}, "scholz elected chancellor beta"},
		{"too little left", "Reuters | Analysis", nil, "reuters analysis"},
		{"hyphenated word is not a separator", "South-South forum opens", nil, "south south forum opens"},
		{"empty", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TitleKey(tt.title, tt.names...); got != tt.want {
				t.Errorf("TitleKey(%q) = %q, want %q", tt.title, got, tt.want)
			}
		})
	}
}

func TestStoryLead(t *testing.T) {
	base := time.Date(2021, 12, 10, 12, 0, 0, 0, time.UTC)
	s := Story{Members: []Item{
		{Source: "a", Published: base},
		{Source: "b", Published: base.Add(time.Hour)},
		{Source: "c", Published: base.Add(2 * time.Hour)},
	}}
	tests := []struct {
		name     string
		priority func(string) int
		want     int
	}{
		{"earliest", nil, 0},
		{"priority wins", func(src string) int { return map[string]int{"c": 2, "b": 1}[src] }, 2},
		{"equal priority: earliest", func(src string) int { return map[string]int{"b": 1, "c": 1}[src] }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Lead(tt.priority); got != tt.want {
				t.Errorf("Lead = %d, want %d", got, tt.want)
			}
		})
	}
	if got := (&Story{}).Lead(nil); got != -1 {
		t.Errorf("Lead of an empty story = %d", got)
	}
}

// TestClusterKeepsStoredStory: a stored item (StoryID set) only gets its
// keys recomputed.
func TestClusterKeepsStoredStory(t *testing.T) {
	m := NewStoryMerger(nil)
	it := Item{ID: "x", Source: "s", StoryID: "story-1", MergedBy: "title", Title: "A title of some length", Link: "https://e.example/a"}
	if err := m.Cluster(&it, &memLookup{}); err != nil {
		t.Fatal(err)
	}
	if it.StoryID != "story-1" || it.MergedBy != "title" || it.Keys.Link != "e.example/a" || it.Keys.Title == "" {
		t.Errorf("after Cluster: %+v", it)
	}
	fresh := Item{ID: "y", Source: "s", Title: "Another title"}
	if err := m.Cluster(&fresh, &memLookup{}); err != nil || fresh.StoryID != "y" || fresh.MergedBy != "" {
		t.Errorf("a new item without copies: story %q by %q, %v", fresh.StoryID, fresh.MergedBy, err)
	}
}

// TestNamedTokensStopsAtLimit: only the first limit tokens of a text are
// read, so a long body costs no more than its lede, and what follows
// (here a tail written in Title Case) cannot change which lede tokens
// count as names.
func TestNamedTokensStopsAtLimit(t *testing.T) {
	lede := strings.Repeat("officials said the measure still needs a final vote in parliament ", 8)
	tail := strings.Repeat("Sweeping Capitalised Words Everywhere In This Later Paragraph ", 500)
	var ws query.WordSplitter
	tokens, named, full := namedTokens(&ws, lede+tail, ledeTokens)
	if !full {
		t.Error("namedTokens did not report stopping at the limit")
	}
	if len(tokens) != ledeTokens {
		t.Fatalf("%d tokens, want %d", len(tokens), ledeTokens)
	}
	for _, tok := range tokens {
		if tok == "sweep" || tok == "capitalis" {
			t.Fatalf("token %q from past the limit", tok)
		}
	}
	if len(named) != 0 {
		t.Errorf("named tokens %q: the lede names nothing", named)
	}
}

// TestLedeTokensReadOnlyTheLede: reading only the start of a summary's
// text gives exactly the lede tokens of the whole text, whatever the HTML
// around the place where reading stops.
func TestLedeTokensReadOnlyTheLede(t *testing.T) {
	var summaries [][2]string // summary, content
	_, items, _ := loadStoryFixture(t)
	for _, it := range items {
		summaries = append(summaries, [2]string{it.Summary, it.Content})
	}
	for _, file := range []string{"news-50.rss", "news-50.atom"} {
		body, err := os.ReadFile(filepath.Join("testdata", "bench", file))
		if err != nil {
			t.Fatal(err)
		}
		feed, err := ParseFeed(body, "", "https://news.example.org/feed")
		if err != nil || len(feed.Items) == 0 {
			t.Fatalf("%s: %d items, %v", file, len(feed.Items), err)
		}
		for _, it := range feed.Items {
			summaries = append(summaries, [2]string{it.Summary, it.Content})
		}
	}
	sentence := "The Minister of Finance said on Tuesday that the 2026 budget would cut spending. "
	for _, pad := range []int{0, 1, 7, 500, 1000, 1023, 1024, 1025} {
		lead := strings.Repeat("x", pad)
		summaries = append(summaries,
			[2]string{lead + strings.Repeat(sentence, 40), ""},
			[2]string{lead + strings.Repeat("<p>"+sentence+"</p>", 40), ""},
			// Inline tags that split a word where reading could stop.
			[2]string{lead + strings.Repeat("The <b>Par</b>liament <i>of</i> Kenya ap<em>proves</em> the ", 200), ""},
			[2]string{lead + strings.Repeat("Long-running/hyphenated,comma-separated—words ", 200), ""},
			// No space at all: the whole text is one field.
			[2]string{lead + strings.Repeat("Word", 2000), ""},
			// A blank summary stands for none: the content is read.
			[2]string{strings.Repeat(" ", pad) + "<p> </p>", strings.Repeat(sentence, 30)},
			[2]string{strings.Repeat(" ", 3000), strings.Repeat(sentence, 30)},
			// Stopwords only at first: the first read holds too few tokens.
			[2]string{lead + strings.Repeat("of the and to in ", 150) + strings.Repeat(sentence, 30), ""},
			[2]string{"<script>" + strings.Repeat("var x = 1; ", 300) + "</script>" + strings.Repeat(sentence, 30), ""},
			[2]string{lead + strings.Repeat("中国外交部发言人表示，", 300), ""},
			[2]string{lead + "&nbsp;" + strings.Repeat("Word&nbsp;", 400) + strings.Repeat(sentence, 10), ""},
		)
	}
	var ws query.WordSplitter
	for i, s := range summaries {
		text := query.HTMLText(s[0])
		if strings.TrimSpace(text) == "" {
			text = query.HTMLText(s[1])
		}
		wantTokens, wantNamed, _ := namedTokens(&ws, text, ledeTokens)
		gotTokens, gotNamed := ledeTokensOf(&ws, &Item{Summary: s[0], Content: s[1]})
		if !slices.Equal(gotTokens, wantTokens) || !slices.Equal(gotNamed, wantNamed) {
			t.Errorf("summary %d (%.60q…): lede tokens %q named %q, want %q named %q",
				i, s[0], gotTokens, gotNamed, wantTokens, wantNamed)
		}
	}
}

// TestTitleSketchRulesOutOnlyNonDuplicates compares every ordered pair of
// the fixture's items: the title sketch may rule a candidate out only
// where nearDuplicate rejects it, and where the titles' overlap is below
// minTitleOverlap; and it must rule most pairs out, or it saves nothing.
func TestTitleSketchRulesOutOnlyNonDuplicates(t *testing.T) {
	f, items, _ := loadStoryFixture(t)
	m := NewStoryMerger(f.Sources)
	docs := make([]*storyDoc, len(items))
	for i := range items {
		m.Prepare(&items[i])
		docs[i] = docOf(items[i].Source, items[i].Tokens)
	}
	pairs, ruledOut, near := 0, 0, 0
	for i, a := range docs {
		for j := range items {
			if i == j {
				continue
			}
			pairs++
			b := docs[j]
			_, dup := nearDuplicate(a, b)
			if dup {
				near++
			}
			if a.mayNearDuplicate(items[j].Tokens.Sketch()) {
				continue
			}
			ruledOut++
			if dup {
				t.Errorf("the sketch of %q rules out its near-duplicate %q", items[j].Title, items[i].Title)
			}
			if len(a.title) >= 2 && len(b.title) >= 2 && overlap(a.titleSet, b.titleSet) >= minTitleOverlap {
				t.Errorf("the sketch of %q rules out %q, whose title overlaps it by %.2f", items[j].Title, items[i].Title, overlap(a.titleSet, b.titleSet))
			}
		}
	}
	t.Logf("%d pairs, %d near-duplicates, %d ruled out by the sketch", pairs, near, ruledOut)
	if near == 0 || ruledOut < pairs*3/4 {
		t.Errorf("%d pairs, %d near-duplicates: the sketch rules out %d, want most", pairs, near, ruledOut)
	}
	if (&StoryTokens{Title: []string{"a", "b"}}).Sketch() == (TitleSketch{}) || (*StoryTokens)(nil).Sketch() != (TitleSketch{}) {
		t.Error("a title's sketch is the zero sketch, or no tokens' is not")
	}
	if !docs[0].mayNearDuplicate(TitleSketch{}) {
		t.Error("the zero sketch rules a candidate out")
	}
}

// TestMayNearDuplicate checks the sketch's rule at its bounds: a title
// under two tokens, and an overlap of exactly minTitleOverlap of the
// shorter title, whichever of the two is shorter. No two words of a case
// share a bit of the sketch, so the cases test the rule, not collisions.
func TestMayNearDuplicate(t *testing.T) {
	for _, tc := range []struct {
		name            string
		item, candidate []string // title tokens
		want            bool
	}{
		{"same title", []string{"kenya", "budget"}, []string{"kenya", "budget"}, true},
		{"one-token item", []string{"kenya"}, []string{"kenya", "budget"}, false},
		{"one-token candidate", []string{"kenya", "budget"}, []string{"kenya"}, false},
		{"half of the shorter item", []string{"kenya", "budget"}, []string{"kenya", "rail", "project", "delay", "vote", "senate", "farmer", "harbor"}, true},
		{"half of the shorter candidate", []string{"kenya", "rail", "project", "delay", "vote", "senate", "farmer", "harbor"}, []string{"kenya", "budget"}, true},
		{"repeated candidate token counts once", []string{"kenya", "rail", "senate", "harbor"}, []string{"kenya", "kenya", "kenya", "budget"}, true},
		{"disjoint", []string{"kenya", "budget", "vote"}, []string{"brazil", "rail", "delay"}, false},
		{"a third of the shorter", []string{"kenya", "budget", "vote"}, []string{"kenya", "rail", "delay"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := docOf("s1", &StoryTokens{Title: tc.item})
			c := (&StoryTokens{Title: tc.candidate}).Sketch()
			if got := d.mayNearDuplicate(c); got != tc.want {
				t.Errorf("mayNearDuplicate = %v, want %v (overlap %.2f)", got, tc.want, overlap(d.titleSet, docOf("s2", &StoryTokens{Title: tc.candidate}).titleSet))
			}
			if !d.mayNearDuplicate(TitleSketch{}) {
				t.Error("the zero sketch rules a candidate out")
			}
		})
	}
}

// FuzzTitleSketch checks, for any two items, that the title sketch of one
// rules the other out only where nearDuplicate rejects the pair.
func FuzzTitleSketch(f *testing.F) {
	f.Add("Kenya parliament approves climate plan", "Kenya's parliament approves the climate plan - Daily Ledger",
		"<p>The parliament of Kenya approved the climate plan on Tuesday, officials said.</p>",
		"<p>Kenya's parliament approved its climate plan on Tuesday, according to a statement.</p>")
	f.Add("UN forum opens in Geneva", "Forum on human rights opens", "", "")
	f.Fuzz(func(t *testing.T, titleA, titleB, summaryA, summaryB string) {
		a := Item{ID: "a", Source: "s1", Title: titleA, Summary: summaryA}
		b := Item{ID: "b", Source: "s2", Title: titleB, Summary: summaryB}
		var m *StoryMerger
		m.Prepare(&a)
		m.Prepare(&b)
		da, db := docOf(a.Source, a.Tokens), docOf(b.Source, b.Tokens)
		if _, dup := nearDuplicate(da, db); dup && !da.mayNearDuplicate(b.Tokens.Sketch()) {
			t.Fatalf("the sketch of %q rules out its near-duplicate %q", titleB, titleA)
		}
	})
}
