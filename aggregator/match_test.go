package aggregator_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

func TestTopicMatcher(t *testing.T) {
	sources := []aggregator.Source{
		{Name: "cgtn", Tags: []string{"state-media"}},
		{Name: "bbc", Tags: []string{"broadcaster"}},
		{Name: "blog"},
	}
	topics := []aggregator.Topic{
		{Name: "forum", Query: `"human rights" AND (forum OR summit)`},
		{Name: "state-forum", Query: `forum`, Sources: []string{"tag:state-media"}},
		{Name: "bbc-or-blog", Query: `forum`, Sources: []string{"bbc", "blog"}},
	}
	m, err := aggregator.NewTopicMatcher(topics, sources)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		item aggregator.Item
		want []string
	}{
		{"all topics", aggregator.Item{Source: "cgtn", Title: "Human Rights Forum opens"}, []string{"forum", "state-forum"}},
		{"restricted by tag", aggregator.Item{Source: "bbc", Title: "Human rights forum opens"}, []string{"forum", "bbc-or-blog"}},
		{"restricted by name", aggregator.Item{Source: "blog", Title: "A forum"}, []string{"bbc-or-blog"}},
		{"summary counts", aggregator.Item{Source: "blog", Title: "Beijing", Summary: "<p>The human-rights summit</p>"}, []string{"forum"}},
		{"nothing", aggregator.Item{Source: "cgtn", Title: "Storm"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.Match(&tt.item); !slices.Equal(got, tt.want) {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
			var viaMemberships []string
			for _, tm := range m.Memberships() {
				if tm.Match(&tt.item) {
					viaMemberships = append(viaMemberships, tm.Name)
				}
			}
			if !slices.Equal(viaMemberships, tt.want) {
				t.Errorf("Memberships match %v, want %v", viaMemberships, tt.want)
			}
		})
	}

	if _, err := aggregator.NewTopicMatcher([]aggregator.Topic{{Name: "bad", Query: "(forum"}}, nil); err == nil {
		t.Error("a bad query was accepted")
	}
}

func TestTopicFingerprints(t *testing.T) {
	fp := func(topic aggregator.Topic) string {
		m, err := aggregator.NewTopicMatcher([]aggregator.Topic{topic}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return m.Memberships()[0].Fingerprint
	}
	base := fp(aggregator.Topic{Name: "t", Query: "forum OR summit"})
	if fp(aggregator.Topic{Name: "t", Query: "forum  OR   summit"}) != base {
		t.Error("reformatting a query changed its fingerprint")
	}
	if fp(aggregator.Topic{Name: "t", Query: "forum OR summits"}) == base {
		t.Error("a new query kept the fingerprint")
	}
	if fp(aggregator.Topic{Name: "t", Query: "forum OR summit", Sources: []string{"a"}}) == base {
		t.Error("a source restriction kept the fingerprint")
	}
}

func TestTryTopic(t *testing.T) {
	sources := []aggregator.Source{{Name: "cgtn", Tags: []string{"state-media"}}, {Name: "bbc"}}
	items := []aggregator.Item{
		{ID: "1", Source: "cgtn", Title: "Human Rights Forum opens", Published: time.Date(2021, 12, 10, 0, 0, 0, 0, time.UTC)},
		{ID: "2", Source: "bbc", Title: "A human rights summit", Published: time.Date(2021, 12, 11, 0, 0, 0, 0, time.UTC)},
		{ID: "3", Source: "cgtn", Title: "Storm", Published: time.Date(2021, 12, 12, 0, 0, 0, 0, time.UTC)},
		{ID: "4", Source: "cgtn", Title: "Human rights summit, not sports", Summary: "sports", Published: time.Date(2021, 12, 9, 0, 0, 0, 0, time.UTC)},
	}
	each := func(fn func(*aggregator.Item) error) error {
		for i := range items {
			if err := fn(&items[i]); err != nil {
				return err
			}
		}
		return nil
	}
	tests := []struct {
		name                    string
		topic                   aggregator.Topic
		wantIDs                 []string
		wantTerms               [][]string
		wantNotMatched, wantOut int
	}{
		{
			name:    "every source, newest first",
			topic:   aggregator.Topic{Name: "t", Query: `"human rights" AND (forum OR summit) NOT sports`},
			wantIDs: []string{"2", "1"}, wantTerms: [][]string{{`"human rights"`, "summit"}, {`"human rights"`, "forum"}},
			wantNotMatched: 2,
		},
		{
			name:    "restricted to a tag",
			topic:   aggregator.Topic{Name: "t", Query: `"human rights"`, Sources: []string{"tag:state-media"}},
			wantIDs: []string{"1", "4"}, wantTerms: [][]string{{`"human rights"`}, {`"human rights"`}},
			wantNotMatched: 1, wantOut: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trial, err := aggregator.TryTopic(tt.topic, sources, each)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for i, m := range trial.Matches {
				ids = append(ids, m.Item.ID)
				if i < len(tt.wantTerms) && !slices.Equal(m.Terms, tt.wantTerms[i]) {
					t.Errorf("item %s terms = %q, want %q", m.Item.ID, m.Terms, tt.wantTerms[i])
				}
			}
			if !slices.Equal(ids, tt.wantIDs) || trial.NotMatched != tt.wantNotMatched || trial.Excluded != tt.wantOut {
				t.Errorf("matches %v, not matched %d, excluded %d; want %v, %d, %d",
					ids, trial.NotMatched, trial.Excluded, tt.wantIDs, tt.wantNotMatched, tt.wantOut)
			}
		})
	}
	if _, err := aggregator.TryTopic(aggregator.Topic{Name: "t", Query: `forum AND`}, sources, each); err == nil {
		t.Error("a bad query was tried")
	}
}

// A stored fingerprint (or source description) that differs makes every
// stored item be matched again, so an unchanged topic's must not change
// from one release to the next. The fingerprints changed once, on purpose,
// when the sources left them for descriptions of their own (so that
// adding a source rematches nothing); these are the values since.
func TestTopicFingerprintsStable(t *testing.T) {
	sources := []aggregator.Source{
		{Name: "cgtn", Tags: []string{"state-media", "china"}, Backlog: 36 * time.Hour},
		{Name: "bbc", Tags: []string{"broadcaster"}},
		{Name: "blog"},
	}
	topics := []aggregator.Topic{
		{Name: "forum", Query: `"human rights" AND (forum OR summit)`},
		{Name: "state", Query: `forum`, Sources: []string{"tag:state-media", "blog"}},
	}
	m, err := aggregator.NewTopicMatcher(topics, sources)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"forum": "706ebf9ced12d75f", "state": "c60e83029f102381"}
	for _, tm := range m.Memberships() {
		if tm.Fingerprint != want[tm.Name] {
			t.Errorf("topic %q: fingerprint %s, want %s", tm.Name, tm.Fingerprint, want[tm.Name])
		}
	}
	wantSources := []aggregator.SourceMembership{
		{Name: "cgtn", Description: "china,state-media|129600000000000"},
		{Name: "bbc", Description: "broadcaster|0"},
		{Name: "blog", Description: "|0"},
	}
	if got := m.SourceMemberships(); !slices.Equal(got, wantSources) {
		t.Errorf("source memberships = %q, want %q", got, wantSources)
	}

	// A new source has no items: the topics' fingerprints stay, and so
	// do the other sources' descriptions.
	m, err = aggregator.NewTopicMatcher(topics, append(slices.Clone(sources), aggregator.Source{Name: "new", Tags: []string{"state-media"}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range m.Memberships() {
		if tm.Fingerprint != want[tm.Name] {
			t.Errorf("with a source added, topic %q: fingerprint %s, want %s", tm.Name, tm.Fingerprint, want[tm.Name])
		}
	}
	if got := m.SourceMemberships()[:3]; !slices.Equal(got, wantSources) {
		t.Errorf("with a source added, source memberships = %q, want %q", got, wantSources)
	}
}
