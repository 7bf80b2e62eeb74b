package publish

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

// fakeStore is an in-memory Store. It counts TopicStories calls (one per
// render) and can hold them at a gate to make concurrent requests overlap.
type fakeStore struct {
	mu     sync.Mutex
	topics map[string][]aggregator.Story
	states []aggregator.SourceState
	err    error
	calls  map[string]int // TopicStories calls per topic
	gate   chan struct{}  // when set, TopicStories waits for it to close
	called chan struct{}  // when set, TopicStories signals each call
}

var _ Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{topics: map[string][]aggregator.Story{}, calls: map[string]int{}}
}

// setItems makes each item a story of its own, as storage does for an
// item no other outlet ran.
func (f *fakeStore) setItems(topic string, items []aggregator.Item) {
	stories := make([]aggregator.Story, len(items))
	for i, it := range items {
		stories[i] = singleStory(it)
	}
	f.setStories(topic, stories)
}

func (f *fakeStore) setStories(topic string, stories []aggregator.Story) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.topics[topic] = slices.Clone(stories)
}

// singleStory is the story of one item, as storage makes it.
func singleStory(it aggregator.Item) aggregator.Story {
	return aggregator.Story{ID: it.ID, Members: []aggregator.Item{it}, Published: it.Published, Updated: it.Updated, Topics: it.Topics}
}

func (f *fakeStore) itemCalls(topic string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[topic]
}

func (f *fakeStore) TopicStories(ctx context.Context, topic string, limit int) ([]aggregator.Story, error) {
	f.mu.Lock()
	f.calls[topic]++
	gate, called := f.gate, f.called
	f.mu.Unlock()
	if called != nil {
		called <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	stories := slices.Clone(f.topics[topic])
	slices.SortStableFunc(stories, func(a, b aggregator.Story) int { return b.Published.Compare(a.Published) })
	if len(stories) > limit {
		stories = stories[:limit]
	}
	return stories, nil
}

func (f *fakeStore) Story(ctx context.Context, id string) (aggregator.Story, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return aggregator.Story{}, f.err
	}
	for _, stories := range f.topics {
		for _, s := range stories {
			if s.ID == id {
				return s, nil
			}
		}
	}
	return aggregator.Story{}, aggregator.ErrNotFound
}

func (f *fakeStore) TopicItemCount(ctx context.Context, topic string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	return len(f.topics[topic]), nil
}

func (f *fakeStore) SourceStates(ctx context.Context) ([]aggregator.SourceState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := slices.Clone(f.states)
	slices.SortFunc(out, func(a, b aggregator.SourceState) int {
		switch {
		case a.Source < b.Source:
			return -1
		case a.Source > b.Source:
			return 1
		}
		return 0
	})
	return out, nil
}

// fixedNow is the clock of every test.
var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func testConfig(baseURL string) Config {
	return Config{
		BaseURL:  baseURL,
		MaxItems: 10,
		Version:  "1.2.3-test",
		Topics: []aggregator.Topic{
			{Name: "tech", Title: "Tech & Science", Query: `tag:tech OR "golang"`},
			{Name: "everything", Query: ""},
			{Name: "empty", Title: "Nothing <yet>", Query: `"no such words"`},
		},
		Sources: []aggregator.Source{
			{Name: "alpha", Title: "Alpha News", URL: "https://alpha.example/feed.xml", Tags: []string{"tech"}},
			{Name: "beta", URL: "http://beta.example/rss"},
			{Name: "gamma", Title: "Gamma (local file)", URL: "file:///srv/feeds/gamma.xml"},
			{Name: "delta", Title: "Delta", URL: "https://delta.example/atom"},
		},
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fixtureItems are items that need every kind of cleaning on the way out.
func fixtureItems() []aggregator.Item {
	return []aggregator.Item{
		{
			ID:      "urn:uuid:0b7e3a52-3b1c-5d2a-9a51-000000000001",
			Source:  "alpha",
			Link:    "https://alpha.example/posts/2024/go-release.html",
			Title:   "Go 1.26 released — what’s new ✨",
			Summary: `A <b>short</b> summary with a <a href="../notes.html">relative link</a>.`,
			Content: `<p onclick="steal()" style="color:red">Hello <script>alert(1)</script>` +
				`<a href="/about">about</a> <img src="img/logo.png" onerror="steal()" alt="logo">` +
				` <a href="javascript:alert(1)">bad</a><iframe src="https://evil.example/"></iframe>` +
				` Fish &amp; chips &lt;3 &eacute;</p>`,
			Authors:    []string{"Ada Lovelace", "  Grace   Hopper "},
			Categories: []string{"go", "release", "go"},
			Published:  at("2024-05-06T08:00:00+02:00"),
			Updated:    at("2024-05-06T09:30:00+02:00"),
			FirstSeen:  at("2024-05-06T06:01:00Z"),
		},
		{
			ID:        "urn:uuid:0b7e3a52-3b1c-5d2a-9a51-000000000002",
			Source:    "beta",
			Link:      "http://beta.example/item?id=2&lang=en",
			Title:     "Control\x01chars\x0b and \x7fDEL in a title",
			Summary:   "Summary only, with a raw \x02 control and a numeric &#1; reference and a tab\tkept.",
			Published: at("2024-05-05T12:00:00Z"),
			Updated:   at("2024-05-05T12:00:00Z"),
		},
		{
			ID:      "urn:uuid:0b7e3a52-3b1c-5d2a-9a51-000000000003",
			Source:  "removed",
			Title:   "",
			Content: `<p>No link, no title, from a source that is no longer configured. <img src="pic.png"></p>`,
			// Published was lost; Updated stands in.
			Updated: at("2024-05-04T10:00:00Z"),
		},
		{
			ID:     "urn:uuid:0b7e3a52-3b1c-5d2a-9a51-000000000004",
			Source: "delta",
			Link:   "https://delta.example/2024/05/unicode",
			Title:  "Unicode: 日本語, עברית, Ελληνικά, emoji 🚀",
			Content: `<div style="position:fixed">` +
				`<form action="/login"><input name="pw"><button>go</button></form>` +
				`<object data="x.swf"></object><embed src="x.swf"><frameset><frame src="f.html"></frameset>` +
				`<a href="//cdn.example/file.pdf" target="_blank">cdn</a> ` +
				`<img src="data:image/png;base64,iVBORw0KGgo=" alt="inline">` +
				`<img srcset="small.jpg 480w, large.jpg 1080w" src="small.jpg">` +
				`<a href="#section">anchor</a> <a href="mailto:ed@delta.example">mail</a></div>`,
			Authors:    []string{"Zoë Ünïcödé"},
			Categories: []string{"unicode", "i18n"},
			Published:  at("2024-05-03T23:59:59Z"),
			Updated:    at("2024-05-03T23:59:59Z"),
		},
	}
}

func fixtureStates() []aggregator.SourceState {
	return []aggregator.SourceState{
		{
			Source: "beta", LastPolled: at("2024-05-06T07:00:00Z"), LastStatus: 503,
			LastError: "server unavailable (HTTP 503), retrying later", ConsecutiveFailures: 3,
			NextPoll: at("2024-05-06T08:00:00Z"), ItemCount: 12,
		},
		{
			Source: "alpha", ETag: `"abc"`, LastPolled: at("2024-05-06T07:05:00Z"), LastStatus: 200,
			NextPoll: at("2024-05-06T07:20:00Z"), ItemCount: 42,
		},
		{
			Source: "delta", LastPolled: at("2024-05-01T00:00:00Z"), LastStatus: 301,
			PermanentRedirect: "https://delta.example/new-atom", Disabled: true, ItemCount: 7,
			LastError: "gone: disabled after 10 failures", ConsecutiveFailures: 10,
		},
		{Source: "ghost", LastPolled: at("2024-01-01T00:00:00Z"), ItemCount: 1}, // no longer configured
	}
}

// fixtureMergedStory is one story four outlets ran: the lead is the
// earliest (beta), the others are listed as "also reported by", one of
// them from a file: source whose path must not be published.
func fixtureMergedStory() aggregator.Story {
	base := at("2024-05-05T18:00:00Z")
	mk := func(i int, source, id, link, title string) aggregator.Item {
		p := base.Add(time.Duration(i) * time.Hour)
		return aggregator.Item{
			ID: "urn:uuid:0b7e3a52-3b1c-5d2a-9a51-0000000001" + id, Source: source, Link: link, Title: title,
			Summary:   "<p>President Xi Jinping sent a congratulatory letter to the South-South Human Rights Forum in Beijing.</p>",
			Published: p, Updated: p, FirstSeen: p, StoryID: "urn:uuid:0b7e3a52-3b1c-5d2a-9a51-000000000110",
		}
	}
	members := []aggregator.Item{
		mk(0, "beta", "10", "http://beta.example/2024/05/05/xi-forum.html", "Xi congratulates South-South Human Rights Forum"),
		mk(1, "alpha", "11", "https://alpha.example/world/xi-letter-forum?id=7", "Xi sends congratulatory letter to South-South Human Rights Forum"),
		mk(2, "delta", "12", "https://delta.example/a/forum", "Xi sends congratulatory letter to South-South Human Rights Forum - Delta"),
		mk(3, "gamma", "13", "https://gamma.example/forum", "Xi congratulates South-South Human Rights Forum | Gamma"),
	}
	members[1].MergedBy, members[2].MergedBy, members[3].MergedBy = "near", "title", "link"
	return aggregator.Story{
		ID: members[0].StoryID, Members: members,
		Published: members[0].Published, Updated: members[3].Updated, Topics: []string{"tech"},
	}
}

// fixtureStore holds the fixture: "tech" has the items and a story four
// outlets ran, "everything" two of the items, "empty" nothing.
func fixtureStore() *fakeStore {
	f := newFakeStore()
	f.setItems("tech", fixtureItems())
	f.topics["tech"] = append(f.topics["tech"], fixtureMergedStory())
	f.setItems("everything", fixtureItems()[:2])
	f.states = fixtureStates()
	return f
}
