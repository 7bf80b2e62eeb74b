// Package aggregator owns tributary's domain: sources, topics, items and the
// per-source polling state, and the pipeline that turns a polled feed into
// stored, deduplicated, topic-matched items (fetch, parse, normalise, dedupe,
// match, schedule). It declares the storage it needs as the Store interface;
// the storage package implements it. Nothing here imports storage, publish or
// cmd.
package aggregator

import (
	"context"
	"errors"
	"time"
)

// Source is one configured feed.
type Source struct {
	Name     string   // [a-z0-9][a-z0-9-]*, unique
	URL      string   // http(s):// or file:// (absolute path)
	Title    string   // optional display title
	Schedule string   // cron spec or descriptor; empty means the global default
	Tags     []string // optional labels a topic can select with "tag:NAME"
	// Backlog bounds which items a source already carried when it was
	// first polled may enter topics: only those published within it. 0
	// takes everything.
	Backlog time.Duration
	// Priority prefers a source as the lead of a story several outlets
	// ran (higher first); 0 is the default.
	Priority int
}

// Topic is one merged output feed.
type Topic struct {
	Name    string   // [a-z0-9][a-z0-9-]*, unique; the URL slug
	Title   string   // feed title
	Query   string   // topic query (see package aggregator/query)
	Sources []string // optional: source names and "tag:NAME" entries; empty means every source
}

// Item is one feed entry, normalised from whatever format it came in.
type Item struct {
	// ID is the public, permanent id of the item (a urn:uuid derived from
	// the source name and the item's identity). It never changes once the
	// item is stored, and it is the storage key within its source.
	ID string
	// Source is the name of the source the item came from.
	Source string
	// Identity is what identified the item within its source: its guid/id,
	// else its link, else a hash of title and published time.
	Identity string

	Link       string
	Title      string
	Summary    string // HTML as the feed gave it (sanitised on output)
	Content    string // HTML as the feed gave it (sanitised on output)
	Authors    []string
	Categories []string

	// Published is when the item was published. Before storage it may be
	// zero (the feed gave no usable date); Reconcile replaces it.
	Published time.Time
	// Updated is when the item last changed: the feed's own date for a new
	// item, the time tributary saw the change for a changed one.
	Updated time.Time
	// FirstSeen is when tributary first stored the item.
	FirstSeen time.Time

	// Hash fingerprints the feed-provided fields; a changed hash means the
	// item changed at its source.
	Hash string
	// Topics are the names of the topics the item belongs to, kept with
	// the item so that storage can maintain the topic indexes.
	Topics []string

	// StoryID is the id of the story (the cluster of copies of one news
	// story across outlets) the item belongs to. A story's id is its
	// founding member's item ID, so a story of one item has the item's id.
	// It is stable for as long as the story is not absorbed: when a new
	// item matches members of several stories, they become one, under the
	// id of the one whose earliest member is earliest (ties: the lower
	// id), and the members of the others take that id.
	StoryID string
	// MergedBy is the rule that put the item into a story it did not
	// found: "link", "title" or "near"; "bridge" for the founder of a
	// story that was absorbed into another; "" for a story's founder.
	MergedBy string
	// MergeStories, set by Cluster for a new item only, are the ids of the
	// other stories the item matches: storage absorbs them into StoryID in
	// the same transaction. It is not stored.
	MergeStories []string `json:"-"`
	// Keys are what the story indexes look the item up by, computed by
	// StoryMerger; empty keys are not indexed.
	Keys StoryKeys
	// Tokens are what the merge rules compare of the item, computed by
	// StoryMerger with Keys and stored with it, so that an item found as a
	// candidate later is compared without parsing its HTML again. Nil for
	// an item stored before they were kept.
	Tokens *StoryTokens
}

// StoryTokens are an item's title and lede reduced to content tokens
// (folded, stemmed, stopwords dropped), in text order, and those of them
// that name something (numbers, proper names).
type StoryTokens struct {
	Title      []string
	TitleNamed []string
	Lede       []string
	LedeNamed  []string
}

// SortTime is the time an item sorts by in topic feeds and ages by in
// retention: when it was published.
func (it *Item) SortTime() time.Time { return it.Published }

// SourceState is what tributary remembers about polling one source.
type SourceState struct {
	Source string

	// HTTP validators, kept separately: many servers send only one.
	ETag         string
	LastModified string
	// BodyHash is the hash of the last body parsed; an identical body is
	// "nothing new" even without validators.
	BodyHash string

	LastPolled          time.Time // zero before the first poll
	LastStatus          int       // HTTP status; 0 when there was no HTTP response
	LastError           string    // plain words; "" after a success
	ConsecutiveFailures int
	NextPoll            time.Time
	// Disabled is set by 410 Gone; it holds while the configured URL is
	// still ConfigURL.
	Disabled          bool
	PermanentRedirect string // the new URL after a 301/308, else ""
	// ConfigURL is the configured URL the state was recorded for: when the
	// config names another URL, redirect and disabled state no longer apply.
	ConfigURL string
	// RetryAfter is when the publisher asked us to come back (429/503
	// Retry-After); no poll, scheduled or manual, fetches before it.
	RetryAfter time.Time
	// MinInterval is the publisher's own hint of how often to poll (RSS
	// ttl, sy:updatePeriod, Cache-Control max-age), at most a day.
	MinInterval time.Duration

	// ItemCount is how many items of the source are stored. Storage
	// maintains it; what the poller sets is ignored.
	ItemCount int
}

// FeedUpdate is the result of polling one source, to be stored in one
// transaction: either all of it lands or none of it.
type FeedUpdate struct {
	Source string
	State  SourceState
	Items  []Item
	// Reconcile is called inside the write transaction for every incoming
	// item that is not tombstoned, with the stored version of the same item
	// (nil when it is new). It completes incoming (first seen, published,
	// updated, topics) from stored and reports whether incoming must be
	// written. It must not keep stored beyond the call.
	Reconcile func(stored, incoming *Item) bool
	// Cluster, when set, is called inside the write transaction for every
	// item Reconcile accepted, after it. It sets the item's Keys and, for a
	// new item (StoryID empty), its StoryID and MergedBy, looking earlier
	// items up through lookup; a stored item arrives with its StoryID set,
	// which must not change. For a new item it may also set MergeStories,
	// the other stories storage must merge into StoryID. When Cluster is
	// nil every new item founds a story of its own and is not indexed for
	// merging.
	Cluster func(it *Item, lookup StoryLookup) error
}

// StoryLookup finds stored items that may be copies of a new one, through
// the story indexes. Returned items are copies the caller may keep.
type StoryLookup interface {
	// ByLink returns the items with this canonical link.
	ByLink(link string) ([]Item, error)
	// ByTitleKey returns the items with this title key published within
	// [from, to].
	ByTitleKey(key string, from, to time.Time) ([]Item, error)
	// ByBands returns the items published within [from, to] that share at
	// least minShared of these locality-sensitive hash bands, most shared
	// first, at most limit of them, less those whose title sketch (the
	// Sketch of their Tokens) keep rejects; a nil keep rejects none. It
	// may look at only the latest entries of a crowded band.
	ByBands(bands []uint64, from, to time.Time, minShared, limit int, keep func(TitleSketch) bool) ([]Item, error)
	// StoryPublished returns a stored story's Published (its earliest
	// member's); the error wraps ErrNotFound when there is no such story.
	StoryPublished(id string) (time.Time, error)
}

// StoryKeys are an item's entries in the story indexes.
type StoryKeys struct {
	Link  string   // CanonicalLink of the item's link; "" when it has none
	Title string   // TitleKey of its title; "" when too short to index
	Bands []uint64 // MinHash LSH bands of its title and lede
}

// Story is a cluster of items that are copies of one news story.
type Story struct {
	ID string
	// Members are the story's items, earliest published first (ties by
	// source, then item ID).
	Members []Item
	// Published is the earliest member's; a topic feed sorts by it, so a
	// late copy does not move the story up.
	Published time.Time
	// Updated is the latest member Updated: a late copy moves it.
	Updated time.Time
	// Topics is the union of the members' topics.
	Topics []string
}

// SaveResult says what storing a FeedUpdate changed.
type SaveResult struct {
	New        int
	Updated    int
	Unchanged  int
	Tombstoned int // items skipped because they were pruned before
	// Merged counts story unions: a new item joining an existing story is
	// one, and each further story it absorbs one more.
	Merged int
	// ChangedTopics names the topics whose item lists changed.
	ChangedTopics []string
}

// PruneResult says what a retention pass removed.
type PruneResult struct {
	Items         int
	ChangedTopics []string
}

// TopicMembership describes one configured topic to Store.SyncTopics.
type TopicMembership struct {
	Name string
	// Fingerprint changes whenever the topic's own selection changes (its
	// query or its source restriction); a stored fingerprint that differs
	// triggers a rematch.
	Fingerprint string
	// Match reports whether an item belongs to the topic.
	Match func(*Item) bool
}

// SourceMembership describes one configured source to Store.SyncTopics:
// Description says what of the source decides whether its items enter
// topics (its tags, its backlog window). A source whose stored
// description differs has items that may now belong elsewhere, so every
// topic is rematched; a source never seen before has no items, so adding
// one rematches nothing.
type SourceMembership struct {
	Name        string
	Description string
}

// ErrNotFound is returned for a source, topic or item that is not stored.
var ErrNotFound = errors.New("not found")

// Store is the persistence the pipeline needs. One method is one
// transaction.
type Store interface {
	// SourceState returns the stored state of a source, or a zero state
	// (with Source set) when it was never polled.
	SourceState(ctx context.Context, source string) (SourceState, error)
	// SaveState stores a source's state alone (a failure, a 304).
	SaveState(ctx context.Context, state SourceState) error
	// SaveStates stores the states of sources polled earlier, in one
	// transaction, each unless the stored state was polled later.
	SaveStates(ctx context.Context, states []SourceState) error
	// SaveFeed stores a polled feed's items and the source's state together.
	SaveFeed(ctx context.Context, update FeedUpdate) (SaveResult, error)
	// Prune deletes items published before cutoff, leaving tombstones, and
	// drops tombstones older than cutoff.
	Prune(ctx context.Context, cutoff time.Time) (PruneResult, error)
	// SyncTopics makes the stored topic memberships match the configured
	// topics and sources: a topic whose fingerprint changed (or is new)
	// is rematched against every stored item, and every topic is when a
	// known source's description changed; a topic no longer configured
	// is dropped. It returns the names of the topics it rebuilt or
	// dropped.
	SyncTopics(ctx context.Context, topics []TopicMembership, sources []SourceMembership) ([]string, error)
}
