package aggregator_test

import (
	"slices"
	"testing"

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
