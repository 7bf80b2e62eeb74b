package aggregator

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
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
// the storage indexes must agree with.
type memLookup struct{ items []Item }

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

func (m *memLookup) ByBands(bands []uint64, from, to time.Time, minShared, limit int) ([]Item, error) {
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
	for _, h := range hits {
		if len(out) == limit {
			break
		}
		out = append(out, h.it)
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

// TestStoryFixture replays the labelled fixture through the merger, in
// feed order and reversed (late copies first), and demands no wrong merge
// at all (traps included) and 95% pairwise recall.
func TestStoryFixture(t *testing.T) {
	for _, order := range []string{"forward", "reversed"} {
		t.Run(order, func(t *testing.T) {
			f, items, labels := loadStoryFixture(t)
			if n := len(f.Traps); n < 15 {
				t.Fatalf("fixture has %d trap pairs, want at least 15", n)
			}
			if order == "reversed" {
				slices.Reverse(items)
				slices.Reverse(labels)
			}
			m := NewStoryMerger(f.Sources)
			lookup := &memLookup{}
			for i := range items {
				if err := m.Cluster(&items[i], lookup); err != nil {
					t.Fatal(err)
				}
				lookup.items = append(lookup.items, items[i])
			}
			sc := scoreClusters(items, labels, f.Traps)
			if sc.Stories < 40 {
				t.Errorf("fixture has %d stories, want at least 40", sc.Stories)
			}
			t.Logf("%d items, %d stories, %d trap pairs; recall %.1f%% (%d/%d pairs); merges by rule %v",
				sc.Items, sc.Stories, len(f.Traps), 100*sc.Recall(), sc.FoundPairs, sc.TruePairs, sc.MergedByRule)
			if sc.WrongMerges > 0 || len(sc.TrapsMerged) > 0 {
				t.Errorf("wrong merges: %v (traps merged: %v)", sc.WrongMergeNames, sc.TrapsMerged)
			}
			for i := range items {
				for j := range i {
					if labels[i] == labels[j] && items[i].StoryID != items[j].StoryID {
						t.Logf("missed: %q (%s) / %q (%s)", items[j].Title, items[j].Source, items[i].Title, items[i].Source)
					}
				}
			}
			// Newest first is adversarial: a story that splits early stays
			// split, since stories never merge (their ids must hold).
			want := 0.95
			if order == "reversed" {
				want = 0.75
			}
			if sc.Recall() < want {
				t.Errorf("recall %.3f, want >= %.2f", sc.Recall(), want)
			}
		})
	}
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
