// Package publish owns what tributary serves: topic views rendered as
// RSS 2.0, Atom 1.0 and JSON Feed 1.1, the OPML list of topic feeds, the
// sources health report, the HTML status page, the HTML sanitiser that every
// item passes through on its way out, the HTTP handler that caches rendered
// feeds, and the static export. It declares the storage it needs as Store;
// the storage package implements it.
package publish

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/tributary-news/tributary/aggregator"
)

// Store is the read side of storage that publishing needs.
type Store interface {
	// TopicStories returns at most limit stories of a topic, newest first
	// by Published (the story's earliest member's).
	TopicStories(ctx context.Context, topic string, limit int) ([]aggregator.Story, error)
	// TopicItemCount returns how many stories a topic holds.
	TopicItemCount(ctx context.Context, topic string) (int, error)
	// Story returns one story with all its members, or an error wrapping
	// aggregator.ErrNotFound. The id of a story merged into another may
	// return the surviving story, whose ID differs.
	Story(ctx context.Context, id string) (aggregator.Story, error)
	// SourceStates returns the stored state of every polled source, sorted
	// by Source, with ItemCount filled.
	SourceStates(ctx context.Context) ([]aggregator.SourceState, error)
}

// Config is what publishing needs to know about the site.
type Config struct {
	BaseURL  string              // absolute, no trailing slash; self links and feed ids
	MaxItems int                 // per topic feed; <= 0 means DefaultMaxItems
	Topics   []aggregator.Topic  // the topic feeds served
	Sources  []aggregator.Source // titles and URLs for <source>, /sources.json and the index page
	Version  string              // tributary's version, for generator elements
}

// DefaultMaxItems is the per-feed item limit used when Config.MaxItems is
// not positive.
const DefaultMaxItems = 50

// site is a Config prepared for lookups. It is immutable once built, so
// renders can share it without locks.
type site struct {
	cfg      Config
	baseURL  string
	maxItems int
	topics   map[string]aggregator.Topic
	sources  map[string]aggregator.Source
}

func newSite(cfg Config) *site {
	// Own copies: the caller may reuse its slices after handing them over.
	cfg.Topics = slices.Clone(cfg.Topics)
	cfg.Sources = slices.Clone(cfg.Sources)
	s := &site{
		cfg:      cfg,
		baseURL:  strings.TrimRight(cfg.BaseURL, "/"),
		maxItems: cfg.MaxItems,
		topics:   make(map[string]aggregator.Topic, len(cfg.Topics)),
		sources:  make(map[string]aggregator.Source, len(cfg.Sources)),
	}
	if s.maxItems <= 0 {
		s.maxItems = DefaultMaxItems
	}
	for _, t := range cfg.Topics {
		s.topics[t.Name] = t
	}
	for _, src := range cfg.Sources {
		s.sources[src.Name] = src
	}
	return s
}

// priority is a source's lead priority (Source.Priority; 0 when unknown).
func (s *site) priority(source string) int { return s.sources[source].Priority }

// homeURL is the HTML page every feed links to.
func (s *site) homeURL() string { return s.baseURL + "/" }

// topicID is the stable, format-independent id of a topic feed.
func (s *site) topicID(topic string) string { return s.baseURL + "/topics/" + topic }

// feedURL is where a topic feed is served in a format.
func (s *site) feedURL(topic string, f format) string {
	return s.topicID(topic) + "." + f.ext
}

func (s *site) generator() string {
	if s.cfg.Version == "" {
		return "tributary"
	}
	return "tributary " + s.cfg.Version
}

// topicTitle is the display title of a topic.
func topicTitle(t aggregator.Topic) string {
	if t.Title != "" {
		return t.Title
	}
	return t.Name
}

// sourceTitle is the display title of a source.
func sourceTitle(s aggregator.Source) string {
	if s.Title != "" {
		return s.Title
	}
	return s.Name
}

// format is one of the feed formats a topic is served in.
type format struct {
	name        string // rss, atom, json
	ext         string
	contentType string
}

var (
	formatRSS  = format{name: "rss", ext: "rss", contentType: "application/rss+xml; charset=utf-8"}
	formatAtom = format{name: "atom", ext: "atom", contentType: "application/atom+xml; charset=utf-8"}
	formatJSON = format{name: "json", ext: "json", contentType: "application/feed+json; charset=utf-8"}
)

// formats lists every feed format in a fixed order.
func formats() []format { return []format{formatRSS, formatAtom, formatJSON} }

// formatByExt finds a format by its file extension.
func formatByExt(ext string) (format, bool) {
	for _, f := range formats() {
		if f.ext == ext {
			return f, true
		}
	}
	return format{}, false
}

const (
	contentTypeOPML = "text/x-opml; charset=utf-8"
	contentTypeJSON = "application/json"
	contentTypeHTML = "text/html; charset=utf-8"
)

// epoch is the updated time of a feed with no items: fixed, so that an empty
// feed renders to the same bytes (and ETag) every time.
var epoch = time.Unix(0, 0).UTC()
