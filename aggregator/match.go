package aggregator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-news/tributary/aggregator/query"
)

// TopicMatcher decides which topics an item belongs to: the topic's query
// must match and the item's source must be one the topic allows. It is
// immutable, so one matcher can serve concurrent polls; a new config makes
// a new matcher.
type TopicMatcher struct {
	topics     []compiledTopic
	vocabulary *query.Vocabulary        // the words the topics' queries look up
	sourceTags map[string][]string      // source name → its tags
	backlog    map[string]time.Duration // source name → its backlog window
	sources    []SourceMembership
}

type compiledTopic struct {
	name        string
	query       *query.Query
	allowAll    bool
	allowed     map[string]bool // source names and "tag:NAME" entries
	fingerprint string
}

// NewTopicMatcher compiles the topics' queries. sources supplies the tags
// that "tag:NAME" entries and source: terms refer to.
func NewTopicMatcher(topics []Topic, sources []Source) (*TopicMatcher, error) {
	m := &TopicMatcher{
		sourceTags: make(map[string][]string, len(sources)),
		backlog:    make(map[string]time.Duration, len(sources)),
	}
	for _, s := range sources {
		m.sourceTags[s.Name] = s.Tags
		m.backlog[s.Name] = s.Backlog
		m.sources = append(m.sources, SourceMembership{Name: s.Name, Description: describeSource(s)})
	}
	for _, t := range topics {
		q, err := query.Parse(t.Query)
		if err != nil {
			return nil, fmt.Errorf("topic %q: query: %w", t.Name, err)
		}
		ct := compiledTopic{name: t.Name, query: q, allowAll: len(t.Sources) == 0}
		if !ct.allowAll {
			ct.allowed = make(map[string]bool, len(t.Sources))
			for _, s := range t.Sources {
				ct.allowed[s] = true
			}
		}
		ct.fingerprint = topicFingerprint(q, t.Sources)
		m.topics = append(m.topics, ct)
	}
	qs := make([]*query.Query, len(m.topics))
	for i := range m.topics {
		qs[i] = m.topics[i].query
	}
	m.vocabulary = query.NewVocabulary(qs...)
	return m, nil
}

// topicFingerprint changes whenever what a topic itself selects changes:
// its parsed query (so reformatting a query does not force a rematch) and
// its source restriction. What the sources bring (their tags, their
// backlog windows) is each source's own description (describeSource), so
// that adding a source, which has no items yet, rematches nothing.
func topicFingerprint(q *query.Query, allowed []string) string {
	sorted := slices.Clone(allowed)
	slices.Sort(sorted)
	var b strings.Builder
	b.WriteString(q.String())
	b.WriteString("\x00")
	b.WriteString(strings.Join(sorted, "\x00"))
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}

// describeSource is what of a source decides whether its items enter
// topics: its tags (which tag: restrictions and source terms of queries
// see) and its backlog window.
func describeSource(s Source) string {
	tags := slices.Clone(s.Tags)
	slices.Sort(tags)
	return strings.Join(tags, ",") + "|" + strconv.FormatInt(int64(s.Backlog), 10)
}

func (ct *compiledTopic) allows(source string, tags []string) bool {
	if ct.allowAll || ct.allowed[source] {
		return true
	}
	for _, tag := range tags {
		if ct.allowed["tag:"+tag] {
			return true
		}
	}
	return false
}

// document normalises an item once for matching against every topic,
// indexing the words the topics look up.
func (m *TopicMatcher) document(it *Item) *query.Document {
	return m.vocabulary.NewDocument(query.Fields{
		Title:      it.Title,
		Summary:    it.Summary,
		Content:    it.Content,
		Categories: it.Categories,
		Authors:    it.Authors,
		Source:     it.Source,
		SourceTags: m.sourceTags[it.Source],
	})
}

// isBacklog reports whether an item is backlog: first seen longer after
// its publication than its source's backlog window. Such an item — one a
// source already carried when first polled, or an old one it surfaced
// later — is stored but enters no topic, so that adding a source with a
// long archive does not flood the topic feeds.
func (m *TopicMatcher) isBacklog(it *Item) bool {
	window := m.backlog[it.Source]
	return window > 0 && !it.FirstSeen.IsZero() && it.FirstSeen.Sub(it.Published) > window
}

// Match returns the names of the topics the item belongs to, in config
// order. The item's text is normalised once and shared across topics.
func (m *TopicMatcher) Match(it *Item) []string {
	if m.isBacklog(it) {
		return nil
	}
	return m.MatchText(it)
}

// MatchText returns the names of the topics whose query matches the item
// and whose sources include its source, in config order: Match without
// the backlog rule, which depends on when the item is first seen. A
// poller matches a feed's items before the store's transaction and
// applies the rule inside it with Admit.
func (m *TopicMatcher) MatchText(it *Item) []string {
	var names []string
	var doc *query.Document
	tags := m.sourceTags[it.Source]
	for i := range m.topics {
		ct := &m.topics[i]
		if !ct.allows(it.Source, tags) {
			continue
		}
		if doc == nil {
			doc = m.document(it)
		}
		if ct.query.Match(doc) {
			names = append(names, ct.name)
		}
	}
	return names
}

// Admit returns the topics (from MatchText) the item enters: none when it
// is backlog.
func (m *TopicMatcher) Admit(it *Item, topics []string) []string {
	if m.isBacklog(it) {
		return nil
	}
	return topics
}

// SourceMemberships describes every configured source for
// Store.SyncTopics.
func (m *TopicMatcher) SourceMemberships() []SourceMembership { return slices.Clone(m.sources) }

// Memberships describes every topic for Store.SyncTopics.
func (m *TopicMatcher) Memberships() []TopicMembership {
	out := make([]TopicMembership, 0, len(m.topics))
	for i := range m.topics {
		ct := &m.topics[i]
		out = append(out, TopicMembership{
			Name:        ct.name,
			Fingerprint: ct.fingerprint,
			Match: func(it *Item) bool {
				return !m.isBacklog(it) && ct.allows(it.Source, m.sourceTags[it.Source]) && ct.query.Match(m.document(it))
			},
		})
	}
	return out
}

// TopicTrial is what trying a topic against stored items found.
type TopicTrial struct {
	Matches    []TopicMatch // newest first
	NotMatched int          // items from allowed sources the query did not match
	Excluded   int          // items from sources the topic does not draw from
}

// TopicMatch is one stored item a topic matched, with the query terms and
// phrases that occur in it.
type TopicMatch struct {
	Item  Item
	Terms []string
}

// TryTopic matches one topic against every item each yields, changing
// nothing: it lets an admin tune a query before saving it. each is called
// with a function to call once per stored item (the item is valid only
// during the call).
func TryTopic(topic Topic, sources []Source, each func(fn func(*Item) error) error) (*TopicTrial, error) {
	m, err := NewTopicMatcher([]Topic{topic}, sources)
	if err != nil {
		return nil, err
	}
	ct := &m.topics[0]
	trial := &TopicTrial{}
	err = each(func(it *Item) error {
		if !ct.allows(it.Source, m.sourceTags[it.Source]) {
			trial.Excluded++
			return nil
		}
		doc := m.document(it)
		if !ct.query.Match(doc) {
			trial.NotMatched++
			return nil
		}
		trial.Matches = append(trial.Matches, TopicMatch{Item: *it, Terms: ct.query.Explain(doc)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(trial.Matches, func(a, b TopicMatch) int {
		if c := b.Item.Published.Compare(a.Item.Published); c != 0 {
			return c
		}
		return strings.Compare(a.Item.ID, b.Item.ID)
	})
	return trial, nil
}
