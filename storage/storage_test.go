package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	bolt "go.etcd.io/bbolt"
)

func TestSaveFeed(t *testing.T) {
	ctx := context.Background()
	t1 := t0.Add(-time.Hour)
	later := t0.Add(24 * time.Hour)
	tests := []struct {
		name      string
		before    []aggregator.Item // stored first, at t0
		incoming  []aggregator.Item // stored second, at later
		want      aggregator.SaveResult
		wantItem  aggregator.Item // the stored "a" afterwards (Published, FirstSeen, Updated, Hash, Topics)
		wantCount int
	}{
		{
			name:      "new items",
			incoming:  []aggregator.Item{mkItem("a", t1, "h1", "go"), mkItem("b", t1, "h1")},
			want:      aggregator.SaveResult{New: 2, ChangedTopics: []string{"go"}},
			wantItem:  aggregator.Item{Published: t1, FirstSeen: later, Updated: t1, Hash: "h1", Topics: []string{"go"}},
			wantCount: 2,
		},
		{
			name:      "unchanged items",
			before:    []aggregator.Item{mkItem("a", t1, "h1", "go"), mkItem("b", t1, "h1")},
			incoming:  []aggregator.Item{mkItem("a", t1, "h1", "go"), mkItem("b", t1, "h1")},
			want:      aggregator.SaveResult{Unchanged: 2},
			wantItem:  aggregator.Item{Published: t1, FirstSeen: t0, Updated: t1, Hash: "h1", Topics: []string{"go"}},
			wantCount: 2,
		},
		{
			name:      "changed item keeps FirstSeen",
			before:    []aggregator.Item{mkItem("a", t1, "h1", "go"), mkItem("b", t1, "h1")},
			incoming:  []aggregator.Item{mkItem("a", t1, "h2", "go"), mkItem("b", t1, "h1"), mkItem("c", t1, "h1", "rust")},
			want:      aggregator.SaveResult{New: 1, Updated: 1, Unchanged: 1, ChangedTopics: []string{"go", "rust"}},
			wantItem:  aggregator.Item{Published: t1, FirstSeen: t0, Updated: later, Hash: "h2", Topics: []string{"go"}},
			wantCount: 3,
		},
		{
			name:      "undated item keeps stored date",
			before:    []aggregator.Item{mkItem("a", time.Time{}, "h1")},
			incoming:  []aggregator.Item{mkItem("a", time.Time{}, "h1")},
			want:      aggregator.SaveResult{Unchanged: 1},
			wantItem:  aggregator.Item{Published: t0, FirstSeen: t0, Updated: t0, Hash: "h1"},
			wantCount: 1,
		},
		{
			name:      "topics deduplicated and sorted",
			incoming:  []aggregator.Item{mkItem("a", t1, "h1", "zed", "go", "zed")},
			want:      aggregator.SaveResult{New: 1, ChangedTopics: []string{"go", "zed"}},
			wantItem:  aggregator.Item{Published: t1, FirstSeen: later, Updated: t1, Hash: "h1", Topics: []string{"go", "zed"}},
			wantCount: 1,
		},
		{
			name:      "same item twice in one feed",
			incoming:  []aggregator.Item{mkItem("a", t1, "h1"), mkItem("a", t1, "h2")},
			want:      aggregator.SaveResult{New: 1, Updated: 1},
			wantItem:  aggregator.Item{Published: t1, FirstSeen: later, Updated: later, Hash: "h2"},
			wantCount: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			if tt.before != nil {
				if _, err := db.SaveFeed(ctx, feed("src", tt.before...)); err != nil {
					t.Fatal(err)
				}
			}
			up := feed("src", tt.incoming...)
			up.Reconcile = reconcileAt(later)
			got, err := db.SaveFeed(ctx, up)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SaveFeed = %+v, want %+v", got, tt.want)
			}
			a, err := db.Item(ctx, "src", "a")
			if err != nil {
				t.Fatal(err)
			}
			gotItem := aggregator.Item{Published: a.Published, FirstSeen: a.FirstSeen, Updated: a.Updated, Hash: a.Hash, Topics: a.Topics}
			if !reflect.DeepEqual(gotItem, tt.wantItem) {
				t.Errorf("stored a = %+v, want %+v", gotItem, tt.wantItem)
			}
			if a.ID != "a" || a.Source != "src" || a.Identity != "guid-a" {
				t.Errorf("stored a identity = %q/%q/%q", a.ID, a.Source, a.Identity)
			}
			st, err := db.SourceState(ctx, "src")
			if err != nil {
				t.Fatal(err)
			}
			if st.ItemCount != tt.wantCount || st.ETag != `"v1"` {
				t.Errorf("state = %+v, want ItemCount %d and the feed's ETag", st, tt.wantCount)
			}
			if pub, _ := keyCounts(t, db); pub != tt.wantCount {
				t.Errorf("retention index has %d keys, want %d", pub, tt.wantCount)
			}
		})
	}
}

func TestSaveFeedAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if err := db.SaveState(ctx, aggregator.SourceState{Source: "src", ETag: `"old"`}); err != nil {
		t.Fatal(err)
	}
	up := feed("src", mkItem("a", t0, "h", "go"), mkItem("b", t0, "h", "go"), mkItem("c", time.Time{}, "h", "go"), mkItem("d", t0, "h"))
	up.Reconcile = func(_, in *aggregator.Item) bool { return true } // leaves c undated
	_, err := db.SaveFeed(ctx, up)
	if err == nil || !strings.Contains(err.Error(), `"c"`) || !strings.HasPrefix(err.Error(), `storage: save feed "src": `) {
		t.Fatalf("SaveFeed error = %v, want one naming item c", err)
	}
	n := 0
	if err := db.Items(ctx, func(*aggregator.Item) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d items stored, want 0", n)
	}
	if pub, topics := keyCounts(t, db); pub != 0 || len(topics) != 0 {
		t.Errorf("indexes after rollback: published %d, topics %v", pub, topics)
	}
	st, err := db.SourceState(ctx, "src")
	if err != nil {
		t.Fatal(err)
	}
	if st.ETag != `"old"` || st.ItemCount != 0 {
		t.Errorf("state after rollback = %+v, want the old one", st)
	}
}

func TestSaveFeedRejects(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		update func() aggregator.FeedUpdate
	}{
		{"nil reconcile", func() aggregator.FeedUpdate { u := feed("src", mkItem("a", t0, "h")); u.Reconcile = nil; return u }},
		{"empty source", func() aggregator.FeedUpdate { u := feed("src", mkItem("a", t0, "h")); u.Source = ""; return u }},
		{"empty ID", func() aggregator.FeedUpdate { return feed("src", mkItem("", t0, "h")) }},
		{"foreign item", func() aggregator.FeedUpdate {
			u := feed("src", mkItem("a", t0, "h"))
			u.Items[0].Source = "other"
			return u
		}},
		{"empty topic", func() aggregator.FeedUpdate { return feed("src", mkItem("a", t0, "h", "")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTestDB(t)
			if _, err := db.SaveFeed(ctx, tt.update()); err == nil {
				t.Fatal("SaveFeed succeeded")
			}
		})
	}
}

func TestTopicStories(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	pre1970 := time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)
	_, err := db.SaveFeed(ctx, feed("src",
		mkItem("old", pre1970, "h", "go"),
		mkItem("mid-1", t0, "h", "go"),
		mkItem("new", t0.Add(time.Hour), "h", "go"),
		mkItem("mid-2", t0, "h", "go"),
		mkItem("epoch", time.Unix(0, 0), "h", "go"),
		mkItem("other", t0.Add(2*time.Hour), "h", "rust"),
	))
	if err != nil {
		t.Fatal(err)
	}
	// A second source with a tie at t0: ties order by item key, descending.
	if _, err := db.SaveFeed(ctx, feed("a-src", mkItem("mid-0", t0, "h", "go"))); err != nil {
		t.Fatal(err)
	}
	all := []string{"new", "mid-2", "mid-1", "mid-0", "epoch", "old"}
	tests := []struct {
		name  string
		topic string
		limit int
		want  []string
	}{
		{"all with zero limit", "go", 0, all},
		{"all with negative limit", "go", -1, all},
		{"limit", "go", 2, all[:2]},
		{"limit above size", "go", 100, all},
		{"other topic", "rust", 0, []string{"other"}},
		{"unknown topic", "nope", 10, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stories, err := db.TopicStories(ctx, tt.topic, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if stories == nil {
				t.Fatal("TopicStories returned nil slice")
			}
			if got := storyIDs(stories); !slices.Equal(got, tt.want) {
				t.Errorf("TopicStories = %v, want %v", got, tt.want)
			}
			for _, s := range stories {
				if len(s.Members) != 1 || s.Members[0].ID != s.ID || !s.Published.Equal(s.Members[0].Published) {
					t.Errorf("story %q = %+v, want its one item", s.ID, s)
				}
			}
		})
	}
	for topic, want := range map[string]int{"go": 6, "rust": 1, "nope": 0} {
		if n, err := db.TopicItemCount(ctx, topic); err != nil || n != want {
			t.Errorf("TopicItemCount(%q) = %d, %v; want %d", topic, n, err, want)
		}
	}
}

// TestTopicIndexFollowsPublished moves a story's Published within its
// day (its topic index entry keeps its key, its story order entry orders
// it) and across days (the topic entry moves), and checks the order of the
// topic after each.
func TestTopicIndexFollowsPublished(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t) // its cleanup checks every index entry and value
	day := t0.Truncate(topicDay)
	save := func(id string, at time.Time) {
		t.Helper()
		if _, err := db.SaveFeed(ctx, feed("src-"+id, mkItem(id, at, "h", "go"))); err != nil {
			t.Fatal(err)
		}
	}
	save("a", day.Add(10*time.Hour))
	save("b", day.Add(12*time.Hour))
	save("c", day.Add(-12*time.Hour)) // the day before
	for _, step := range []struct {
		name string
		id   string
		at   time.Time
		want []string
	}{
		{"stored", "", time.Time{}, []string{"b", "a", "c"}},
		{"later within its day", "a", day.Add(14 * time.Hour), []string{"a", "b", "c"}},
		{"earlier within its day", "a", day.Add(time.Hour), []string{"b", "a", "c"}},
		{"to the day before", "b", day.Add(-2 * time.Hour), []string{"a", "b", "c"}},
		{"to the day after", "c", day.Add(30 * time.Hour), []string{"c", "a", "b"}},
		{"tie with another, greater ID first", "a", day.Add(30 * time.Hour), []string{"c", "a", "b"}},
	} {
		if step.id != "" {
			save(step.id, step.at)
		}
		for limit := 1; limit <= 3; limit++ {
			if got := storyIDs(topicStories(t, db, "go", limit)); !slices.Equal(got, step.want[:limit]) {
				t.Errorf("%s: TopicStories(%d) = %v, want %v", step.name, limit, got, step.want[:limit])
			}
		}
	}
}

// TestTopicKeyDay: a story whose Published moves into an earlier day
// keeps its topic index entries on the day they name (its record counts
// the days between); TopicStories still lists every story in order of
// Published, for every limit, as the story waits for its day among
// stories of the days in between. Published moving after the key day
// moves the entries to its day.
func TestTopicKeyDay(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t) // its cleanup checks every index entry and key day
	day := t0.Truncate(topicDay)
	save := func(id string, at time.Time) {
		t.Helper()
		if _, err := db.SaveFeed(ctx, feed("src-"+id, mkItem(id, at, "h", "go"))); err != nil {
			t.Fatal(err)
		}
	}
	keyLag := func(id string) uint64 {
		t.Helper()
		var lag uint64
		err := db.bolt.View(func(tx *bolt.Tx) error {
			r, err := getStory(tx, id)
			if err == nil && r == nil {
				err = fmt.Errorf("no story %q", id)
			}
			if err == nil {
				lag = r.KeyLag
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return lag
	}
	save("x", day.Add(20*time.Hour))
	save("y", day.Add(3*time.Hour))
	save("z", day.Add(-14*time.Hour)) // the day before
	save("w", day.Add(-47*time.Hour)) // two days before
	for _, step := range []struct {
		name string
		id   string
		at   time.Time
		lag  uint64 // of x
		want []string
	}{
		{"stored", "", time.Time{}, 0, []string{"x", "y", "z", "w"}},
		{"two days earlier", "x", day.Add(-43 * time.Hour), 2, []string{"y", "z", "x", "w"}},
		{"one day earlier than stored", "x", day.Add(-10 * time.Hour), 1, []string{"y", "x", "z", "w"}},
		{"before every other", "x", day.Add(-70 * time.Hour), 3, []string{"y", "z", "w", "x"}},
		{"back on its key day", "x", day.Add(time.Hour), 0, []string{"y", "x", "z", "w"}},
		{"after its key day", "x", day.Add(26 * time.Hour), 0, []string{"x", "y", "z", "w"}},
		{"earlier again, a tie with y, greater ID first", "x", day.Add(3 * time.Hour), 1, []string{"y", "x", "z", "w"}},
	} {
		if step.id != "" {
			save(step.id, step.at)
		}
		if lag := keyLag("x"); lag != step.lag {
			t.Errorf("%s: x's key lag %d days, want %d", step.name, lag, step.lag)
		}
		for limit := 0; limit <= 4; limit++ {
			want := step.want
			if limit > 0 {
				want = want[:limit]
			}
			if got := storyIDs(topicStories(t, db, "go", limit)); !slices.Equal(got, want) {
				t.Errorf("%s: TopicStories(%d) = %v, want %v", step.name, limit, got, want)
			}
		}
	}
	// A key lag longer than maxKeyLag moves the entries instead.
	save("y", day.Add(-(maxKeyLag+2)*topicDay))
	if lag := keyLag("y"); lag != 0 {
		t.Errorf("y moved back %d days: key lag %d, want 0", maxKeyLag+2, lag)
	}
	if got, want := storyIDs(topicStories(t, db, "go", 0)), []string{"x", "z", "w", "y"}; !slices.Equal(got, want) {
		t.Errorf("after y moved far back: %v, want %v", got, want)
	}
}

func TestItemMovesBetweenTopics(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if _, err := db.SaveFeed(ctx, feed("src", mkItem("a", t0, "h1", "go", "rust"), mkItem("b", t0, "h1", "go"))); err != nil {
		t.Fatal(err)
	}
	// a leaves rust, stays in go, joins zig, and its date changes.
	moved := t0.Add(-48 * time.Hour)
	res, err := db.SaveFeed(ctx, feed("src", mkItem("a", moved, "h2", "go", "zig"), mkItem("b", t0, "h1", "go")))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"go", "rust", "zig"}; !slices.Equal(res.ChangedTopics, want) {
		t.Errorf("ChangedTopics = %v, want %v", res.ChangedTopics, want)
	}
	pub, topics := keyCounts(t, db)
	if pub != 2 {
		t.Errorf("retention index has %d keys, want 2", pub)
	}
	if want := map[string]int{"go": 2, "rust": 0, "zig": 1}; !reflect.DeepEqual(topics, want) {
		t.Errorf("topic index sizes = %v, want %v", topics, want)
	}
	goStories := topicStories(t, db, "go", 0)
	if got := storyIDs(goStories); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("go = %v, want [b a] (a moved back in time)", got)
	}
	if !goStories[1].Published.Equal(moved) {
		t.Errorf("a.Published = %v, want %v", goStories[1].Published, moved)
	}

	// Only the topic list changes: one topic rewritten, one lost.
	res, err = db.SaveFeed(ctx, feed("src", mkItem("a", moved, "h2", "go")))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"go", "zig"}; !slices.Equal(res.ChangedTopics, want) {
		t.Errorf("ChangedTopics = %v, want %v", res.ChangedTopics, want)
	}
	if _, topics := keyCounts(t, db); topics["go"] != 2 || topics["zig"] != 0 {
		t.Errorf("topic index sizes = %v", topics)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	now := t0
	db := openAt(t, filepath.Join(t.TempDir(), "db"), Options{Now: func() time.Time { return now }})
	old1, old2, fresh := t0.Add(-40*24*time.Hour), t0.Add(-31*24*time.Hour), t0.Add(-time.Hour)
	items := func() []aggregator.Item {
		return []aggregator.Item{mkItem("old1", old1, "h", "go"), mkItem("old2", old2, "h", "rust"), mkItem("fresh", fresh, "h", "go")}
	}
	if _, err := db.SaveFeed(ctx, feed("src", items()...)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SaveFeed(ctx, feed("other", mkItem("x", old1, "h"))); err != nil {
		t.Fatal(err)
	}

	deleted := t0.Add(-10 * 24 * time.Hour) // when this prune runs
	now = deleted
	res, err := db.Prune(ctx, t0.Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := (aggregator.PruneResult{Items: 3, ChangedTopics: []string{"go", "rust"}}); !reflect.DeepEqual(res, want) {
		t.Errorf("Prune = %+v, want %+v", res, want)
	}
	if _, err := db.Item(ctx, "src", "old1"); !errors.Is(err, aggregator.ErrNotFound) {
		t.Errorf("Item(old1) error = %v, want ErrNotFound", err)
	}
	pub, topics := keyCounts(t, db)
	if pub != 1 || topics["go"] != 1 || topics["rust"] != 0 {
		t.Errorf("indexes after prune: published %d, topics %v", pub, topics)
	}
	states, err := db.SourceStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0].Source != "other" || states[0].ItemCount != 0 || states[1].ItemCount != 1 {
		t.Errorf("states after prune = %+v", states)
	}

	// The feed still carries the pruned items: tombstones keep them out.
	save, err := db.SaveFeed(ctx, feed("src", items()...))
	if err != nil {
		t.Fatal(err)
	}
	if want := (aggregator.SaveResult{Unchanged: 1, Tombstoned: 2}); !reflect.DeepEqual(save, want) {
		t.Errorf("SaveFeed after prune = %+v, want %+v", save, want)
	}

	// A cutoff not past the tombstones' time keeps them.
	now = t0
	if _, err := db.Prune(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	if n := tombstoneCount(t, db); n != 3 {
		t.Errorf("%d tombstones, want 3", n)
	}
	// Retention moves past the deletion time: the tombstones go, and the
	// items may come back (until the next prune).
	if _, err := db.Prune(ctx, deleted.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := tombstoneCount(t, db); n != 0 {
		t.Errorf("%d tombstones, want 0", n)
	}
	save, err = db.SaveFeed(ctx, feed("src", items()...))
	if err != nil {
		t.Fatal(err)
	}
	if want := (aggregator.SaveResult{New: 2, Unchanged: 1, ChangedTopics: []string{"go", "rust"}}); !reflect.DeepEqual(save, want) {
		t.Errorf("SaveFeed after tombstones dropped = %+v, want %+v", save, want)
	}
}

func tombstoneCount(t *testing.T, db *DB) int {
	t.Helper()
	n := 0
	err := db.bolt.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucketTombstones).Stats().KeyN; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSyncTopics(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	// Stored before any topic was configured: "stale" is named by items only.
	_, err := db.SaveFeed(ctx, feed("src",
		mkItem("go-1", t0, "h", "stale"), mkItem("go-2", t0.Add(time.Minute), "h"), mkItem("rust-1", t0, "h")))
	if err != nil {
		t.Fatal(err)
	}
	titled := func(word string) func(*aggregator.Item) bool {
		return func(it *aggregator.Item) bool { return strings.HasPrefix(it.ID, word) }
	}
	goT := aggregator.TopicMembership{Name: "go", Fingerprint: "q=go", Match: titled("go")}
	rustT := aggregator.TopicMembership{Name: "rust", Fingerprint: "q=rust", Match: titled("rust")}
	// goAll matches every item under go's fingerprint: as if a source's
	// tags now let rust-1 in. Only a rematch shows it.
	goAll := aggregator.TopicMembership{Name: "go", Fingerprint: "q=go", Match: func(*aggregator.Item) bool { return true }}
	src := aggregator.SourceMembership{Name: "src", Description: "|0"}
	other := aggregator.SourceMembership{Name: "other", Description: "|0"}
	retagged := aggregator.SourceMembership{Name: "src", Description: "wire|0"}

	steps := []struct {
		name       string
		topics     []aggregator.TopicMembership
		sources    []aggregator.SourceMembership
		want       []string
		wantTopics map[string][]string // item ID → stored Topics
		wantIndex  map[string]int
	}{
		{
			name:       "first sync rebuilds all and drops unknown",
			topics:     []aggregator.TopicMembership{rustT, goT},
			want:       []string{"go", "rust", "stale"},
			wantTopics: map[string][]string{"go-1": {"go"}, "go-2": {"go"}, "rust-1": {"rust"}},
			wantIndex:  map[string]int{"go": 2, "rust": 1},
		},
		{
			name:       "same fingerprints do nothing",
			topics:     []aggregator.TopicMembership{goT, rustT},
			want:       nil,
			wantTopics: map[string][]string{"go-1": {"go"}, "go-2": {"go"}, "rust-1": {"rust"}},
			wantIndex:  map[string]int{"go": 2, "rust": 1},
		},
		{
			name: "changed fingerprint rebuilds that topic",
			topics: []aggregator.TopicMembership{goT, {Name: "rust", Fingerprint: "q=rust OR go-2",
				Match: func(it *aggregator.Item) bool { return titled("rust")(it) || it.ID == "go-2" }}},
			want:       []string{"rust"},
			wantTopics: map[string][]string{"go-1": {"go"}, "go-2": {"go", "rust"}, "rust-1": {"rust"}},
			wantIndex:  map[string]int{"go": 2, "rust": 2},
		},
		{
			name:       "removed topic is dropped",
			topics:     []aggregator.TopicMembership{goT},
			want:       []string{"rust"},
			wantTopics: map[string][]string{"go-1": {"go"}, "go-2": {"go"}, "rust-1": nil},
			wantIndex:  map[string]int{"go": 2},
		},
		{
			name:       "sources described for the first time rematch nothing",
			topics:     []aggregator.TopicMembership{goAll},
			sources:    []aggregator.SourceMembership{src},
			want:       nil,
			wantTopics: map[string][]string{"go-1": {"go"}, "go-2": {"go"}, "rust-1": nil},
			wantIndex:  map[string]int{"go": 2},
		},
		{
			name:       "an added source rematches nothing",
			topics:     []aggregator.TopicMembership{goAll},
			sources:    []aggregator.SourceMembership{src, other},
			want:       nil,
			wantTopics: map[string][]string{"go-1": {"go"}, "go-2": {"go"}, "rust-1": nil},
			wantIndex:  map[string]int{"go": 2},
		},
		{
			name:       "a removed source rematches nothing",
			topics:     []aggregator.TopicMembership{goAll},
			sources:    []aggregator.SourceMembership{other},
			want:       nil,
			wantTopics: map[string][]string{"go-1": {"go"}, "go-2": {"go"}, "rust-1": nil},
			wantIndex:  map[string]int{"go": 2},
		},
		{
			name:       "a known source described otherwise rematches every topic",
			topics:     []aggregator.TopicMembership{goAll},
			sources:    []aggregator.SourceMembership{other, retagged},
			want:       []string{"go"},
			wantTopics: map[string][]string{"go-1": {"go"}, "go-2": {"go"}, "rust-1": {"go"}},
			wantIndex:  map[string]int{"go": 3},
		},
		{
			name:       "and then it is in sync",
			topics:     []aggregator.TopicMembership{goAll},
			sources:    []aggregator.SourceMembership{other, retagged},
			want:       nil,
			wantTopics: map[string][]string{"go-1": {"go"}, "go-2": {"go"}, "rust-1": {"go"}},
			wantIndex:  map[string]int{"go": 3},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := db.SyncTopics(ctx, st.topics, st.sources)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, st.want) {
				t.Errorf("SyncTopics = %v, want %v", got, st.want)
			}
			gotTopics := map[string][]string{}
			err = db.Items(ctx, func(it *aggregator.Item) error { gotTopics[it.ID] = it.Topics; return nil })
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotTopics, st.wantTopics) {
				t.Errorf("item topics = %v, want %v", gotTopics, st.wantTopics)
			}
			if _, idx := keyCounts(t, db); !reflect.DeepEqual(idx, st.wantIndex) {
				t.Errorf("topic indexes = %v, want %v", idx, st.wantIndex)
			}
		})
	}

	// rust-1 and go-1 share their time: the later stored comes first.
	if got := storyIDs(topicStories(t, db, "go", 0)); !slices.Equal(got, []string{"go-2", "rust-1", "go-1"}) {
		t.Errorf("rebuilt go index order = %v", got)
	}
	if _, err := db.SyncTopics(ctx, []aggregator.TopicMembership{goT, goT}, nil); err == nil {
		t.Error("duplicate topic accepted")
	}
	if _, err := db.SyncTopics(ctx, []aggregator.TopicMembership{goT}, []aggregator.SourceMembership{{Description: "|0"}}); err == nil {
		t.Error("source without a name accepted")
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "tributary.db")
	holder := openAt(t, path, Options{})
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o750 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("mode of %s = %v, want %v", p, fi.Mode(), want)
		}
	}

	const timeout = 200 * time.Millisecond
	start := time.Now()
	db2, err := Open(path, Options{Timeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		db2.Close()
		t.Fatal("second Open succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("error %v does not match ErrLocked", err)
	}
	if want := fmt.Sprintf("storage: database %s is in use by another tributary process", path); err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	// bbolt gives up one retry interval (50ms) early.
	if elapsed < timeout/2 || elapsed > timeout+time.Second {
		t.Errorf("Open returned after %v, want about %v", elapsed, timeout)
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	openAt(t, path, Options{Timeout: timeout}) // free again
}

func TestOpenSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tributary.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if db.Path() != path {
		t.Errorf("Path() = %q", db.Path())
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keySchema); string(v) != "\x00\x00\x00\x06" {
			return fmt.Errorf("schema record = %x", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Pretend a newer tributary wrote it.
	err = db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte{0, 0, 0, 7}) })
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open error = %v, want ErrNewerSchema", err)
	}
	if !strings.Contains(err.Error(), "schema version 7") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the version and path", err)
	}
	// The refused open must not hold the lock.
	db, err = Open(path, Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("reopen error = %v, want ErrNewerSchema", err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tributary.db")
	db := openAt(t, path, Options{Now: func() time.Time { return t0 }})
	full := mkItem("a", t0.Add(-time.Hour), "h", "go")
	full.Summary, full.Content = "<p>sum</p>", "<p>body</p>"
	full.Authors, full.Categories = []string{"Ann"}, []string{"news", "tech"}
	full.Updated = t0.Add(-30 * time.Minute)
	up := feed("src", full, mkItem("b", t0, "h"))
	up.State.NextPoll, up.State.ConsecutiveFailures, up.State.LastModified = t0.Add(time.Hour), 2, "Sat, 01 Mar 2025 11:00:00 GMT"
	if _, err := db.SaveFeed(ctx, up); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SyncTopics(ctx, []aggregator.TopicMembership{{Name: "go", Fingerprint: "1", Match: func(it *aggregator.Item) bool { return it.ID == "a" }}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Prune(ctx, t0.Add(-30*time.Minute)); err != nil { // tombstones "a"
		t.Fatal(err)
	}
	if _, err := db.SaveFeed(ctx, feed("src", full)); err != nil {
		t.Fatal(err)
	}
	wantB, err := db.Item(ctx, "src", "b")
	if err != nil {
		t.Fatal(err)
	}
	wantStates, err := db.SourceStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, path, Options{})
	gotB, err := db.Item(ctx, "src", "b")
	if err != nil || !reflect.DeepEqual(gotB, wantB) {
		t.Errorf("after reopen Item(b) = %+v, %v; want %+v", gotB, err, wantB)
	}
	gotStates, err := db.SourceStates(ctx)
	if err != nil || !reflect.DeepEqual(gotStates, wantStates) {
		t.Errorf("after reopen states = %+v, %v; want %+v", gotStates, err, wantStates)
	}
	// Topic fingerprint kept: nothing to rebuild.
	names, err := db.SyncTopics(ctx, []aggregator.TopicMembership{{Name: "go", Fingerprint: "1", Match: func(*aggregator.Item) bool { return true }}}, nil)
	if err != nil || names != nil {
		t.Errorf("SyncTopics after reopen = %v, %v; want nothing rebuilt", names, err)
	}
	// Tombstone kept.
	res, err := db.SaveFeed(ctx, feed("src", full))
	if err != nil || res.Tombstoned != 1 {
		t.Errorf("SaveFeed after reopen = %+v, %v; want a tombstoned item", res, err)
	}
}

func TestItemFullRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	in := aggregator.Item{
		ID: "urn:uuid:1", Source: "src", Identity: "guid", Link: "https://example.org/1",
		Title: "T", Summary: "S", Content: "C", Authors: []string{"a", "b"}, Categories: []string{"c"},
		Published: t0.Add(-time.Hour), Updated: t0, Hash: "h", Topics: []string{"go"},
	}
	if _, err := db.SaveFeed(ctx, feed("src", in)); err != nil {
		t.Fatal(err)
	}
	got, err := db.Item(ctx, "src", "urn:uuid:1")
	if err != nil {
		t.Fatal(err)
	}
	in.FirstSeen = t0
	in.StoryID = in.ID // without a Cluster hook, every item is a story of its own
	if !reflect.DeepEqual(got, in) {
		t.Errorf("Item = %+v\nwant   %+v", got, in)
	}
	if _, err := db.Item(ctx, "src", "missing"); !errors.Is(err, aggregator.ErrNotFound) {
		t.Errorf("missing item error = %v, want ErrNotFound", err)
	}
	// An ID that starts like another source's key must not collide.
	if _, err := db.Item(ctx, "sr", "c\x00urn:uuid:1"); !errors.Is(err, aggregator.ErrNotFound) {
		t.Errorf("crafted key error = %v, want ErrNotFound", err)
	}
}

func TestSourceState(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	st, err := db.SourceState(ctx, "never")
	if err != nil || !reflect.DeepEqual(st, aggregator.SourceState{Source: "never"}) {
		t.Errorf("SourceState(never) = %+v, %v", st, err)
	}
	if _, err := db.SaveFeed(ctx, feed("src", mkItem("a", t0, "h"))); err != nil {
		t.Fatal(err)
	}
	// SaveState ignores ItemCount and keeps the stored count.
	want := aggregator.SourceState{
		Source: "src", LastError: "boom", ConsecutiveFailures: 3, LastPolled: t0, ItemCount: 42,
		NextPoll: t0.Add(time.Hour), Disabled: true, PermanentRedirect: "https://new.example/feed",
		ConfigURL: "https://old.example/feed", RetryAfter: t0.Add(2 * time.Hour), MinInterval: 30 * time.Minute,
	}
	if err := db.SaveState(ctx, want); err != nil {
		t.Fatal(err)
	}
	want.ItemCount = 1
	if st, err := db.SourceState(ctx, "src"); err != nil || !reflect.DeepEqual(st, want) {
		t.Errorf("SourceState = %+v, %v; want %+v", st, err, want)
	}
	if err := db.SaveState(ctx, aggregator.SourceState{}); err == nil {
		t.Error("SaveState accepted an empty source")
	}
}

// TestSaveStates: SaveStates stores every state in one call, keeps the
// stored item count, and leaves a stored state that was polled later than
// the one it was given (or a state it could not decode, which it replaces).
func TestSaveStates(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if _, err := db.SaveFeed(ctx, feed("kept", mkItem("a", t0, "h"))); err != nil {
		t.Fatal(err)
	}
	newer := aggregator.SourceState{Source: "newer", ETag: `"v2"`, LastPolled: t0.Add(time.Hour), LastStatus: 200}
	if err := db.SaveState(ctx, newer); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveState(ctx, aggregator.SourceState{Source: "kept", LastPolled: t0.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStates).Put([]byte("garbled"), []byte{codecBinary, 0xff})
	}); err != nil {
		t.Fatal(err)
	}
	round := []aggregator.SourceState{
		{Source: "kept", ETag: `"k"`, LastPolled: t0, LastStatus: 304, NextPoll: t0.Add(time.Hour), ItemCount: 99},
		{Source: "fresh", LastPolled: t0, LastStatus: 304},
		{Source: "newer", ETag: `"v1"`, LastPolled: t0, LastStatus: 304},
		{Source: "garbled", LastPolled: t0, LastStatus: 304},
	}
	if err := db.SaveStates(ctx, round); err != nil {
		t.Fatal(err)
	}
	want := map[string]aggregator.SourceState{
		"kept":    {Source: "kept", ETag: `"k"`, LastPolled: t0, LastStatus: 304, NextPoll: t0.Add(time.Hour), ItemCount: 1},
		"fresh":   round[1],
		"newer":   newer,
		"garbled": round[3],
	}
	for name, w := range want {
		if st, err := db.SourceState(ctx, name); err != nil || !reflect.DeepEqual(st, w) {
			t.Errorf("SourceState(%s) = %+v, %v; want %+v", name, st, err, w)
		}
	}
	if err := db.SaveStates(ctx, []aggregator.SourceState{{Source: "ok", LastPolled: t0}, {}}); err == nil {
		t.Error("SaveStates accepted an empty source")
	}
	if st, err := db.SourceState(ctx, "ok"); err != nil || !st.LastPolled.IsZero() {
		t.Errorf("SaveStates refused a round but stored part of it: %+v, %v", st, err)
	}
	if err := db.SaveStates(ctx, nil); err != nil {
		t.Errorf("SaveStates(nil) = %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	db := openTestDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]func() error{
		"SourceState":    func() error { _, err := db.SourceState(ctx, "s"); return err },
		"SaveState":      func() error { return db.SaveState(ctx, aggregator.SourceState{Source: "s"}) },
		"SaveStates":     func() error { return db.SaveStates(ctx, []aggregator.SourceState{{Source: "s"}}) },
		"SaveFeed":       func() error { _, err := db.SaveFeed(ctx, feed("s")); return err },
		"Prune":          func() error { _, err := db.Prune(ctx, t0); return err },
		"SyncTopics":     func() error { _, err := db.SyncTopics(ctx, nil, nil); return err },
		"TopicStories":   func() error { _, err := db.TopicStories(ctx, "t", 1); return err },
		"Story":          func() error { _, err := db.Story(ctx, "s"); return err },
		"TopicItemCount": func() error { _, err := db.TopicItemCount(ctx, "t"); return err },
		"SourceStates":   func() error { _, err := db.SourceStates(ctx); return err },
		"Items":          func() error { return db.Items(ctx, func(*aggregator.Item) error { return nil }) },
		"Item":           func() error { _, err := db.Item(ctx, "s", "i"); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "storage: ") {
				t.Errorf("error = %v, want wrapped context.Canceled", err)
			}
		})
	}
}

func TestItemsStopsOnError(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	if _, err := db.SaveFeed(ctx, feed("src", mkItem("a", t0, "h"), mkItem("b", t0, "h"))); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	n := 0
	err := db.Items(ctx, func(*aggregator.Item) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Items = %v after %d calls, want stop after 1", err, n)
	}
}

func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tributary.db")
	if _, err := Open(path, Options{ReadOnly: true}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only open of a missing file: %v, want not-exist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a read-only open created the file")
	}
	notOurs := filepath.Join(dir, "other.db")
	other, err := bolt.Open(notOurs, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	if _, err := Open(notOurs, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "not a tributary database") {
		t.Errorf("read-only open of a foreign bbolt file: %v", err)
	}

	db := openAt(t, path, Options{})
	if err := db.SaveState(t.Context(), aggregator.SourceState{Source: "s", LastStatus: 200}); err != nil {
		t.Fatal(err)
	}
	// A writer excludes readers.
	if _, err := Open(path, Options{ReadOnly: true, Timeout: 100 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Fatalf("read-only open while a writer holds it: %v, want ErrLocked", err)
	}
	db.Close()
	r1, err := Open(path, Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	// Readers share.
	r2, err := Open(path, Options{ReadOnly: true, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("second reader: %v", err)
	}
	defer r2.Close()
	st, err := r2.SourceState(t.Context(), "s")
	if err != nil || st.LastStatus != 200 {
		t.Errorf("state read back = %+v, %v", st, err)
	}
	if err := r2.SaveState(t.Context(), aggregator.SourceState{Source: "s"}); err == nil {
		t.Error("a write through a read-only database succeeded")
	}
}

// TestTopicStoriesRandomHistory saves, re-dates and re-topics the members
// of three-member stories at random, over a week of Published either way
// of their key days, and prunes now and then. After every step each
// topic lists, for every limit tried, what a model of the stories says:
// its stories by their earliest live member's Published, latest first,
// ties to the greater ID. (The store's cleanup then checks every index.)
func TestTopicStoriesRandomHistory(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 11))
			db := openTestDB(t)
			day := t0.Truncate(topicDay)
			const items = 30
			storyOf := func(id string) string {
				var n int
				fmt.Sscanf(id, "i%d", &n)
				return fmt.Sprintf("s%02d", n/3)
			}
			type member struct {
				pub    time.Time
				topics []string
				dead   bool // pruned: its tombstone keeps it out
			}
			model := map[string]*member{}
			topics := []string{"a", "b", "c"}
			for step := range 150 {
				if step%25 == 24 {
					cutoff := day.Add(time.Duration(r.IntN(72)-96) * time.Hour)
					if _, err := db.Prune(ctx, cutoff); err != nil {
						t.Fatal(err)
					}
					for _, m := range model {
						if m.pub.Before(cutoff) {
							m.dead = true
						}
					}
				} else {
					id := fmt.Sprintf("i%02d", r.IntN(items))
					if m := model[id]; m != nil && m.dead {
						continue
					}
					pub := day.Add(time.Duration(r.IntN(7*24*60)-4*24*60) * time.Minute)
					var its []string
					for _, tp := range topics {
						if r.IntN(3) == 0 {
							its = append(its, tp)
						}
					}
					up := feed("src-"+id, mkItem(id, pub, "h", its...))
					up.Cluster = func(it *aggregator.Item, _ aggregator.StoryLookup) error {
						it.StoryID = storyOf(it.ID)
						return nil
					}
					if _, err := db.SaveFeed(ctx, up); err != nil {
						t.Fatal(err)
					}
					model[id] = &member{pub: pub, topics: its}
				}
				// What the model says each topic lists.
				type story struct {
					id  string
					pub time.Time
				}
				stories := map[string]*story{}
				in := map[string]map[string]bool{} // topic → story IDs
				for id, m := range model {
					if m.dead {
						continue
					}
					s := stories[storyOf(id)]
					if s == nil {
						s = &story{id: storyOf(id), pub: m.pub}
						stories[s.id] = s
					}
					if m.pub.Before(s.pub) {
						s.pub = m.pub
					}
					for _, tp := range m.topics {
						if in[tp] == nil {
							in[tp] = map[string]bool{}
						}
						in[tp][s.id] = true
					}
				}
				for _, tp := range topics {
					var want []string
					for id := range in[tp] {
						want = append(want, id)
					}
					slices.SortFunc(want, func(a, b string) int {
						if c := stories[b].pub.Compare(stories[a].pub); c != 0 {
							return c
						}
						return strings.Compare(b, a)
					})
					for _, limit := range []int{0, 1, 3, 7} {
						w := want
						if limit > 0 && len(w) > limit {
							w = w[:limit]
						}
						got := storyIDs(topicStories(t, db, tp, limit))
						if !slices.Equal(got, w) && !(len(got) == 0 && len(w) == 0) {
							t.Fatalf("step %d: topic %s, limit %d: %v, want %v", step, tp, limit, got, w)
						}
					}
				}
			}
		})
	}
}
