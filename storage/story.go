package storage

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	bolt "go.etcd.io/bbolt"
)

// Stories: every item names its story (aggregator.Item.StoryID); the
// stories bucket keeps each story's members with their dates and topics,
// and the topic indexes hold stories, keyed by the story's earliest
// Published, so a late copy changes an entry but does not move it. Three
// indexes find the candidates the merge rules compare: the link index in
// bbolt, and the title and band indexes of recent items in memory
// (recentIndex). No lookup scans the items.

// maxIndexKey bounds a link or title index key; longer ones (never seen in
// practice) are not indexed rather than rejected by bbolt.
const maxIndexKey = 2048

// maxLinkCandidates bounds what one link or title lookup reads: a link
// many items share is one story anyway.
const maxLinkCandidates = 64

// maxBandEntries bounds the entries read from one band in the time window:
// the latest, when a band is crowded (a common pair of words).
const maxBandEntries = 64

// Compile-time check that the transaction lookup is what the merger needs.
var _ aggregator.StoryLookup = (*txLookup)(nil)

// linkIndexKey returns the link index key of an item stored under ikey,
// or nil when it has no indexable link.
func linkIndexKey(it *aggregator.Item, ikey []byte) []byte {
	l := it.Keys.Link
	if l == "" || len(l) > maxIndexKey || strings.ContainsRune(l, 0) {
		return nil
	}
	k := make([]byte, 0, len(l)+1+len(ikey))
	k = append(append(append(k, l...), 0), ikey...)
	return k
}

// moveStoryKeys replaces the story index entries of stored (nil for a new
// item) with those of it (nil when the item goes): the link index's in
// tx, the title and band indexes' in recent (nil while migrating, before
// there is one).
func moveStoryKeys(tx *bolt.Tx, recent *recentTx, ikey []byte, stored, it *aggregator.Item) error {
	var old, next []byte
	if stored != nil {
		old = linkIndexKey(stored, ikey)
	}
	if it != nil {
		next = linkIndexKey(it, ikey)
	}
	if !bytes.Equal(old, next) {
		links := tx.Bucket(bucketStoryLink)
		if old != nil {
			if err := links.Delete(old); err != nil {
				return err
			}
		}
		if next != nil {
			if err := links.Put(next, nil); err != nil {
				return err
			}
		}
	}
	if recent != nil {
		recent.move(ikey, stored, it)
	}
	return nil
}

// getStory returns a stored story record, or nil.
func getStory(tx *bolt.Tx, id string) (*storyRecord, error) {
	v := tx.Bucket(bucketStories).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	r, err := decodeStory(v)
	if err != nil {
		return nil, fmt.Errorf("story %q: %w", id, err)
	}
	return r, nil
}

// derived returns what a story's members make of it: the earliest
// Published, the latest Updated and the union of topics (sorted).
func (r *storyRecord) derived() (published, updated time.Time, topics []string) {
	for i, m := range r.Members {
		if i == 0 || m.Published.Before(published) {
			published = m.Published
		}
		if m.Updated.After(updated) {
			updated = m.Updated
		}
	}
	if len(r.Members) == 1 {
		// Most stories have one member, whose list is stored normalised.
		return published, updated, normalizeTopics(r.Members[0].Topics)
	}
	for _, m := range r.Members {
		topics = append(topics, m.Topics...)
	}
	if len(topics) == 0 {
		return published, updated, nil
	}
	slices.Sort(topics)
	return published, updated, slices.Compact(topics)
}

func (r *storyRecord) clone() *storyRecord {
	if r == nil {
		return &storyRecord{}
	}
	return &storyRecord{Members: slices.Clone(r.Members), Absorbed: slices.Clone(r.Absorbed), Seq: r.Seq, KeyLag: r.KeyLag}
}

// setMember adds or replaces the member for it, keeping the members in
// order (a replaced member's Published may have moved).
func (r *storyRecord) setMember(it *aggregator.Item) {
	m := storyMember{Source: it.Source, ID: it.ID, Published: it.Published, Updated: it.Updated, Topics: it.Topics}
	if i := slices.IndexFunc(r.Members, func(o storyMember) bool { return o.Source == it.Source && o.ID == it.ID }); i >= 0 {
		r.Members[i] = m
	} else {
		r.Members = append(r.Members, m)
	}
	r.sortMembers()
}

// sortMembers orders the members earliest published first, ties by item
// key.
func (r *storyRecord) sortMembers() {
	slices.SortFunc(r.Members, func(a, b storyMember) int {
		if c := a.Published.Compare(b.Published); c != 0 {
			return c
		}
		return bytes.Compare(itemKey(a.Source, a.ID), itemKey(b.Source, b.ID))
	})
}

// removeMember drops the member stored under (source, id).
func (r *storyRecord) removeMember(source, id string) {
	r.Members = slices.DeleteFunc(r.Members, func(m storyMember) bool { return m.Source == source && m.ID == id })
}

// keyDay returns the day the story's topic index keys name, given its
// Published: the day of Published, or KeyLag days after it.
//
// A story's Published moves earlier as copies published before its first
// member join it. When that takes it into an earlier day, its key day
// stays where it was, so that its entries need not move in every topic it
// is in (in the end-to-end benchmark's cold poll, 17,600 such moves dirtied
// a sixth of the pages the writer wrote). A key day is thus never before
// the day of the story's Published, which is all TopicStories needs to
// list stories in order. When Published moves later than the key day, as
// when retention prunes the earliest member, the entries move to the day
// of Published.
func (r *storyRecord) keyDay(published time.Time) time.Time {
	return published.Truncate(topicDay).Add(time.Duration(r.KeyLag) * topicDay)
}

// maxKeyLag bounds KeyLag: a story whose Published moves further back
// than this moves its topic index entries instead, so that key days stay
// within what a time.Duration spans.
const maxKeyLag = 3650

// putStory writes next as story id (deleting the story, and the aliases
// of the stories it absorbed, when next has no members), its entry in the
// story order index, and moves its topic index entries from what old (nil
// when new) implied. A story without a sequence number (new, or stored
// before schema 4) is given the next one; next's KeyLag is set here. Every
// topic the story was or is in is recorded in changed, with the change to
// its count. next is old's clone, changed, or a new record when old is
// nil, so a stored story keeps its number.
func putStory(tx *bolt.Tx, id string, old, next *storyRecord, changed topicChanges) error {
	var oldKey, oldOrder []byte
	var oldDay time.Time
	var oldTopics []string
	if old != nil && len(old.Members) > 0 {
		var pub time.Time
		pub, _, oldTopics = old.derived()
		oldDay = old.keyDay(pub)
		oldKey = topicKey(oldDay, old.Seq)
		if len(oldTopics) > 0 {
			oldOrder = storyOrderValue(pub, id)
		}
	} else if len(next.Members) > 0 {
		// A new story whose id was absorbed before (its founder came back
		// after its tombstone expired): the id is a story again.
		if err := dropAlias(tx, id); err != nil {
			return err
		}
	}
	var newKey, newOrder []byte
	var newTopics []string
	stories := tx.Bucket(bucketStories)
	if len(next.Members) == 0 {
		if err := stories.Delete([]byte(id)); err != nil {
			return err
		}
		if old != nil {
			aliases := tx.Bucket(bucketStoryAlias)
			for _, a := range old.Absorbed {
				if err := aliases.Delete([]byte(a)); err != nil {
					return err
				}
			}
		}
	} else {
		if next.Seq == 0 {
			seq, err := stories.NextSequence()
			if err != nil {
				return err
			}
			next.Seq = seq
		}
		var pub time.Time
		pub, _, newTopics = next.derived()
		next.KeyLag = 0
		if oldKey != nil {
			// Keep the key day if Published is now on it or before it.
			if lag := oldDay.Sub(pub.Truncate(topicDay)) / topicDay; lag > 0 && lag <= maxKeyLag {
				next.KeyLag = uint64(lag)
			}
		}
		newKey = topicKey(next.keyDay(pub), next.Seq)
		if len(newTopics) > 0 {
			newOrder = storyOrderValue(pub, id)
		}
		b, err := encodeStory(next)
		if err != nil {
			return err
		}
		if err := stories.Put([]byte(id), b); err != nil {
			return err
		}
	}
	// Only a story in a topic has an order entry: one in none is never
	// listed, and costs no write there.
	order := tx.Bucket(bucketStoryOrder)
	if len(oldTopics) > 0 && len(newTopics) == 0 {
		if err := order.Delete(storyOrderKey(old.Seq)); err != nil {
			return err
		}
	}
	if len(newTopics) > 0 && !bytes.Equal(oldOrder, newOrder) {
		// New stories are numbered in order: appended.
		order.FillPercent = storyOrderFill
		if err := order.Put(storyOrderKey(next.Seq), newOrder); err != nil {
			return err
		}
	}
	// A story whose key day stays keeps its topic keys: only its order
	// entry changed.
	moved := !bytes.Equal(oldKey, newKey)
	for _, t := range oldTopics {
		changed.touch(t)
		if !moved && slices.Contains(newTopics, t) {
			continue
		}
		if err := topicIndexDelete(tx, t, oldKey, changed); err != nil {
			return err
		}
	}
	for _, t := range newTopics {
		changed.touch(t)
		if !moved && slices.Contains(oldTopics, t) {
			continue
		}
		if err := topicIndexPut(tx, t, newKey, changed); err != nil {
			return err
		}
	}
	return nil
}

// storyOrderFill is how full a split leaves the pages of the story order
// index: new stories' numbers come last.
const storyOrderFill = 0.9

// orderEntry is a story's entry in the story order index: its number and
// storyOrderValue.
type orderEntry struct {
	seq   uint64
	value []byte
}

// writeStoryOrder replaces the story order index with entries, put in
// order of number, so appended.
func writeStoryOrder(tx *bolt.Tx, entries []orderEntry) error {
	order, err := recreateBucket(tx, bucketStoryOrder, storyOrderFill)
	if err != nil {
		return err
	}
	slices.SortFunc(entries, func(a, b orderEntry) int { return cmp.Compare(a.seq, b.seq) })
	for _, e := range entries {
		if err := order.Put(storyOrderKey(e.seq), e.value); err != nil {
			return err
		}
	}
	return nil
}

// recreateBucket drops the top-level bucket name and creates it empty,
// its pages split at fill, for a migration or rebuild to write afresh.
func recreateBucket(tx *bolt.Tx, name []byte, fill float64) (*bolt.Bucket, error) {
	if err := tx.DeleteBucket(name); err != nil {
		return nil, fmt.Errorf("drop bucket %s: %w", name, err)
	}
	b, err := tx.CreateBucket(name)
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", name, err)
	}
	b.FillPercent = fill
	return b, nil
}

// dropAlias removes the alias of id, if any, and its mention in the story
// it names.
func dropAlias(tx *bolt.Tx, id string) error {
	aliases := tx.Bucket(bucketStoryAlias)
	target := aliases.Get([]byte(id))
	if target == nil {
		return nil
	}
	to := string(target)
	if err := aliases.Delete([]byte(id)); err != nil {
		return err
	}
	r, err := getStory(tx, to)
	if err != nil || r == nil {
		return err
	}
	r.Absorbed = slices.DeleteFunc(r.Absorbed, func(a string) bool { return a == id })
	b, err := encodeStory(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketStories).Put([]byte(to), b)
}

// absorbStories merges the stories from into the story into, which must
// exist: their members' items take into as their StoryID (a founder's
// MergedBy becomes "bridge"), their records and topic index entries go,
// into's record and entries cover every member, and an alias from each
// absorbed id (and from the ids those had absorbed) names into. It costs
// one read and write per moved member.
func absorbStories(tx *bolt.Tx, recent *recentTx, into string, from []string, changed topicChanges) error {
	dst, err := getStory(tx, into)
	if err != nil {
		return err
	}
	if dst == nil {
		return fmt.Errorf("merge into missing story %q", into)
	}
	next := dst.clone()
	items := tx.Bucket(bucketItems)
	aliases := tx.Bucket(bucketStoryAlias)
	for _, id := range from {
		if id == into {
			return fmt.Errorf("merge story %q into itself", id)
		}
		src, err := getStory(tx, id)
		if err != nil {
			return err
		}
		if src == nil {
			return fmt.Errorf("merge missing story %q into %q", id, into)
		}
		for _, m := range src.Members {
			key := itemKey(m.Source, m.ID)
			v := items.Get(key)
			if v == nil {
				return fmt.Errorf("story %q names missing item %q of %q", id, m.ID, m.Source)
			}
			it, err := decodeItem(v)
			if err != nil {
				return fmt.Errorf("item %q of %q: %w", m.ID, m.Source, err)
			}
			it.StoryID = into
			if it.MergedBy == "" {
				it.MergedBy = aggregator.MergedByBridge
			}
			b, err := encodeItem(&it)
			if err != nil {
				return fmt.Errorf("item %q of %q: %w", m.ID, m.Source, err)
			}
			recent.forgetHead(key)
			if err := items.Put(key, b); err != nil {
				return err
			}
			next.Members = append(next.Members, m)
		}
		if err := putStory(tx, id, src, &storyRecord{}, changed); err != nil {
			return err
		}
		for _, a := range append([]string{id}, src.Absorbed...) {
			if err := aliases.Put([]byte(a), []byte(into)); err != nil {
				return err
			}
			next.Absorbed = append(next.Absorbed, a)
		}
	}
	next.sortMembers()
	slices.Sort(next.Absorbed)
	next.Absorbed = slices.Compact(next.Absorbed)
	return putStory(tx, into, dst, next, changed)
}

// txLookup answers the merge rules' lookups inside a write transaction, so
// items stored earlier in the same feed are found too. The items it
// returns may share their lists with other callers' (see cachedHead):
// the merger only reads them.
type txLookup struct {
	tx     *bolt.Tx
	recent *recentTx
}

func (l *txLookup) items(keys [][]byte) ([]aggregator.Item, error) {
	items := l.tx.Bucket(bucketItems)
	out := make([]aggregator.Item, 0, len(keys))
	for _, k := range keys {
		if it, ok := l.recent.cachedHead(k); ok {
			out = append(out, it)
			continue
		}
		v := items.Get(k)
		if v == nil {
			return nil, fmt.Errorf("story index names missing item %q", k)
		}
		// A candidate is compared by its stored tokens; only an item
		// stored before tokens were kept needs its HTML.
		it, err := decodeItemHead(v)
		if err == nil && it.Tokens == nil {
			it, err = decodeItem(v)
		}
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", k, err)
		}
		if it.Tokens != nil {
			l.recent.cacheHead(k, it)
		}
		out = append(out, it)
	}
	return out, nil
}

// StoryPublished implements aggregator.StoryLookup.
func (l *txLookup) StoryPublished(id string) (time.Time, error) {
	r, err := getStory(l.tx, id)
	if err != nil {
		return time.Time{}, err
	}
	if r == nil || len(r.Members) == 0 {
		return time.Time{}, fmt.Errorf("story %q: %w", id, aggregator.ErrNotFound)
	}
	pub, _, _ := r.derived()
	return pub, nil
}

// ByLink implements aggregator.StoryLookup.
func (l *txLookup) ByLink(link string) ([]aggregator.Item, error) {
	prefix := []byte(link + "\x00")
	var keys [][]byte
	c := l.tx.Bucket(bucketStoryLink).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(keys) < maxLinkCandidates; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k[len(prefix):]))
	}
	return l.items(keys)
}

// ByTitleKey implements aggregator.StoryLookup.
func (l *txLookup) ByTitleKey(key string, from, to time.Time) ([]aggregator.Item, error) {
	keys, err := l.recent.byTitle(key, from, to, maxLinkCandidates)
	if err != nil {
		return nil, err
	}
	return l.items(keys)
}

// ByBands implements aggregator.StoryLookup: it counts shared bands in
// the recent index and decodes only the items it returns.
func (l *txLookup) ByBands(bands []uint64, from, to time.Time, minShared, limit int, keep func(aggregator.TitleSketch) bool) ([]aggregator.Item, error) {
	keys, err := l.recent.byBands(bands, from, to, minShared, limit, keep)
	if err != nil {
		return nil, err
	}
	return l.items(keys)
}

// readStory assembles a story from its record and its members' items.
func readStory(tx *bolt.Tx, id string) (aggregator.Story, error) {
	r, err := getStory(tx, id)
	if err != nil {
		return aggregator.Story{}, err
	}
	if r == nil || len(r.Members) == 0 {
		return aggregator.Story{}, aggregator.ErrNotFound
	}
	items := tx.Bucket(bucketItems)
	s := aggregator.Story{ID: id, Members: make([]aggregator.Item, 0, len(r.Members))}
	s.Published, s.Updated, s.Topics = r.derived()
	for _, m := range r.Members {
		v := items.Get(itemKey(m.Source, m.ID))
		if v == nil {
			return aggregator.Story{}, fmt.Errorf("story %q names missing item %q of %q", id, m.ID, m.Source)
		}
		it, err := decodeItem(v)
		if err != nil {
			return aggregator.Story{}, fmt.Errorf("item %q of %q: %w", m.ID, m.Source, err)
		}
		s.Members = append(s.Members, it)
	}
	aggregator.SortMembers(s.Members)
	return s, nil
}

// storySchema is the first schema with stories, topicKeySchema the first
// whose topic indexes are keyed by day and story number, storyOrderSchema
// the first with the story order index (see topicKey).
const (
	storySchema      = 2
	topicKeySchema   = 4
	storyOrderSchema = 6
)

func (db *DB) checkSchema() error {
	if db.schema < storySchema {
		return ErrOldSchema
	}
	return nil
}

// TopicStories returns up to limit stories of topic (all when limit <= 0),
// the story whose earliest member was published last first; ties go to the
// greater story ID. It walks the topic's index backwards a day at a time
// (see topicKey), ordering each day's stories by their Published in the
// story order index and reading the records of those it returns, so the
// cost is proportional to limit and the stories of a day, not to the
// store. An unknown topic has none.
func (db *DB) TopicStories(ctx context.Context, topic string, limit int) ([]aggregator.Story, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: topic stories %q: %w", topic, err)
	}
	if err := db.checkSchema(); err != nil {
		return nil, fmt.Errorf("storage: topic stories %q: %w", topic, err)
	}
	out := []aggregator.Story{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		tb := topicBucket(tx, topic)
		if tb == nil {
			return nil
		}
		var err error
		switch {
		case db.schema < topicKeySchema:
			out, err = topicStoriesByTime(ctx, tx, tb, limit)
		case db.schema < storyOrderSchema:
			out, err = topicStoriesByDay(ctx, tx, tb, limit, func(k, v []byte) (at, id []byte, err error) {
				if len(k) <= topicKeyV4PrefixLen || len(v) != timeKeyLen {
					return nil, nil, fmt.Errorf("malformed index entry %x: %x", k, v)
				}
				return v, k[topicKeyV4PrefixLen:], nil
			})
		default:
			order := storyOrderReader{c: tx.Bucket(bucketStoryOrder).Cursor()}
			out, err = topicStoriesByDay(ctx, tx, tb, limit, func(k, _ []byte) (at, id []byte, err error) {
				seq, err := topicKeySeq(k)
				if err != nil {
					return nil, nil, err
				}
				v := order.get(seq)
				if v == nil {
					return nil, nil, fmt.Errorf("topic index names story number %d, which the story order index lacks", seq)
				}
				return storyOrderEntry(v)
			})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: topic stories %q: %w", topic, err)
	}
	return out, nil
}

// storyOrderReader looks up story order entries, fastest in descending
// order of number, as a topic index walked backwards names them within a
// day: a number a few entries before the last one found is reached by
// stepping back, any other by a seek.
type storyOrderReader struct {
	c    *bolt.Cursor
	k, v []byte // the cursor's entry
	key  [8]byte
}

// storyOrderSteps is how many entries get steps back over before it
// seeks.
const storyOrderSteps = 8

// get returns the value for story number seq, nil if there is none.
func (r *storyOrderReader) get(seq uint64) []byte {
	binary.BigEndian.PutUint64(r.key[:], seq)
	for i := 0; i < storyOrderSteps && r.k != nil && bytes.Compare(r.k, r.key[:]) > 0; i++ {
		r.k, r.v = r.c.Prev()
	}
	if !bytes.Equal(r.k, r.key[:]) {
		r.k, r.v = r.c.Seek(r.key[:])
	}
	if !bytes.Equal(r.k, r.key[:]) {
		return nil
	}
	return r.v
}

// topicStoriesByDay is TopicStories on an index keyed by day first (schema
// 4 on), whose entries entryOf turns into the time key of a story's
// Published and its ID. It gathers the entries of one key day at a time,
// newest first, and returns, in order, those published on or after the
// start of that day: no story of an earlier key day is (see keyDay). The
// others wait for the day of their Published.
func topicStoriesByDay(ctx context.Context, tx *bolt.Tx, tb *bolt.Bucket, limit int, entryOf func(k, v []byte) (at, id []byte, err error)) ([]aggregator.Story, error) {
	out := []aggregator.Story{}
	type entry struct{ at, id []byte }
	var waiting []entry // sorted latest last, so that the next to go is at the end
	c := tb.Cursor()
	k, v := c.Last()
	for (len(waiting) > 0 || k != nil) && (limit <= 0 || len(out) < limit) {
		var from []byte // the start of the key day gathered; nil when none is left
		if k != nil {
			from = k[:min(len(k), timeKeyLen)]
			for ; k != nil && bytes.HasPrefix(k, from); k, v = c.Prev() {
				at, id, err := entryOf(k, v)
				if err != nil {
					return nil, err
				}
				waiting = append(waiting, entry{at, id})
			}
			slices.SortFunc(waiting, func(a, b entry) int {
				if c := bytes.Compare(a.at, b.at); c != 0 {
					return c
				}
				return bytes.Compare(a.id, b.id)
			})
		}
		for len(waiting) > 0 {
			e := waiting[len(waiting)-1]
			if from != nil && bytes.Compare(e.at, from) < 0 {
				break
			}
			if limit > 0 && len(out) == limit {
				break
			}
			if len(out)%256 == 255 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			s, err := readStory(tx, string(e.id))
			if errors.Is(err, aggregator.ErrNotFound) {
				return nil, fmt.Errorf("topic index names missing story %q", e.id)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			waiting = waiting[:len(waiting)-1]
		}
	}
	return out, nil
}

// topicStoriesByTime is TopicStories on an index of schema 2 or 3, keyed by
// time and story ID, in a database opened read-only before its migration.
func topicStoriesByTime(ctx context.Context, tx *bolt.Tx, tb *bolt.Bucket, limit int) ([]aggregator.Story, error) {
	out := []aggregator.Story{}
	c := tb.Cursor()
	for k, _ := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Prev() {
		if len(out)%256 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if len(k) <= timeKeyLen {
			return nil, fmt.Errorf("malformed index key %x", k)
		}
		s, err := readStory(tx, string(k[timeKeyLen:]))
		if errors.Is(err, aggregator.ErrNotFound) {
			return nil, fmt.Errorf("topic index names missing story %q", k[timeKeyLen:])
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Story returns one story with its members; the error wraps
// aggregator.ErrNotFound when there is none. The id of a story absorbed
// into another returns the surviving story (whose ID differs) for as
// long as that one is stored.
func (db *DB) Story(ctx context.Context, id string) (aggregator.Story, error) {
	if err := ctx.Err(); err != nil {
		return aggregator.Story{}, fmt.Errorf("storage: story %q: %w", id, err)
	}
	if err := db.checkSchema(); err != nil {
		return aggregator.Story{}, fmt.Errorf("storage: story %q: %w", id, err)
	}
	var s aggregator.Story
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		s, err = readStory(tx, id)
		if errors.Is(err, aggregator.ErrNotFound) {
			// Aliases are kept flat: one hop reaches the survivor.
			if ab := tx.Bucket(bucketStoryAlias); ab != nil {
				if to := ab.Get([]byte(id)); to != nil {
					s, err = readStory(tx, string(to))
				}
			}
		}
		return err
	})
	if err != nil {
		return aggregator.Story{}, fmt.Errorf("storage: story %q: %w", id, err)
	}
	return s, nil
}

// migrateV1 turns a schema 1 database into schema 2: every item becomes a
// story of its own (with its own ID, so feed entry ids do not change), its
// story keys are computed and indexed, and the topic indexes, which held
// items, are rebuilt to hold stories.
func migrateV1(tx *bolt.Tx) (int, error) {
	type rewrite struct {
		key []byte
		it  aggregator.Item
	}
	var rewrites []rewrite
	c := tx.Bucket(bucketItems).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		it, err := decodeItem(v)
		if err != nil {
			return 0, fmt.Errorf("item %q: %w", k, err)
		}
		if it.StoryID == "" {
			it.StoryID = it.ID
		}
		it.Keys = aggregator.StoryKeysOf(&it, it.Source)
		rewrites = append(rewrites, rewrite{bytes.Clone(k), it})
	}
	names, err := dropTopicIndexes(tx)
	if err != nil {
		return 0, err
	}
	for _, n := range names {
		if err := tx.Bucket(bucketTopicCount).Delete(n); err != nil {
			return 0, err
		}
	}
	changed := topicChanges{}
	for i := range rewrites {
		r := &rewrites[i]
		b, err := encodeItem(&r.it)
		if err != nil {
			return 0, fmt.Errorf("item %q: %w", r.key, err)
		}
		if err := tx.Bucket(bucketItems).Put(r.key, b); err != nil {
			return 0, err
		}
		if err := moveStoryKeys(tx, nil, r.key, nil, &r.it); err != nil {
			return 0, err
		}
		old, err := getStory(tx, r.it.StoryID)
		if err != nil {
			return 0, err
		}
		next := old.clone()
		next.setMember(&r.it)
		if err := putStory(tx, r.it.StoryID, old, next, changed); err != nil {
			return 0, err
		}
	}
	if err := changed.saveCounts(tx); err != nil {
		return 0, err
	}
	return len(rewrites), nil
}

// dropTopicIndexes deletes every topic's index and returns their names.
func dropTopicIndexes(tx *bolt.Tx) ([][]byte, error) {
	topics := tx.Bucket(bucketTopics)
	var names [][]byte
	if err := topics.ForEachBucket(func(k []byte) error { names = append(names, bytes.Clone(k)); return nil }); err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := topics.DeleteBucket(n); err != nil {
			return nil, fmt.Errorf("topic %q: %w", n, err)
		}
	}
	return names, nil
}

// migrateV3 turns a schema 3 database into schema 4: every story is
// numbered, in the order of its Published. (Schema 4 also rebuilt the
// topic indexes keyed by day and number; migrateV5, which follows, builds
// them as schema 6 has them.)
func migrateV3(tx *bolt.Tx) error {
	type story struct {
		id  []byte
		pub time.Time
	}
	var all []story
	err := tx.Bucket(bucketStories).ForEach(func(k, v []byte) error {
		r, err := decodeStory(v)
		if err != nil {
			return fmt.Errorf("story %q: %w", k, err)
		}
		pub, _, _ := r.derived()
		all = append(all, story{bytes.Clone(k), pub})
		return nil
	})
	if err != nil {
		return err
	}
	// In order of publication, numbers grow with days: the topic indexes
	// migrateV5 builds are written by appending.
	slices.SortFunc(all, func(a, b story) int {
		if c := a.pub.Compare(b.pub); c != 0 {
			return c
		}
		return bytes.Compare(a.id, b.id)
	})
	stories := tx.Bucket(bucketStories)
	for _, s := range all {
		r, err := getStory(tx, string(s.id))
		if err != nil {
			return err
		}
		if r.Seq, err = stories.NextSequence(); err != nil {
			return err
		}
		b, err := encodeStory(r)
		if err != nil {
			return fmt.Errorf("story %q: %w", s.id, err)
		}
		if err := stories.Put(s.id, b); err != nil {
			return err
		}
	}
	return nil
}

// migrateV5 turns a schema 5 database into schema 6: the story order index
// is built from the records of the stories in a topic, and the topic
// indexes are rebuilt keyed by day and story number only, with empty
// values (see topicKey), and their counts taken again. Schema 5's records
// have no KeyLag: their key day is the day of their Published.
func migrateV5(tx *bolt.Tx) error {
	var order []orderEntry
	index := map[string][][]byte{} // topic → its keys
	err := tx.Bucket(bucketStories).ForEach(func(k, v []byte) error {
		r, err := decodeStory(v)
		if err != nil {
			return fmt.Errorf("story %q: %w", k, err)
		}
		if r.Seq == 0 {
			// Schema 4's migration numbered every story.
			return fmt.Errorf("story %q has no sequence number", k)
		}
		pub, _, topics := r.derived()
		if len(topics) == 0 {
			return nil // a story in no topic has no order entry
		}
		order = append(order, orderEntry{r.Seq, storyOrderValue(pub, string(k))})
		key := topicKey(r.keyDay(pub), r.Seq)
		for _, t := range topics {
			index[t] = append(index[t], key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := writeStoryOrder(tx, order); err != nil {
		return err
	}
	names, err := dropTopicIndexes(tx)
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, ok := index[string(n)]; !ok {
			if err := setTopicCount(tx, string(n), 0); err != nil {
				return err
			}
		}
	}
	for t, keys := range index {
		if err := writeTopicIndex(tx, t, keys); err != nil {
			return err
		}
	}
	return nil
}

// migrateV4 turns a schema 4 database into schema 5: the retention index,
// keyed by each item's exact Published up to schema 4, is rebuilt keyed
// by its day and FirstSeen, with the time as the value (see
// publishedKey).
func migrateV4(tx *bolt.Tx) error {
	type entry struct{ key, value []byte }
	var all []entry
	err := tx.Bucket(bucketItems).ForEach(func(k, v []byte) error {
		it, err := decodeItemHead(v)
		if err != nil {
			return fmt.Errorf("item %q: %w", k, err)
		}
		all = append(all, entry{publishedKey(it.Published, it.FirstSeen, k), timeKeyBytes(it.Published)})
		return nil
	})
	if err != nil {
		return err
	}
	// Put in key order, the entries are appended.
	pub, err := recreateBucket(tx, bucketPublished, publishedIndexFill)
	if err != nil {
		return err
	}
	slices.SortFunc(all, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	for _, e := range all {
		if err := pub.Put(e.key, e.value); err != nil {
			return err
		}
	}
	return nil
}

// migrateV2 turns a schema 2 database into schema 3: the title and band
// story indexes move to memory (recentIndex), so their buckets go, and
// each topic's story count is stored.
func migrateV2(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketStoryTitleV2, bucketStoryBandV2} {
		if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return fmt.Errorf("drop bucket %s: %w", name, err)
		}
	}
	// Counted with a cursor: Stats reads only committed pages, and
	// migrateV1 may have rebuilt the indexes in this transaction.
	return tx.Bucket(bucketTopics).ForEachBucket(func(name []byte) error {
		n := 0
		c := tx.Bucket(bucketTopics).Bucket(name).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		return setTopicCount(tx, string(name), n)
	})
}
