package publish

import (
	"context"
	"fmt"
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
}

// sourceRef names the source an entry came from.
type sourceRef struct {
	Name  string
	Title string
	URL   string // the source's feed URL; "" when the source is no longer configured
}

// buildView reads a topic's newest items and prepares them for rendering.
func buildView(ctx context.Context, store Store, s *site, z *sanitizer, topic aggregator.Topic) (*feedView, error) {
	items, err := store.TopicItems(ctx, topic.Name, s.maxItems)
	if err != nil {
		return nil, fmt.Errorf("publish: items of topic %q: %w", topic.Name, err)
	}
	return newView(s, z, topic, items), nil
}

func newView(s *site, z *sanitizer, topic aggregator.Topic, items []aggregator.Item) *feedView {
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
	if len(items) > s.maxItems {
		items = items[:s.maxItems]
	}
	v.Entries = make([]entry, 0, len(items))
	seen := make(map[string]bool, len(items))
	for i := range items {
		it := &items[i]
		if it.ID == "" || seen[it.ID] {
			continue // an id is what readers key on: never emit a random or duplicate one
		}
		seen[it.ID] = true
		e := newEntry(s, z, it)
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

func topicDescription(t aggregator.Topic) string {
	if strings.TrimSpace(t.Query) == "" {
		return fmt.Sprintf("%s: every item, merged by tributary", topicTitle(t))
	}
	return fmt.Sprintf("%s: items matching %s, merged by tributary", topicTitle(t), t.Query)
}

func newEntry(s *site, z *sanitizer, it *aggregator.Item) entry {
	src, ok := s.sources[it.Source]
	ref := sourceRef{Name: cleanText(it.Source), Title: cleanText(it.Source)}
	if ok {
		ref.Title = cleanText(sourceTitle(src))
		// Only a web address is published: a file: source would show
		// subscribers a path on this machine.
		if u, ok := httpURL(src.URL); ok {
			ref.URL = u.String()
		}
	}
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
