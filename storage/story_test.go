package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	bolt "go.etcd.io/bbolt"
)

// fixtureItem is one item of the labelled story fixture the aggregator
// package keeps in its testdata.
type fixtureItem struct {
	Story     string    `json:"story"`
	Source    string    `json:"source"`
	GUID      string    `json:"guid"`
	Link      string    `json:"link"`
	Title     string    `json:"title"`
	Summary   string    `json:"summary"`
	Published time.Time `json:"published"`
}

type storyFixture struct {
	Sources []aggregator.Source `json:"sources"`
	Items   []fixtureItem       `json:"items"`
	Traps   [][2]string         `json:"traps"`
}

func loadStoryFixture(t testing.TB) *storyFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "aggregator", "testdata", "stories", "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f storyFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

func (x fixtureItem) item() aggregator.Item {
	return aggregator.Item{
		ID: aggregator.ItemID(x.Source, x.GUID), Source: x.Source, Identity: x.GUID,
		Link: x.Link, Title: x.Title, Summary: x.Summary, Hash: "h",
		Published: x.Published, Updated: x.Published,
	}
}

// storyFeed is feed with the story merger as Cluster hook and topics set
// by match.
func storyFeed(m *aggregator.StoryMerger, now time.Time, match func(*aggregator.Item) []string, source string, items ...aggregator.Item) aggregator.FeedUpdate {
	up := feed(source, items...)
	reconcile := reconcileAt(now)
	up.Reconcile = func(stored, in *aggregator.Item) bool {
		if match != nil {
			in.Topics = match(in)
		}
		return reconcile(stored, in)
	}
	up.Cluster = m.Cluster
	return up
}

// TestStoryFixtureInStore replays the labelled fixture through SaveFeed,
// one poll per item, in feed order, reversed and shuffled, and checks
// that the store's indexes and merges find what the merger needs: no
// wrong merge, every true pair merged (the in-memory replay of the
// aggregator package reaches 100% in every order), the same stories
// whatever the order, and every story's id one of its members' with the
// founder of the story by that id in it.
func TestStoryFixtureInStore(t *testing.T) {
	ctx := context.Background()
	f := loadStoryFixture(t)
	var want map[string]string // item ID → its story's member IDs, in feed order
	for _, order := range []string{"forward", "reversed", "shuffled-1", "shuffled-2"} {
		t.Run(order, func(t *testing.T) {
			items := slices.Clone(f.Items)
			switch order {
			case "reversed":
				slices.Reverse(items)
			case "shuffled-1", "shuffled-2":
				r := rand.New(rand.NewPCG(uint64(order[len(order)-1]), 7))
				r.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
			}
			db := openTestDB(t)
			m := aggregator.NewStoryMerger(f.Sources)
			for _, x := range items {
				if _, err := db.SaveFeed(ctx, storyFeed(m, t0, nil, x.Source, x.item())); err != nil {
					t.Fatal(err)
				}
			}
			members := map[string][]string{}  // story id → member IDs
			labelsOf := map[string][]string{} // story id → labels
			storyOf := map[string]string{}    // item ID → story id
			for _, x := range items {
				it, err := db.Item(ctx, x.Source, aggregator.ItemID(x.Source, x.GUID))
				if err != nil {
					t.Fatal(err)
				}
				storyOf[it.ID] = it.StoryID
				members[it.StoryID] = append(members[it.StoryID], it.ID)
				if !slices.Contains(labelsOf[it.StoryID], x.Story) {
					labelsOf[it.StoryID] = append(labelsOf[it.StoryID], x.Story)
				}
			}
			found, pairs := 0, 0
			for i, x := range items {
				for _, y := range items[:i] {
					if y.Story == x.Story {
						pairs++
						if storyOf[x.item().ID] == storyOf[y.item().ID] {
							found++
						}
					}
				}
			}
			for id, labels := range labelsOf {
				if len(labels) > 1 {
					t.Errorf("story %s merges %v", id, labels)
				}
			}
			t.Logf("%d items in %d stories; recall %d/%d pairs", len(items), len(labelsOf), found, pairs)
			if found != pairs {
				t.Errorf("recall %d/%d pairs, want all (the in-memory replay finds all)", found, pairs)
			}
			got := map[string]string{}
			for id, ms := range members {
				slices.Sort(ms)
				for _, m := range ms {
					got[m] = strings.Join(ms, " ")
				}
				s, err := db.Story(ctx, id)
				if err != nil {
					t.Fatalf("Story(%s): %v", id, err)
				}
				if len(s.Members) != len(ms) {
					t.Errorf("story %s has %d members, items say %d", id, len(s.Members), len(ms))
				}
				if !slices.ContainsFunc(s.Members, func(it aggregator.Item) bool { return it.ID == id && it.MergedBy == "" }) {
					t.Errorf("story %s: no founding member with its id", id)
				}
			}
			if want == nil {
				want = got
			} else if !maps.Equal(got, want) {
				t.Errorf("stories differ from feed order's")
			}
		})
	}
}

// TestAbsorbStories drives merges with a scripted Cluster hook: members
// move, topic entries follow the surviving story, aliases stay flat
// through a second merge, and pruning drops them with their story.
func TestAbsorbStories(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	type step struct {
		id     string
		at     time.Duration
		topics []string
		story  string
		merge  []string
	}
	save := func(s step) (aggregator.SaveResult, error) {
		it := mkItem(s.id, t0.Add(s.at), "h", s.topics...)
		up := feed("src", it)
		up.Cluster = func(it *aggregator.Item, _ aggregator.StoryLookup) error {
			it.StoryID, it.MergeStories = s.story, s.merge
			if it.StoryID == "" {
				it.StoryID = it.ID
			}
			if s.story != "" {
				it.MergedBy = aggregator.MergedByNear
			}
			return nil
		}
		return db.SaveFeed(ctx, up)
	}
	for _, s := range []step{{id: "a", at: time.Hour, topics: []string{"x"}}, {id: "b", at: 2 * time.Hour, topics: []string{"y"}}} {
		if res, err := save(s); err != nil {
			t.Fatal(err)
		} else if res.Merged != 0 {
			t.Errorf("founder %s: Merged = %d, want 0", s.id, res.Merged)
		}
	}
	// c bridges a and b: b is absorbed into a, the earlier.
	res, err := save(step{id: "c", at: 3 * time.Hour, story: "a", merge: []string{"b"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Merged != 2 { // c joins a, and b joins them
		t.Errorf("bridge: Merged = %d, want 2", res.Merged)
	}
	if !slices.Equal(res.ChangedTopics, []string{"x", "y"}) {
		t.Errorf("changed topics %v, want [x y]", res.ChangedTopics)
	}
	for _, topic := range []string{"x", "y"} {
		if got := storyIDs(topicStories(t, db, topic, 0)); !slices.Equal(got, []string{"a"}) {
			t.Errorf("topic %s = %v, want [a]", topic, got)
		}
	}
	if s, err := db.Story(ctx, "b"); err != nil || s.ID != "a" || len(s.Members) != 3 {
		t.Errorf("Story(b) = %s with %d members, %v; want a's three", s.ID, len(s.Members), err)
	}
	if b, _ := db.Item(ctx, "src", "b"); b.StoryID != "a" || b.MergedBy != aggregator.MergedByBridge {
		t.Errorf("absorbed founder: story %q by %q", b.StoryID, b.MergedBy)
	}

	// The hook's merges are checked before anything is written.
	for _, bad := range []step{
		{id: "z", story: "a", merge: []string{"nope"}},
		{id: "z", story: "a", merge: []string{"a"}},
		{id: "z", story: "nope", merge: []string{"a"}},
		{id: "z", story: "a", merge: []string{"b"}}, // absorbed: no longer a story
	} {
		if _, err := save(bad); err == nil {
			t.Errorf("merging %v into %s succeeded", bad.merge, bad.story)
		}
	}
	if _, err := db.Item(ctx, "src", "z"); !errors.Is(err, aggregator.ErrNotFound) {
		t.Errorf("a failed merge stored its item: %v", err)
	}

	// d is earlier than a: when e bridges them, a (with b's alias) is
	// absorbed into d and every alias names d.
	if _, err := save(step{id: "d", at: 0, topics: []string{"y"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := save(step{id: "e", at: 4 * time.Hour, story: "d", merge: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "d"} {
		if s, err := db.Story(ctx, id); err != nil || s.ID != "d" || len(s.Members) != 5 {
			t.Errorf("Story(%s) = %s with %d members, %v; want d's five", id, s.ID, len(s.Members), err)
		}
	}
	if got := storyIDs(topicStories(t, db, "x", 0)); !slices.Equal(got, []string{"d"}) {
		t.Errorf("topic x = %v, want [d]", got)
	}
	if n, err := db.TopicItemCount(ctx, "y"); err != nil || n != 1 {
		t.Errorf("TopicItemCount(y) = %d, %v; want 1", n, err)
	}

	// Pruning d keeps the story, its id and aliases; pruning all drops
	// them (the cleanup's index check sees no alias left).
	if _, err := db.Prune(ctx, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s, err := db.Story(ctx, "b"); err != nil || s.ID != "d" || len(s.Members) != 4 {
		t.Errorf("after pruning d, Story(b) = %s with %d members, %v", s.ID, len(s.Members), err)
	}
	if _, err := db.Prune(ctx, t0.Add(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "d"} {
		if _, err := db.Story(ctx, id); !errors.Is(err, aggregator.ErrNotFound) {
			t.Errorf("Story(%s) after pruning all: %v", id, err)
		}
	}
}

// TestSeedStoryAnyOrder stores the seed story's four copies, one poll
// each, in all 24 orders: it is always one story of four, in the topic
// once, whichever stories formed and merged on the way.
func TestSeedStoryAnyOrder(t *testing.T) {
	ctx := context.Background()
	m := aggregator.NewStoryMerger(seedSources())
	all := func(*aggregator.Item) []string { return []string{"hr"} }
	var permute func(prefix, rest []aggregator.Item)
	permute = func(prefix, rest []aggregator.Item) {
		if len(rest) > 0 {
			for i := range rest {
				permute(append(slices.Clone(prefix), rest[i]), append(slices.Clone(rest[:i]), rest[i+1:]...))
			}
			return
		}
		var name []string
		for _, it := range prefix {
			name = append(name, it.Source)
		}
		t.Run(strings.Join(name, ","), func(t *testing.T) {
			db := openTestDB(t)
			for _, it := range prefix {
				if _, err := db.SaveFeed(ctx, storyFeed(m, t0, all, it.Source, it)); err != nil {
					t.Fatal(err)
				}
			}
			stories := topicStories(t, db, "hr", 0)
			if len(stories) != 1 || len(stories[0].Members) != 4 {
				t.Fatalf("hr has %d stories (%v), want one of four", len(stories), storyIDs(stories))
			}
			// Every id a story had on the way (its founders') still finds it.
			for _, it := range stories[0].Members {
				if it.MergedBy != "" && it.MergedBy != aggregator.MergedByBridge {
					continue
				}
				if s, err := db.Story(ctx, it.ID); err != nil || s.ID != stories[0].ID {
					t.Errorf("Story(%s) = %s, %v; want %s (itself or through its alias)", it.ID, s.ID, err, stories[0].ID)
				}
			}
		})
	}
	permute(nil, seedItems())
}

// seedItems is the South-South Human Rights Forum letter of 10 Dec 2021 as
// four outlets ran it: different guids, link variants (Global Times links
// Xinhua's article with tracking parameters, https, a port and a trailing
// slash), a reworded title and one with the outlet's name appended.
func seedItems() []aggregator.Item {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	return []aggregator.Item{
		{ID: "urn:uuid:cgtn-1", Source: "cgtn-world", Identity: "15UUFSrXGmc",
			Link:    "https://news.cgtn.com/news/2021-12-10/Xi-sends-congratulatory-letter-to-South-South-Human-Rights-Forum-15UUFSrXGmc/index.html",
			Title:   "Xi sends congratulatory letter to South-South Human Rights Forum",
			Summary: `<p>Chinese President Xi Jinping on Friday sent a congratulatory letter to the South-South Human Rights Forum, which opened in Beijing the same day under the theme "putting people first and global human rights governance."</p>`,
			Hash:    "h", Published: at("2021-12-10T14:26:00Z")},
		{ID: "urn:uuid:xinhua-1", Source: "xinhua", Identity: "http://www.news.cn/english/2021-12/10/c_1310364158.htm",
			Link:    "http://www.news.cn/english/2021-12/10/c_1310364158.htm",
			Title:   "Xi congratulates South-South Human Rights Forum",
			Summary: "Chinese President Xi Jinping sent a congratulatory letter on Friday to the South-South Human Rights Forum in Beijing.",
			Hash:    "h", Published: at("2021-12-10T13:05:00Z")},
		{ID: "urn:uuid:chinadaily-1", Source: "chinadaily", Identity: "cd-20211210-xi-forum",
			Link:    "https://www.chinadaily.com.cn/a/202112/10/WS61b3586ca310cdd39bc7a4f1.html",
			Title:   "Xi sends congratulatory letter to South-South Human Rights Forum - Chinadaily.com.cn",
			Summary: "President Xi Jinping sent a congratulatory letter to the South-South Human Rights Forum that opened in Beijing on Friday.",
			Hash:    "h", Published: at("2021-12-10T15:10:00Z")},
		{ID: "urn:uuid:globaltimes-1", Source: "globaltimes", Identity: "gt-1241092",
			Link:  "https://NEWS.cn:443/english/2021-12/10/c_1310364158.htm/?utm_source=globaltimes&utm_medium=rss#main",
			Title: "Xi congratulates South-South Human Rights Forum | Global Times",
			Hash:  "h", Published: at("2021-12-10T16:00:00Z")},
	}
}

func seedSources() []aggregator.Source {
	return []aggregator.Source{
		{Name: "cgtn-world", Title: "CGTN | World"}, {Name: "xinhua", Title: "Xinhua"},
		{Name: "chinadaily", Title: "China Daily"}, {Name: "globaltimes", Title: "Global Times"},
	}
}

// TestSeedStory: the seed story from four outlets is one story in its
// topic, whichever member matched the query; a late copy moves its updated
// time but not its place; pruning members keeps the story and its id.
func TestSeedStory(t *testing.T) {
	ctx := context.Background()
	now := t0
	path := filepath.Join(t.TempDir(), "tributary.db")
	db := openAt(t, path, Options{Now: func() time.Time { return now }})
	m := aggregator.NewStoryMerger(seedSources())
	// The topic matches "congratulates", which only two copies use.
	match := func(it *aggregator.Item) []string {
		if strings.Contains(it.Title, "congratulates") {
			return []string{"hr"}
		}
		return nil
	}
	seed := seedItems()
	other := aggregator.Item{ID: "urn:uuid:other", Source: "xinhua", Identity: "other", Link: "https://news.cn/other",
		Title: "Xi congratulates China's winter athletes", Summary: "An unrelated story that matches the topic.",
		Hash: "h", Published: seed[2].Published.Add(-time.Minute)}
	// CGTN first: the story takes its id. It does not match the topic.
	if _, err := db.SaveFeed(ctx, storyFeed(m, now, match, "cgtn-world", seed[0])); err != nil {
		t.Fatal(err)
	}
	if got := topicStories(t, db, "hr", 0); len(got) != 0 {
		t.Fatalf("hr has %d stories before any member matched", len(got))
	}
	for _, it := range []aggregator.Item{seed[1], other} {
		if _, err := db.SaveFeed(ctx, storyFeed(m, now, match, it.Source, it)); err != nil {
			t.Fatal(err)
		}
	}
	// The Xinhua copy was published first: the story sorts by it, under
	// the unrelated story published later.
	if got := storyIDs(topicStories(t, db, "hr", 0)); !slices.Equal(got, []string{"urn:uuid:other", "urn:uuid:cgtn-1"}) {
		t.Fatalf("hr = %v", got)
	}
	before, err := db.Story(ctx, "urn:uuid:cgtn-1")
	if err != nil {
		t.Fatal(err)
	}
	// The late copies arrive a day later.
	now = t0.Add(24 * time.Hour)
	res, err := db.SaveFeed(ctx, storyFeed(m, now, match, "chinadaily", seed[2]))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.ChangedTopics, []string{"hr"}) {
		t.Errorf("a late copy changed topics %v, want [hr]", res.ChangedTopics)
	}
	if _, err := db.SaveFeed(ctx, storyFeed(m, now, match, "globaltimes", seed[3])); err != nil {
		t.Fatal(err)
	}
	stories := topicStories(t, db, "hr", 0)
	if got := storyIDs(stories); !slices.Equal(got, []string{"urn:uuid:other", "urn:uuid:cgtn-1"}) {
		t.Fatalf("after late copies hr = %v, want the story not moved up", got)
	}
	s := stories[1]
	var members, rules []string
	for _, it := range s.Members {
		members = append(members, it.Source)
		rules = append(rules, it.MergedBy)
	}
	if want := []string{"xinhua", "cgtn-world", "chinadaily", "globaltimes"}; !slices.Equal(members, want) {
		t.Errorf("members %v, want %v (earliest first)", members, want)
	}
	if want := []string{"near", "", "title", "link"}; !slices.Equal(rules, want) {
		t.Errorf("merged by %v, want %v", rules, want)
	}
	if !s.Published.Equal(seed[1].Published) || !s.Updated.Equal(seed[3].Published) || s.Updated.Equal(before.Updated) {
		t.Errorf("story published %v updated %v (before %v); want the earliest and the latest member's", s.Published, s.Updated, before.Updated)
	}
	if lead := s.Lead(nil); s.Members[lead].Source != "xinhua" {
		t.Errorf("lead %s, want xinhua (earliest)", s.Members[lead].Source)
	}
	prio := func(src string) int {
		if src == "chinadaily" {
			return 1
		}
		return 0
	}
	if lead := s.Lead(prio); s.Members[lead].Source != "chinadaily" {
		t.Errorf("lead with priority %s, want chinadaily", s.Members[lead].Source)
	}
	if n, err := db.TopicItemCount(ctx, "hr"); err != nil || n != 2 {
		t.Errorf("TopicItemCount = %d, %v; want 2 stories", n, err)
	}

	// Restart: the story and its id survive.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path, Options{Now: func() time.Time { return now }})
	if s2, err := db.Story(ctx, "urn:uuid:cgtn-1"); err != nil || len(s2.Members) != 4 {
		t.Fatalf("after reopen Story = %d members, %v", len(s2.Members), err)
	}

	// Prune the two earliest members: the story keeps its id and moves to
	// its earliest remaining member's time; the topic still holds it
	// through Global Times' copy.
	res2, err := db.Prune(ctx, seed[0].Published.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if res2.Items != 2 {
		t.Errorf("pruned %d items, want 2", res2.Items)
	}
	s3, err := db.Story(ctx, "urn:uuid:cgtn-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(s3.Members) != 2 || !s3.Published.Equal(seed[2].Published) {
		t.Errorf("after prune: %d members, published %v", len(s3.Members), s3.Published)
	}
	if got := storyIDs(topicStories(t, db, "hr", 0)); !slices.Equal(got, []string{"urn:uuid:cgtn-1", "urn:uuid:other"}) {
		t.Errorf("after prune hr = %v", got)
	}
	// Prune everything: the story goes.
	if _, err := db.Prune(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Story(ctx, "urn:uuid:cgtn-1"); !errors.Is(err, aggregator.ErrNotFound) {
		t.Errorf("Story after its last member was pruned: %v, want ErrNotFound", err)
	}
	if got := topicStories(t, db, "hr", 0); len(got) != 0 {
		t.Errorf("hr after pruning all = %v", storyIDs(got))
	}
}

// TestSyncTopicsStories: rebuilding a topic puts a story in it when any
// member matches.
func TestSyncTopicsStories(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	m := aggregator.NewStoryMerger(seedSources())
	for _, it := range seedItems() {
		if _, err := db.SaveFeed(ctx, storyFeed(m, t0, nil, it.Source, it)); err != nil {
			t.Fatal(err)
		}
	}
	topic := aggregator.TopicMembership{Name: "gt", Fingerprint: "1", Match: func(it *aggregator.Item) bool { return it.Source == "globaltimes" }}
	if _, err := db.SyncTopics(ctx, []aggregator.TopicMembership{topic}, nil); err != nil {
		t.Fatal(err)
	}
	stories := topicStories(t, db, "gt", 0)
	if len(stories) != 1 || len(stories[0].Members) != 4 || stories[0].ID != "urn:uuid:cgtn-1" {
		t.Fatalf("gt = %+v, want the one story of four", storyIDs(stories))
	}
	if !slices.Equal(stories[0].Topics, []string{"gt"}) {
		t.Errorf("story topics %v", stories[0].Topics)
	}
	if _, err := db.SyncTopics(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := topicStories(t, db, "gt", 0); len(got) != 0 {
		t.Errorf("dropped topic still has %v", storyIDs(got))
	}
}

// TestClusterHookErrors: a hook that fails or breaks the rules fails the
// whole feed.
func TestClusterHookErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		hook func(*aggregator.Item, aggregator.StoryLookup) error
	}{
		{"error", func(*aggregator.Item, aggregator.StoryLookup) error { return errors.New("boom") }},
		{"no story", func(it *aggregator.Item, _ aggregator.StoryLookup) error { it.StoryID = ""; return nil }},
		{"story changed", func(it *aggregator.Item, _ aggregator.StoryLookup) error { it.StoryID = "other"; return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			if _, err := db.SaveFeed(ctx, feed("src", mkItem("a", t0, "h1", "go"))); err != nil {
				t.Fatal(err)
			}
			up := feed("src", mkItem("a", t0, "h2", "go"))
			up.Cluster = tt.hook
			if _, err := db.SaveFeed(ctx, up); err == nil {
				t.Fatal("SaveFeed succeeded")
			}
		})
	}
}

// TestMigrateV1 opens a schema 1 database (items, an item-keyed topic
// index) and finds every item a story of its own, with the same id, in
// the same topic order, indexed for merging.
func TestMigrateV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	seed := seedItems()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketItems, bucketPublished, bucketTopics, bucketTopicFP, bucketStates, bucketCounts, bucketTombstones} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(keySchema, []byte{0, 0, 0, 1}); err != nil {
			return err
		}
		tb, err := tx.Bucket(bucketTopics).CreateBucket([]byte("hr"))
		if err != nil {
			return err
		}
		counts := map[string]uint64{}
		for i := range seed {
			it := seed[i]
			it.FirstSeen, it.Updated, it.Topics = t0, it.Published, []string{"hr"}
			// A version 1 record: no story fields.
			b, err := encodeRecord(struct {
				ID        string    `json:"id"`
				Source    string    `json:"source"`
				Identity  string    `json:"identity"`
				Link      string    `json:"link"`
				Title     string    `json:"title"`
				Summary   string    `json:"summary"`
				Published time.Time `json:"published"`
				Updated   time.Time `json:"updated"`
				FirstSeen time.Time `json:"first_seen"`
				Hash      string    `json:"hash"`
				Topics    []string  `json:"topics"`
			}{it.ID, it.Source, it.Identity, it.Link, it.Title, it.Summary, it.Published, it.Updated, it.FirstSeen, it.Hash, it.Topics})
			if err != nil {
				return err
			}
			k := itemKey(it.Source, it.ID)
			if err := tx.Bucket(bucketItems).Put(k, b); err != nil {
				return err
			}
			if err := tx.Bucket(bucketPublished).Put(indexKey(it.Published, k), nil); err != nil {
				return err
			}
			if err := tb.Put(indexKey(it.Published, k), nil); err != nil {
				return err
			}
			counts[it.Source]++
		}
		for src, n := range counts {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], n)
			if err := tx.Bucket(bucketCounts).Put([]byte(src), b[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}

	// Read-only, it cannot migrate: items read, stories refuse.
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.TopicStories(ctx, "hr", 0); !errors.Is(err, ErrOldSchema) {
		t.Errorf("TopicStories on an unmigrated read-only database: %v, want ErrOldSchema", err)
	}
	if _, err := ro.Item(ctx, "xinhua", "urn:uuid:xinhua-1"); err != nil {
		t.Errorf("Item on an unmigrated read-only database: %v", err)
	}
	ro.Close()

	db := openAt(t, path, Options{}) // cleanup checks every index
	var version []byte
	_ = db.bolt.View(func(tx *bolt.Tx) error { version = slices.Clone(tx.Bucket(bucketMeta).Get(keySchema)); return nil })
	if string(version) != "\x00\x00\x00\x06" {
		t.Errorf("schema after migration %x", version)
	}
	stories := topicStories(t, db, "hr", 0)
	want := []string{"urn:uuid:globaltimes-1", "urn:uuid:chinadaily-1", "urn:uuid:cgtn-1", "urn:uuid:xinhua-1"}
	if got := storyIDs(stories); !slices.Equal(got, want) {
		t.Errorf("hr after migration = %v, want %v", got, want)
	}
	gt, err := db.Item(ctx, "globaltimes", "urn:uuid:globaltimes-1")
	if err != nil {
		t.Fatal(err)
	}
	if gt.StoryID != gt.ID || gt.Keys.Link != "news.cn/english/2021-12/10/c_1310364158.htm" || gt.Keys.Title == "" || len(gt.Keys.Bands) == 0 {
		t.Errorf("migrated item: story %q keys %+v", gt.StoryID, gt.Keys)
	}
	// A new copy now finds the migrated items through the indexes.
	m := aggregator.NewStoryMerger(seedSources())
	late := aggregator.Item{ID: "urn:uuid:late", Source: "globaltimes", Identity: "late",
		Link: "https://www.news.cn/english/2021-12/10/c_1310364158.htm?utm_campaign=x", Title: "x", Hash: "h", Published: t0}
	if _, err := db.SaveFeed(ctx, storyFeed(m, t0, nil, "globaltimes", late)); err != nil {
		t.Fatal(err)
	}
	got, _ := db.Item(ctx, "globaltimes", "urn:uuid:late")
	if got.StoryID != "urn:uuid:xinhua-1" || got.MergedBy != aggregator.MergedByLink {
		t.Errorf("late copy story %q by %q, want xinhua's by link", got.StoryID, got.MergedBy)
	}
}

// saveMigrationStories stores six one-item stories over four days, not
// in order of time, in topics go (all) and rust (a and b), for the
// migration tests. It returns the items' times and what each topic lists.
func saveMigrationStories(t *testing.T, db *DB) (items map[string]time.Time, lists map[string][]string) {
	t.Helper()
	day := t0.Truncate(topicDay)
	items = map[string]time.Time{
		"a": day.Add(-30 * time.Hour), "b": day.Add(2 * time.Hour), "c": day.Add(9 * time.Hour),
		"d": day.Add(2 * time.Hour), "e": day.Add(-3 * time.Hour), "f": day.Add(50 * time.Hour),
	}
	for _, id := range []string{"f", "c", "a", "e", "b", "d"} {
		topics := []string{"go"}
		if id < "c" {
			topics = append(topics, "rust")
		}
		if _, err := db.SaveFeed(context.Background(), feed("src-"+id, mkItem(id, items[id], "h", topics...))); err != nil {
			t.Fatal(err)
		}
	}
	lists = map[string][]string{}
	for _, topic := range []string{"go", "rust"} {
		lists[topic] = storyIDs(topicStories(t, db, topic, 0))
	}
	return items, lists
}

// checkTopicLists checks that each topic of want lists its stories in
// db, for every limit up to their number (0 for all).
func checkTopicLists(t *testing.T, db *DB, want map[string][]string, when string) {
	t.Helper()
	for topic, ids := range want {
		for limit := 0; limit <= len(ids); limit++ {
			wantIDs := ids
			if limit > 0 {
				wantIDs = ids[:limit]
			}
			if got := storyIDs(topicStories(t, db, topic, limit)); !slices.Equal(got, wantIDs) {
				t.Errorf("%s %s, limit %d = %v, want %v", topic, when, limit, got, wantIDs)
			}
		}
	}
}

// TestMigrateV3 opens a schema 3 store (topic indexes keyed by time,
// stories unnumbered): read-only it lists topics by time; writable, it
// numbers every story in order of publication and rekeys the indexes
// (the cleanup checks every entry and count), and the topics list the
// same stories in the same order.
func TestMigrateV3(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	db := openAt(t, path, Options{Now: func() time.Time { return t0 }})
	items, want := saveMigrationStories(t, db)
	rewriteAs(t, db, 3, func(tx *bolt.Tx) error {
		return unnumberStories(tx)
	})

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	checkTopicLists(t, ro, want, "on the unmigrated read-only store")
	ro.Close()

	db = openAt(t, path, Options{Now: func() time.Time { return t0 }})
	checkTopicLists(t, db, want, "after migration")
	// Numbered in order of publication: oldest first.
	err = db.bolt.View(func(tx *bolt.Tx) error {
		var prev time.Time
		for seq := uint64(1); seq <= uint64(len(items)); seq++ {
			found := false
			err := tx.Bucket(bucketStories).ForEach(func(k, v []byte) error {
				r, err := decodeStory(v)
				if err != nil || r.Seq != seq {
					return err
				}
				found = true
				pub, _, _ := r.derived()
				if pub.Before(prev) {
					t.Errorf("story %q numbered %d is older than number %d", k, seq, seq-1)
				}
				prev = pub
				return nil
			})
			if err != nil {
				return err
			}
			if !found {
				t.Errorf("no story numbered %d", seq)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := db.TopicItemCount(ctx, "rust"); err != nil || n != 2 {
		t.Errorf("TopicItemCount(rust) after migration = %d, %v; want 2", n, err)
	}
}

// TestMigrateV5 opens a schema 5 store (topic indexes valued with each
// story's time, no story order index): read-only it lists topics as
// before; writable, it builds the story order index and rekeys the topic
// indexes (the cleanup checks every entry and count), and the topics list
// the same stories in the same order, also after a story's time moves. A
// story record that cannot be read, or one without a number, fails the
// migration, naming the story, and leaves the store at schema 5.
func TestMigrateV5(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v5.db")
	db := openAt(t, path, Options{Now: func() time.Time { return t0 }})
	day := t0.Truncate(topicDay)
	_, want := saveMigrationStories(t, db)
	if !slices.Equal(want["go"], []string{"f", "c", "d", "b", "e", "a"}) {
		t.Fatalf("go before the rewrite = %v", want["go"])
	}
	rewriteAs(t, db, 5, unorderStories)

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if ro.schema != 5 {
		t.Errorf("read-only open: schema %d, want 5", ro.schema)
	}
	checkTopicLists(t, ro, want, "on the unmigrated read-only store")
	ro.Close()

	db = openAt(t, path, Options{Now: func() time.Time { return t0 }}) // cleanup checks every index
	if db.schema != schemaVersion {
		t.Errorf("schema after migration %d", db.schema)
	}
	checkTopicLists(t, db, want, "after migration")
	if n, err := db.TopicItemCount(ctx, "rust"); err != nil || n != 2 {
		t.Errorf("TopicItemCount(rust) after migration = %d, %v; want 2", n, err)
	}
	// The migrated entries are kept up: d moves before c within its
	// day, a to the latest day.
	for id, at := range map[string]time.Time{"d": day.Add(10 * time.Hour), "a": day.Add(60 * time.Hour)} {
		if _, err := db.SaveFeed(ctx, feed("src-"+id, mkItem(id, at, "h", "go", "rust"))); err != nil {
			t.Fatal(err)
		}
	}
	if got, wantIDs := storyIDs(topicStories(t, db, "go", 0)), []string{"a", "f", "d", "c", "b", "e"}; !slices.Equal(got, wantIDs) {
		t.Errorf("go after moves = %v, want %v", got, wantIDs)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A story record that cannot be read, or a story without a number
	// (which only a damaged store holds), fails the migration.
	for _, tt := range []struct {
		name, want string
		damage     func(r *storyRecord) []byte
	}{
		{"corrupt", `story "b"`, func(*storyRecord) []byte { return []byte{codecBinary, 0xff} }},
		{"unnumbered", `story "b" has no sequence number`, func(r *storyRecord) []byte {
			r.Seq = 0
			b, _ := encodeStory(r)
			return b
		}},
	} {
		path := filepath.Join(t.TempDir(), tt.name+".db")
		db := openAt(t, path, Options{Now: func() time.Time { return t0 }})
		saveMigrationStories(t, db)
		rewriteAs(t, db, 5, func(tx *bolt.Tx) error {
			if err := unorderStories(tx); err != nil {
				return err
			}
			r, err := getStory(tx, "b")
			if err != nil {
				return err
			}
			return tx.Bucket(bucketStories).Put([]byte("b"), tt.damage(r))
		})
		if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "migrate schema 5 to 6") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open of a store with a %s story: %v, want the migration's error with %q", tt.name, err, tt.want)
		}
		ro, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if ro.schema != 5 {
			t.Errorf("%s: the failed migration left schema %d", tt.name, ro.schema)
		}
		err = ro.bolt.View(func(tx *bolt.Tx) error {
			if tx.Bucket(bucketStoryOrder) != nil {
				return errors.New("the failed migration left a story order index")
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		ro.Close()
	}
}

// TestTopicIndexCorruptStories: a story record that cannot be decoded
// fails schema 4's migration, naming the story, and leaves the store as
// it was; a story without a number (which only a damaged store holds)
// fails a topic rebuild instead of being indexed wrongly; a malformed
// topic index entry, or a story order entry missing or malformed, fails
// the listing instead of listing a wrong story.
func TestTopicIndexCorruptStories(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "corrupt.db")
	db := openAt(t, path, Options{Now: func() time.Time { return t0 }})
	for _, id := range []string{"a", "b"} {
		if _, err := db.SaveFeed(ctx, feed("src-"+id, mkItem(id, t0, "h", "go"))); err != nil {
			t.Fatal(err)
		}
	}
	rewriteAs(t, db, 3, func(tx *bolt.Tx) error {
		if err := unnumberStories(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketStories).Put([]byte("b"), []byte{codecBinary, 0xff})
	})
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "migrate schema 3 to 4") || !strings.Contains(err.Error(), `story "b"`) {
		t.Errorf("Open of a store with a corrupt story: %v, want the migration's error naming the story", err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if ro.schema != 3 {
		t.Errorf("the failed migration left schema %d", ro.schema)
	}
	ro.Close()

	db = openTestDB(t)
	if _, err := db.SaveFeed(ctx, feed("src", mkItem("c", t0, "h", "go"))); err != nil {
		t.Fatal(err)
	}
	// number rewrites story c's record with seq as its number.
	number := func(seq uint64) {
		t.Helper()
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			r, err := getStory(tx, "c")
			if err != nil {
				return err
			}
			r.Seq = seq
			b, err := encodeStory(r)
			if err != nil {
				return err
			}
			return tx.Bucket(bucketStories).Put([]byte("c"), b)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	number(0)
	all := aggregator.TopicMembership{Name: "all", Fingerprint: "1", Match: func(*aggregator.Item) bool { return true }}
	if _, err := db.SyncTopics(ctx, []aggregator.TopicMembership{all}, nil); err == nil || !strings.Contains(err.Error(), "no sequence number") {
		t.Errorf("SyncTopics over an unnumbered story: %v, want an error", err)
	}
	// The store is damaged on purpose: put the number back for the
	// cleanup's index check.
	number(1)

	// A topic index entry without a story number or time fails the
	// listing, naming the entry, rather than listing a wrong story.
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		return topicBucket(tx, "go").Put([]byte("short"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.TopicStories(ctx, "go", 10); err == nil || !strings.Contains(err.Error(), `malformed topic index key 73686f7274`) {
		t.Errorf("TopicStories over a malformed entry: %v, want an error", err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error { return topicBucket(tx, "go").Delete([]byte("short")) })
	if err != nil {
		t.Fatal(err)
	}

	// A story order entry that is missing or too short fails the listing
	// too, naming the story's number.
	var saved []byte
	for _, tt := range []struct {
		name, want string
		change     func(b *bolt.Bucket) error
	}{
		{"missing", "story number 1, which the story order index lacks", func(b *bolt.Bucket) error { return b.Delete(storyOrderKey(1)) }},
		{"short", "malformed story order entry", func(b *bolt.Bucket) error { return b.Put(storyOrderKey(1), []byte("short")) }},
	} {
		err = db.bolt.Update(func(tx *bolt.Tx) error {
			saved = bytes.Clone(tx.Bucket(bucketStoryOrder).Get(storyOrderKey(1)))
			return tt.change(tx.Bucket(bucketStoryOrder))
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.TopicStories(ctx, "go", 10); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("TopicStories over a %s order entry: %v, want %q", tt.name, err, tt.want)
		}
		err = db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketStoryOrder).Put(storyOrderKey(1), saved) })
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestNormalizeTopics(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{nil, nil},
		{[]string{}, nil},
		{[]string{"a", "b", "c"}, []string{"a", "b", "c"}},
		{[]string{"c", "a", "b", "a"}, []string{"a", "b", "c"}},
		{[]string{"a", "a"}, []string{"a"}},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		if got := normalizeTopics(in); !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("normalizeTopics(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("normalizeTopics(%q) modified its input to %q", tt.in, in)
		}
	}
}

// TestStoryDerivedTopics: a story's topics are the sorted union of its
// members', whether it has one member or several.
func TestStoryDerivedTopics(t *testing.T) {
	member := func(topics ...string) storyMember { return storyMember{Source: "s", ID: "i", Topics: topics} }
	tests := []struct {
		name    string
		members []storyMember
		want    []string
	}{
		{"no member", nil, nil},
		{"one member", []storyMember{member("b", "c")}, []string{"b", "c"}},
		{"one member of an unsorted list", []storyMember{member("c", "b", "c")}, []string{"b", "c"}},
		{"members without topics", []storyMember{member(), member()}, nil},
		{"the union of several", []storyMember{member("b", "d"), member("a", "b"), member()}, []string{"a", "b", "d"}},
	}
	for _, tt := range tests {
		r := &storyRecord{Members: tt.members}
		before := slices.Clone(tt.members)
		for i := range before {
			before[i].Topics = slices.Clone(before[i].Topics)
		}
		if _, _, got := r.derived(); !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("%s: topics %q, want %q", tt.name, got, tt.want)
		}
		for i := range before {
			if !slices.Equal(before[i].Topics, r.Members[i].Topics) {
				t.Errorf("%s: derived modified member %d's topics to %q", tt.name, i, r.Members[i].Topics)
			}
		}
	}
}
