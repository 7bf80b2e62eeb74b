package publish

import (
	"context"
	"fmt"
	"html"
	"slices"
	"strings"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

// feedView is a topic feed, format-neutral: every text field is XML-safe and
// every HTML field sanitised, so the format writers only lay it out.
type feedView struct {
	Name        string
	Title       string
	Description string
	ID          string    // stable feed id
	HomeURL     string    // the HTML page
	Updated     time.Time // latest entry update, or epoch when empty
	Generator   string
	Version     string
	Entries     []entry
}

// entry is one item of a feedView.
type entry struct {
	ID         string
	Link       string // absolute http(s) URL, or ""
	Title      string
	Published  time.Time // UTC
	Updated    time.Time // UTC, never before Published
	Authors    []string
	Summary    string // sanitised HTML, "" when absent or equal to Content
	Content    string // sanitised HTML
	Categories []string
	Source     sourceRef
	// Story is the id of the story the entry shows (the entry's ID).
	Story string
	// Also lists the story's other members: where else it ran.
	Also []alsoRef
}

// alsoRef is another outlet's copy of an entry's story.
type alsoRef struct {
	Source    sourceRef
	Link      string // absolute http(s) URL, or ""
	Title     string
	Published time.Time // UTC
}

// sourceRef names the source an entry came from.
type sourceRef struct {
	Name  string
	Title string
	URL   string // the source's feed URL; "" when the source is no longer configured
}

// buildView reads a topic's newest stories and prepares them for
// rendering.
func buildView(ctx context.Context, store Store, s *site, z *sanitizer, topic aggregator.Topic) (*feedView, error) {
	stories, err := store.TopicStories(ctx, topic.Name, s.maxItems)
	if err != nil {
		return nil, fmt.Errorf("publish: stories of topic %q: %w", topic.Name, err)
	}
	return newView(s, z, topic, stories), nil
}

func newView(s *site, z *sanitizer, topic aggregator.Topic, stories []aggregator.Story) *feedView {
	v := &feedView{
		Name:        topic.Name,
		Title:       cleanText(topicTitle(topic)),
		Description: cleanText(topicDescription(topic)),
		ID:          s.topicID(topic.Name),
		HomeURL:     s.homeURL(),
		Updated:     epoch,
		Generator:   "tributary",
		Version:     cleanText(s.cfg.Version),
	}
	if len(stories) > s.maxItems {
		stories = stories[:s.maxItems]
	}
	v.Entries = make([]entry, 0, len(stories))
	seen := make(map[string]bool, len(stories))
	for i := range stories {
		st := &stories[i]
		lead := st.Lead(s.priority)
		if lead < 0 || st.ID == "" || seen[st.ID] {
			continue // an id is what readers key on: never emit a random or duplicate one
		}
		seen[st.ID] = true
		e := newStoryEntry(s, z, st, lead)
		if e.Updated.After(v.Updated) {
			v.Updated = e.Updated
		}
		v.Entries = append(v.Entries, e)
	}
	// Storage already sorts; sorting again keeps the newest-first promise
	// when an item's Published was zero and fell back to another time.
	slices.SortStableFunc(v.Entries, func(a, b entry) int { return b.Published.Compare(a.Published) })
	return v
}

// newStoryEntry makes the entry of a story: its lead member's, under the
// story's id, dated by its earliest member, updated by its latest, with
// an "Also reported by" list of the other members.
func newStoryEntry(s *site, z *sanitizer, st *aggregator.Story, lead int) entry {
	e := newEntry(s, z, &st.Members[lead])
	e.ID = cleanText(st.ID)
	e.Story = e.ID
	if !st.Published.IsZero() {
		if p := st.Published.UTC().Truncate(time.Second); p.Before(e.Published) {
			e.Published = p
		}
	}
	if u := st.Updated.UTC().Truncate(time.Second); u.After(e.Updated) {
		e.Updated = u
	}
	if e.Updated.Before(e.Published) {
		e.Updated = e.Published
	}
	for i := range st.Members {
		if i == lead {
			continue
		}
		m := &st.Members[i]
		ref := alsoRef{
			Source:    newSourceRef(s, m.Source),
			Title:     cleanText(m.Title),
			Published: firstNonZero(m.Published, m.Updated, m.FirstSeen, epoch).UTC().Truncate(time.Second),
		}
		if u, ok := httpURL(m.Link); ok {
			ref.Link = u.String()
		}
		e.Also = append(e.Also, ref)
	}
	if len(e.Also) > 0 {
		e.Content += alsoReportedHTML(e.Also)
	}
	return e
}

// alsoReportedHTML is the "Also reported by" paragraph appended to an
// entry's content: each outlet named, linked to its copy.
func alsoReportedHTML(also []alsoRef) string {
	var b strings.Builder
	b.WriteString(`<p class="tributary-also">Also reported by: `)
	for i, a := range also {
		if i > 0 {
			b.WriteString(", ")
		}
		name := html.EscapeString(a.Source.Title)
		if a.Link == "" {
			b.WriteString(name)
			continue
		}
		fmt.Fprintf(&b, `<a href="%s" title="%s">%s</a>`, html.EscapeString(a.Link), html.EscapeString(a.Title), name)
	}
	b.WriteString(".</p>")
	return b.String()
}

func topicDescription(t aggregator.Topic) string {
	if strings.TrimSpace(t.Query) == "" {
		return fmt.Sprintf("%s: every item, merged by tributary", topicTitle(t))
	}
	return fmt.Sprintf("%s: items matching %s, merged by tributary", topicTitle(t), t.Query)
}

// newSourceRef names a source for subscribers.
func newSourceRef(s *site, name string) sourceRef {
	src, ok := s.sources[name]
	ref := sourceRef{Name: cleanText(name), Title: cleanText(name)}
	if ok {
		ref.Title = cleanText(sourceTitle(src))
		// Only a web address is published: a file: source would show
		// subscribers a path on this machine.
		if u, ok := httpURL(src.URL); ok {
			ref.URL = u.String()
		}
	}
	return ref
}

func newEntry(s *site, z *sanitizer, it *aggregator.Item) entry {
	ref := newSourceRef(s, it.Source)
	e := entry{
		ID:     cleanText(it.ID),
		Title:  cleanText(it.Title),
		Source: ref,
	}
	var base string
	if u, ok := httpURL(it.Link); ok {
		e.Link = u.String()
		base = e.Link
	}
	// Without an item link, relative URLs are taken as relative to the
	// source feed, which is right for most feeds that use them.
	z0 := baseURL(base, ref.URL)
	e.Content = z.HTML(it.Content, z0)
	e.Summary = z.HTML(it.Summary, z0)
	if e.Content == "" {
		e.Content, e.Summary = e.Summary, ""
	} else if e.Summary == e.Content {
		e.Summary = ""
	}
	if e.Title == "" && e.Content == "" {
		e.Title = "(untitled)"
	}

	e.Published = firstNonZero(it.Published, it.Updated, it.FirstSeen, epoch).UTC().Truncate(time.Second)
	e.Updated = firstNonZero(it.Updated, e.Published).UTC().Truncate(time.Second)
	if e.Updated.Before(e.Published) {
		e.Updated = e.Published
	}
	for _, a := range it.Authors {
		if a = cleanText(a); a != "" && !slices.Contains(e.Authors, a) {
			e.Authors = append(e.Authors, a)
		}
	}
	for _, c := range it.Categories {
		if c = cleanText(c); c != "" && !slices.Contains(e.Categories, c) {
			e.Categories = append(e.Categories, c)
		}
	}
	return e
}

func firstNonZero(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
