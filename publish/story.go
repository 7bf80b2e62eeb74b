package publish

import (
	"context"
	"fmt"
)

// storyDoc is /stories/ID.json: a story with every member and the keys and
// rule that merged it, for an admin checking why items were (or were not)
// merged. Its field names are an API: do not rename them.
type storyDoc struct {
	ID        string        `json:"id"`
	Published string        `json:"published"`
	Updated   string        `json:"updated"`
	Topics    []string      `json:"topics"`
	Lead      string        `json:"lead"`
	Members   []storyMember `json:"members"`
}

type storyMember struct {
	ID            string   `json:"id"`
	Source        string   `json:"source"`
	SourceTitle   string   `json:"source_title"`
	Priority      int      `json:"priority"`
	Link          string   `json:"link"`
	Title         string   `json:"title"`
	MergedBy      string   `json:"merged_by"` // "" for the member that founded the story, "bridge" for the founder of one it absorbed
	CanonicalLink string   `json:"canonical_link"`
	TitleKey      string   `json:"title_key"`
	Bands         int      `json:"bands"`
	Published     string   `json:"published"`
	Updated       string   `json:"updated"`
	FirstSeen     *string  `json:"first_seen"`
	Topics        []string `json:"topics"`
}

// renderStory reads a story and writes its debugging document. The id of
// a story absorbed into another reads the surviving story: the document's
// id, also returned, is then another.
func renderStory(ctx context.Context, store Store, s *site, id string) ([]byte, string, error) {
	st, err := store.Story(ctx, id)
	if err != nil {
		return nil, "", fmt.Errorf("publish: story %q: %w", id, err)
	}
	doc := storyDoc{
		ID:        st.ID,
		Published: rfc3339(st.Published),
		Updated:   rfc3339(st.Updated),
		Topics:    nonNil(st.Topics),
		Members:   make([]storyMember, 0, len(st.Members)),
	}
	if lead := st.Lead(s.priority); lead >= 0 {
		doc.Lead = st.Members[lead].ID
	}
	for i := range st.Members {
		m := &st.Members[i]
		ref := newSourceRef(s, m.Source)
		sm := storyMember{
			ID: m.ID, Source: m.Source, SourceTitle: ref.Title, Priority: s.priority(m.Source),
			Title: cleanText(m.Title), MergedBy: m.MergedBy,
			CanonicalLink: m.Keys.Link, TitleKey: m.Keys.Title, Bands: len(m.Keys.Bands),
			Published: rfc3339(m.Published), Updated: rfc3339(m.Updated),
			FirstSeen: optionalTime(m.FirstSeen), Topics: nonNil(m.Topics),
		}
		if u, ok := httpURL(m.Link); ok {
			sm.Link = u.String()
		}
		doc.Members = append(doc.Members, sm)
	}
	b, err := writeJSON(doc)
	return b, st.ID, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
