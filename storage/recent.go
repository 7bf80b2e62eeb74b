package storage

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/tributary-news/tributary/aggregator"
	"github.com/tributary-news/tributary/aggregator/fifo"
	bolt "go.etcd.io/bbolt"
)

// recentKeep is how far back from now the recent index holds items once
// trimmed: a story window and recentLate more, so that an item published
// up to a day before it arrives (news arrives within hours) finds all its
// candidates without extending the index.
//
// It was three windows, then two (six days, then four). On the start-up
// benchmark's store of 300,000 items, ten thousand a day, the daemon
// idled after a poll at 70-74 MiB of RSS with six days, 52-54 MiB with
// four, and 46-47 MiB with three; in the growth benchmark, an item cost
// 12 % less to store at 1,000,000 items with three days than with four
// (86.6 µs against 98.7, medians of 3 rounds). An item published
// one to two days before it arrives now extends the index back until the
// next trim: a walk of the items in between, about 0.2 s a day of that
// store, once an hour at most (see recentTrimEvery).
const recentKeep = aggregator.StoryWindow + recentLate

// recentLate is how long before it arrives an item may have been
// published and still find its candidates in the index without extending
// it.
const recentLate = 24 * time.Hour

// recentTrimEvery is how often at most the index is trimmed back to
// recentKeep, so that a poll cycle bringing several backlogs extends it
// once rather than once per feed.
const recentTrimEvery = time.Hour

// recentTrimSlack is how far the horizon may fall behind recentKeep as
// time passes before a trim brings it back: a trim walks the whole index
// (see trim), so one every six hours costs a sixth of one every hour.
// The index holds up to six hours of items more for it, 8 % of three
// days. An index extended further back is trimmed within the hour.
const recentTrimSlack = 6 * time.Hour

// recentIndex holds the title and band story indexes of the items
// published since its horizon, in memory.
//
// Each item has 17 such entries (its title key and 16 MinHash bands). As
// bbolt keys they were 17 random-key inserts per item in the single write
// transaction, and the commit wrote a leaf page for most of them. The
// merge rules only look within aggregator.StoryWindow of an item's
// Published, and new items are nearly all recent, so the index covers
// the items published since a horizon: it is loaded from the published
// index the first time a merge needs it, extended back when an item
// older than the horizon needs candidates (a new source's backlog), and
// trimmed back to recentKeep as write transactions begin, once it holds
// recentTrimSlack more (at most hourly). A look-up therefore finds
// exactly the items the bbolt indexes would have.
//
// It is read and changed only inside write transactions. begin, called
// inside one, holds the index until settle, called after the transaction
// ends, keeps the transaction's changes or undoes them, so the index
// always describes the committed store.
type recentIndex struct {
	now func() time.Time

	mu sync.Mutex
	// loaded is false until the first look-up loads the index.
	loaded bool
	// horizon is a time key (as a number): every stored item published
	// at or after it is indexed, and no item before it.
	horizon uint64
	titles  recentLists // title key's hash (titleHash) → items
	bands   recentLists // band → items
	// seed is the titles' hash seed, the process's own.
	seed maphash.Seed
	// items is the table of indexed items, by slot; free lists its free
	// slots. A slot is freed once no list names it, and not before its
	// transaction settles, so that an undo finds the item in it.
	items recentItems
	free  []uint32
	// trimmed is when the index was last trimmed (or loaded).
	trimmed time.Time
	// queries numbers byBands queries; tally counts their hits by slot,
	// and hits is their reused buffer of the slots hit.
	queries uint64
	tally   bandTally
	hits    []uint32
	// heads caches decoded candidate heads (see cachedHead).
	heads *fifo.Cache[string, aggregator.Item]
}

// headCacheSize bounds the cached candidate heads: the same recent items
// are candidates for many new ones, and decoding a head (its tokens above
// all) was a tenth of a cold poll's write transaction.
const headCacheSize = 1024

// cachedHead returns the decoded head of the item stored under key if
// the cache holds it, without reading the record: every write of an item
// forgets its head (forgetHead), a transaction that rolls back forgets
// them all (settle), and so does a topic sync, which rewrites items
// outside the index.
func (rt *recentTx) cachedHead(key []byte) (aggregator.Item, bool) {
	return rt.ix.heads.Get(string(key))
}

// cacheHead keeps it, the decoded head of the item stored under key.
func (rt *recentTx) cacheHead(key []byte, it aggregator.Item) {
	rt.ix.heads.Put(string(key), it)
}

// forgetHead drops the cached head of the item under key, which the
// transaction is about to rewrite or delete.
func (rt *recentTx) forgetHead(key []byte) {
	rt.ix.heads.Delete(string(key))
}

// forgetHeads drops every cached head, for a change made to items
// outside a recentTx.
func (ix *recentIndex) forgetHeads() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.heads.Clear()
}

// recentItem is one indexed item, named by its title and band entries.
type recentItem struct {
	key       string // item key; "" in a free slot
	published uint64 // time key of Published, as a number
	sketch    aggregator.TitleSketch
	// refs counts the entries naming the item.
	refs int32
}

// recentItems is the index's table of items, indexed by slot. The lists
// name items by slot rather than by pointer: with tens of thousands of
// items in a million entries, the pointers made the index the largest
// thing the garbage collector scanned in a cold poll, and each entry
// moved by an insert cost a write barrier.
type recentItems []recentItem

// bandTally counts, by slot, the bands an item shares with the current
// byBands query: the query's number above tallyBits bits of count, so
// that a query starts from zero without clearing the tally. It is kept
// apart from the items' table so that the walk of the bands, a read at a
// random slot for each entry, reads eight bytes a slot, not a whole item.
type bandTally []uint64

const tallyBits = 16

// hits returns the count of slot, which the current query has tallied.
func (t bandTally) hits(slot uint32) int { return int(t[slot] & (1<<tallyBits - 1)) }

// newSlot returns a slot holding the item under key published at pub,
// with no entry naming it yet.
func (ix *recentIndex) newSlot(key string, pub uint64, sketch aggregator.TitleSketch) uint32 {
	item := recentItem{key: key, published: pub, sketch: sketch}
	if n := len(ix.free); n > 0 {
		slot := ix.free[n-1]
		ix.free = ix.free[:n-1]
		ix.items[slot] = item
		return slot
	}
	ix.items = append(ix.items, item)
	return uint32(len(ix.items) - 1)
}

// release frees slot if it holds an item that no entry names.
func (ix *recentIndex) release(slot uint32) {
	if it := &ix.items[slot]; it.key != "" && it.refs == 0 {
		*it = recentItem{}
		ix.free = append(ix.free, slot)
	}
}

func newRecentIndex(now func() time.Time) *recentIndex {
	return &recentIndex{now: now, heads: fifo.New[string, aggregator.Item](headCacheSize), seed: maphash.MakeSeed()}
}

// timeKeyNum is timeKey as a number, which orders the same way.
func timeKeyNum(t time.Time) uint64 {
	k := timeKey(t)
	return binary.BigEndian.Uint64(k[:])
}

// timeOfKeyNum is the inverse of timeKeyNum.
func timeOfKeyNum(n uint64) time.Time {
	return parseTimeKey(binary.BigEndian.AppendUint64(nil, n))
}

// recentTx is the recent index as one write transaction sees it: its
// changes are journaled until settle.
type recentTx struct {
	ix *recentIndex
	tx *bolt.Tx
	// undo lists the entries added (to remove) and removed (to add back)
	// on rollback, in order.
	undo []recentChange
	// reset is set when the transaction loaded or extended the index: a
	// rollback then unloads it rather than undoing the load entry by entry.
	reset bool
}

// recentChange is one journaled change: an entry added or removed.
type recentChange struct {
	added bool
	title bool   // under a title key, else under a band
	list  uint64 // the title key's hash, or the band
	slot  uint32
}

// begin returns the index for the write transaction tx, holding it until
// settle. It first trims the index back to recentKeep if that is due (the
// horizon has fallen recentTrimSlack behind it, and the last trim is an
// hour old): a trim drops only entries of committed items older than the
// horizon, so it stands whether tx commits or not, and the transaction's
// undo never meets a slot it freed.
func (ix *recentIndex) begin(tx *bolt.Tx) *recentTx {
	ix.mu.Lock()
	rt := &recentTx{ix: ix, tx: tx}
	now := ix.now()
	if floor := now.Add(-recentKeep); ix.loaded && ix.horizon < timeKeyNum(floor.Add(-recentTrimSlack)) && now.Sub(ix.trimmed) >= recentTrimEvery {
		rt.trim(timeKeyNum(floor))
		ix.trimmed = now
	}
	return rt
}

// settle ends rt's transaction: with err nil (committed) the changes stay,
// otherwise they are undone. It then releases the index.
func (rt *recentTx) settle(err error) {
	ix := rt.ix
	defer ix.mu.Unlock()
	if err != nil {
		// The heads cached in the transaction may be of writes it lost.
		ix.heads.Clear()
		if rt.reset {
			ix.unload()
			return
		}
		for i := len(rt.undo) - 1; i >= 0; i-- {
			if c := rt.undo[i]; c.added {
				it := ix.items[c.slot]
				ix.remove(c.title, c.list, it.published, it.key)
			} else {
				ix.insert(c.title, c.list, c.slot)
			}
		}
	}
	// The items the transaction added or dropped may be named by no
	// entry now.
	for _, c := range rt.undo {
		ix.release(c.slot)
	}
}

// emptyLists gives the index empty title and band lists.
func (ix *recentIndex) emptyLists() {
	ix.titles, ix.bands = recentLists{}, recentLists{}
}

func (ix *recentIndex) unload() {
	ix.loaded, ix.horizon, ix.titles, ix.bands = false, 0, recentLists{}, recentLists{}
	ix.items, ix.free, ix.tally = nil, nil, nil
}

// titleHash is what the index lists a title key under. A 64-bit hash
// instead of the key itself saved 4.5 MB of key strings in an index of
// 60,000 items. Two title keys sharing a hash would make one item a title
// candidate of the other: with a seed of the process's own, a publisher
// cannot aim at one, and among a million indexed keys the chance of any
// such pair is below one in ten million.
func (ix *recentIndex) titleHash(key string) uint64 { return maphash.String(ix.seed, key) }

// insert adds an entry for the item in slot under a title key's hash (with
// title) or a band, reporting whether it was not there yet.
func (ix *recentIndex) insert(title bool, list uint64, slot uint32) bool {
	var added bool
	if title {
		added = ix.titles.insert(list, ix.items, slot)
	} else {
		added = ix.bands.insert(list, ix.items, slot)
	}
	if added {
		ix.items[slot].refs++
	}
	return added
}

// remove drops the entry of the item published at pub under key from a
// title key's hash (with title) or band, returning its slot if there was
// one. The slot stays taken until released.
func (ix *recentIndex) remove(title bool, list uint64, pub uint64, key string) (slot uint32, ok bool) {
	if title {
		slot, ok = ix.titles.remove(list, ix.items, pub, key)
	} else {
		slot, ok = ix.bands.remove(list, ix.items, pub, key)
	}
	if ok {
		ix.items[slot].refs--
	}
	return slot, ok
}

// trim drops the items published before horizon: one walk of each key
// table (see keyTable), which passes over every key whose first entry
// is after the horizon without a call, and trims the others' entries.
//
// With Go maps, a walk of every key cost 0.42 µs an indexed item, so a
// trim found the lists of the items that go from their records instead:
// 22 µs an item, 4.2 ms for the hour of the growth benchmark's steady
// state (20,000 indexed items, 1,000,000 stored), a quarter of its write
// transactions' CPU. A walk of the tables costs about what that did (3.5
// ms there), whatever the items that go; trims are therefore spaced by
// recentTrimSlack rather than hourly, so that each drops hours of items.
func (rt *recentTx) trim(horizon uint64) {
	ix := rt.ix
	if horizon <= ix.horizon {
		return
	}
	old, live := ix.before(horizon)
	if len(old)*2 > live {
		// Most of the index goes, as when an old backlog extended it
		// days back: its items' table, which never shrinks, would keep
		// the size it grew to. Unloaded, it is loaded afresh by the next
		// look-up, at the size of what is left.
		ix.unload()
		return
	}
	if len(old) > 0 {
		ix.titles.trim(ix.items, horizon)
		ix.bands.trim(ix.items, horizon)
	}
	// The walks dropped every entry naming these items, without counting
	// them off. The table keeps its length (56 bytes a slot): the slots
	// freed here are taken again by the items that follow.
	for _, slot := range old {
		ix.items[slot].refs = 0
		ix.release(slot)
	}
	ix.horizon = horizon
}

// before returns the slots of the items published before horizon, and
// how many items the index holds.
func (ix *recentIndex) before(horizon uint64) (slots []uint32, live int) {
	for slot := range ix.items {
		if it := &ix.items[slot]; it.key != "" {
			live++
			if it.published < horizon {
				slots = append(slots, uint32(slot))
			}
		}
	}
	return slots, live
}

// add indexes an item stored under key, if it is published at or after
// the horizon (one before it is found in the store if the index is ever
// extended back to it).
func (rt *recentTx) add(key []byte, it *aggregator.Item) {
	ix := rt.ix
	pub := timeKeyNum(it.Published)
	if !ix.loaded || pub < ix.horizon {
		return
	}
	slot := ix.newSlot(string(key), pub, it.Tokens.Sketch())
	if t := it.Keys.Title; indexable(t) {
		if h := ix.titleHash(t); ix.insert(true, h, slot) {
			rt.undo = append(rt.undo, recentChange{added: true, title: true, list: h, slot: slot})
		}
	}
	for _, b := range it.Keys.Bands {
		if ix.insert(false, b, slot) {
			rt.undo = append(rt.undo, recentChange{added: true, list: b, slot: slot})
		}
	}
	ix.release(slot) // if no entry was added
}

// drop removes the entries of a stored item (its keys and Published as
// stored under key).
func (rt *recentTx) drop(key []byte, it *aggregator.Item) {
	ix := rt.ix
	pub := timeKeyNum(it.Published)
	if !ix.loaded || pub < ix.horizon {
		return
	}
	k := string(key)
	if t := it.Keys.Title; indexable(t) {
		h := ix.titleHash(t)
		if slot, ok := ix.remove(true, h, pub, k); ok {
			rt.undo = append(rt.undo, recentChange{title: true, list: h, slot: slot})
		}
	}
	for _, b := range it.Keys.Bands {
		if slot, ok := ix.remove(false, b, pub, k); ok {
			rt.undo = append(rt.undo, recentChange{list: b, slot: slot})
		}
	}
}

// move replaces the entries of stored (nil for a new item) with those of
// it (nil when the item goes).
func (rt *recentTx) move(key []byte, stored, it *aggregator.Item) {
	if stored != nil && it != nil && stored.Published.Equal(it.Published) &&
		stored.Keys.Title == it.Keys.Title && slices.Equal(stored.Keys.Bands, it.Keys.Bands) &&
		stored.Tokens.Sketch() == it.Tokens.Sketch() {
		return
	}
	if stored != nil {
		rt.drop(key, stored)
	}
	if it != nil {
		rt.add(key, it)
	}
}

// indexable reports whether a title key can be indexed.
func indexable(key string) bool {
	return key != "" && len(key) <= maxIndexKey
}

// cover makes sure the index holds every stored item published at or
// after from, loading it from the store (the transaction's own writes
// included) the first time, back to recentKeep or from, and extending it
// back when from is before the horizon. An extension costs a walk of the
// items published in between; the next trim undoes it.
func (rt *recentTx) cover(from time.Time) error {
	ix := rt.ix
	want := timeKeyNum(from)
	if ix.loaded && want >= ix.horizon {
		return nil
	}
	rt.reset = true
	if !ix.loaded {
		now := ix.now()
		ix.emptyLists()
		ix.horizon = min(want, timeKeyNum(now.Add(-recentKeep)))
		ix.loaded, ix.trimmed = true, now
		return rt.load(ix.horizon, nil)
	}
	end := ix.horizon
	ix.horizon = want
	return rt.load(want, &end)
}

// load indexes the stored items published at or after from, and before
// *to when to is not nil, walking the published index. The index orders
// a day's items by when they were first stored, so they are indexed in
// order of publication (then key), as the lists fill fastest.
func (rt *recentTx) load(from uint64, to *uint64) error {
	ix := rt.ix
	items := rt.tx.Bucket(bucketItems)
	type entry struct {
		pub  uint64
		ikey []byte // in the transaction's memory
	}
	var found []entry
	var hi []byte // the last day to walk
	if to != nil {
		hi = publishedDayKey(timeOfKeyNum(*to))
	}
	c := rt.tx.Bucket(bucketPublished).Cursor()
	for k, v := c.Seek(publishedDayKey(timeOfKeyNum(from))); k != nil; k, v = c.Next() {
		if hi != nil && bytes.Compare(k[:min(len(k), timeKeyLen)], hi) > 0 {
			break
		}
		ikey, pub, err := publishedEntry(k, v)
		if err != nil {
			return err
		}
		if pub >= from && (to == nil || pub < *to) {
			found = append(found, entry{pub, ikey})
		}
	}
	slices.SortFunc(found, func(a, b entry) int {
		if c := cmp.Compare(a.pub, b.pub); c != 0 {
			return c
		}
		return bytes.Compare(a.ikey, b.ikey)
	})
	for _, e := range found {
		v := items.Get(e.ikey)
		if v == nil {
			return fmt.Errorf("published index names missing item %q", e.ikey)
		}
		it, err := decodeItemHead(v)
		if err != nil {
			return fmt.Errorf("item %q: %w", e.ikey, err)
		}
		slot := ix.newSlot(string(e.ikey), e.pub, it.Tokens.Sketch())
		if t := it.Keys.Title; indexable(t) {
			ix.insert(true, ix.titleHash(t), slot)
		}
		for _, b := range it.Keys.Bands {
			ix.insert(false, b, slot)
		}
		ix.release(slot) // if no entry was added
	}
	return nil
}

// byTitle returns the keys of the items with title key published within
// [from, to]: at most limit, the latest, oldest first.
func (rt *recentTx) byTitle(key string, from, to time.Time, limit int) ([][]byte, error) {
	if err := rt.cover(from); err != nil {
		return nil, err
	}
	var keys [][]byte
	rt.ix.titles.each(rt.ix.titleHash(key), rt.ix.items, timeKeyNum(from), timeKeyNum(to), limit, func(slot uint32) { keys = append(keys, []byte(rt.ix.items[slot].key)) })
	slices.Reverse(keys)
	return keys, nil
}

// byBands returns the keys of the items published within [from, to] that
// share at least minShared of bands, most shared first (ties by key), at
// most limit, less those whose title sketch keep (if not nil) rejects.
// Each band contributes its latest maxBandEntries items in the window.
func (rt *recentTx) byBands(bands []uint64, from, to time.Time, minShared, limit int, keep func(aggregator.TitleSketch) bool) ([][]byte, error) {
	if err := rt.cover(from); err != nil {
		return nil, err
	}
	// Slots count their hits, tagged with the query, so counting
	// allocates nothing; the index is held, so no other query runs.
	ix := rt.ix
	ix.queries++
	tag := ix.queries << tallyBits
	items := ix.items
	if n := len(items); len(ix.tally) < n {
		ix.tally = append(ix.tally, make(bandTally, n-len(ix.tally))...)
	}
	tally := ix.tally
	hits := ix.hits[:0]
	lo, hi := timeKeyNum(from), timeKeyNum(to)
	// An item's count cannot reach the query's tag.
	bands = bands[:min(len(bands), 1<<tallyBits-1)]
	for _, band := range bands {
		ix.bands.each(band, items, lo, hi, maxBandEntries, func(slot uint32) {
			t := tally[slot]
			if t&^(1<<tallyBits-1) != tag {
				t = tag
				hits = append(hits, slot)
			}
			tally[slot] = t + 1
		})
	}
	shared := hits[:0]
	for _, slot := range hits {
		if tally.hits(slot) >= minShared {
			shared = append(shared, slot)
		}
	}
	if limit > 0 && len(shared) > limit {
		shared = items.mostShared(tally, shared, limit)
	}
	slices.SortFunc(shared, func(a, b uint32) int {
		if ha, hb := tally.hits(a), tally.hits(b); ha != hb {
			return cmp.Compare(hb, ha)
		}
		return cmp.Compare(items[a].key, items[b].key)
	})
	keys := make([][]byte, 0, len(shared))
	for _, slot := range shared {
		if keep == nil || keep(items[slot].sketch) {
			keys = append(keys, []byte(items[slot].key))
		}
	}
	ix.hits = hits[:0]
	return keys, nil
}

// mostShared keeps, in place, the limit slots of shared whose items share
// the most bands (ties by key), in no particular order, without sorting
// them all: a crowded window has hundreds of items sharing two or three
// bands.
func (items recentItems) mostShared(tally bandTally, shared []uint32, limit int) []uint32 {
	maxHits := 0
	for _, slot := range shared {
		maxHits = max(maxHits, tally.hits(slot))
	}
	// The fewest hits among the limit best: every item above it is kept,
	// and the items at it by key, as many as there is room for.
	byHits := make([]int, maxHits+1)
	for _, slot := range shared {
		byHits[tally.hits(slot)]++
	}
	least, above := maxHits, 0
	for least > 0 && above+byHits[least] < limit {
		above += byHits[least]
		least--
	}
	edge := make([]uint32, 0, limit-above) // the least-hit items kept, by key
	kept := shared[:0]
	for _, slot := range shared {
		switch h, key := tally.hits(slot), items[slot].key; {
		case h > least:
			kept = append(kept, slot)
		case h == least:
			if len(edge) == cap(edge) && key >= items[edge[len(edge)-1]].key {
				continue
			}
			if len(edge) == cap(edge) {
				edge = edge[:len(edge)-1]
			}
			i, _ := slices.BinarySearchFunc(edge, key, func(e uint32, k string) int { return cmp.Compare(items[e].key, k) })
			edge = slices.Insert(edge, i, slot)
		}
	}
	return append(kept, edge...)
}
