package storage

import (
	"cmp"
	"slices"
)

// recentChunk bounds the entries of one chunk of a recentList: an insert
// moves at most that many.
const recentChunk = 128

// recentList is the list of items under one title key or band, ordered by
// (published, key), kept in chunks of at most recentChunk entries.
//
// A flat sorted slice moved half its entries on every insert. News with a
// common pair of words crowds a band: in the benchmark's cold poll of
// 60,000 items the average entry sat in a band of 3,000 items (the largest
// held 18,000), and inserting into those slices was a tenth of the write
// transaction, most of it the garbage collector's barriers on the moved
// pointers. Chunks keep an insert to a binary search over the chunks'
// last entries and a move within one chunk. Each entry holds its item's
// time to about four seconds, so that searching a list reads the list,
// not the items, except among entries of the same four seconds.
type recentList struct {
	chunks [][]recentEntry // non-empty, each sorted, in order
}

// empty reports whether the list holds no entry.
func (l *recentList) empty() bool { return len(l.chunks) == 0 }

// recentEntry names an item by its slot in the index's table (see
// recentItems) and holds the top half of its time key: its time to 2^32
// ns, about 4.3 s. It holds no pointer, so the garbage collector never
// scans the lists, nor does moving entries cost write barriers. Eight
// bytes, not the sixteen of a whole time and a slot: a cold poll's lists
// hold about twenty entries an item.
type recentEntry struct {
	coarse uint32 // coarseTime of the item's published
	slot   uint32
}

// coarseTime is the top half of a time key (as a number): it orders as
// the time keys do, and ties within about 4.3 s.
func coarseTime(pub uint64) uint32 { return uint32(pub >> 32) }

// compareTime orders e's item's time against pub. Only an entry in the
// same 4.3 s as pub reads its item.
func (items recentItems) compareTime(e recentEntry, pub uint64) int {
	if c := coarseTime(pub); e.coarse != c {
		return cmp.Compare(e.coarse, c)
	}
	return cmp.Compare(items[e.slot].published, pub)
}

// compare orders e against the item published at pub under key: by time,
// then key.
func (items recentItems) compare(e recentEntry, pub uint64, key string) int {
	if c := items.compareTime(e, pub); c != 0 {
		return c
	}
	return cmp.Compare(items[e.slot].key, key)
}

// find returns the chunk that the entry of (pub, key) belongs in — the
// first whose last entry is not before it, else the last — and its
// position in that chunk.
func (l *recentList) find(items recentItems, pub uint64, key string) (chunk, i int, found bool) {
	chunk, _ = slices.BinarySearchFunc(l.chunks, pub, func(c []recentEntry, pub uint64) int {
		return items.compare(c[len(c)-1], pub, key)
	})
	if chunk == len(l.chunks) {
		chunk--
	}
	i, found = slices.BinarySearchFunc(l.chunks[chunk], pub, func(e recentEntry, pub uint64) int {
		return items.compare(e, pub, key)
	})
	return chunk, i, found
}

// insert adds an entry for the item in slot unless the list has one for
// its time and key, reporting whether it added it.
func (l *recentList) insert(items recentItems, slot uint32) bool {
	pub, key := items[slot].published, items[slot].key
	entry := recentEntry{coarseTime(pub), slot}
	if len(l.chunks) == 0 {
		l.chunks = [][]recentEntry{{entry}}
		return true
	}
	if last := l.chunks[len(l.chunks)-1]; items.compare(last[len(last)-1], pub, key) < 0 {
		// After every entry, as when the index is loaded in time order
		// or news arrives: appended, in a new chunk when the last is
		// full, so that chunks filled this way stay full.
		if len(last) == recentChunk {
			l.chunks = append(l.chunks, make([]recentEntry, 0, recentChunk))
		}
		l.chunks[len(l.chunks)-1] = append(l.chunks[len(l.chunks)-1], entry)
		return true
	}
	ci, i, found := l.find(items, pub, key)
	if found {
		return false
	}
	if c := l.chunks[ci]; len(c) == recentChunk {
		// A full chunk is split in two halves before the entry goes
		// into one of them; the new half has room for a full chunk.
		half := len(c) / 2
		second := make([]recentEntry, len(c)-half, recentChunk)
		copy(second, c[half:])
		l.chunks[ci] = c[:half]
		l.chunks = slices.Insert(l.chunks, ci+1, second)
		if i > half {
			ci, i = ci+1, i-half
		}
	}
	l.chunks[ci] = slices.Insert(l.chunks[ci], i, entry)
	return true
}

// remove drops the entry of the item published at pub under key,
// returning its slot, if the list has it.
func (l *recentList) remove(items recentItems, pub uint64, key string) (slot uint32, ok bool) {
	if len(l.chunks) == 0 {
		return 0, false
	}
	ci, i, found := l.find(items, pub, key)
	if !found {
		return 0, false
	}
	c := l.chunks[ci]
	slot = c[i].slot
	if c = slices.Delete(c, i, i+1); len(c) == 0 {
		l.chunks = slices.Delete(l.chunks, ci, ci+1)
	} else {
		l.chunks[ci] = c
	}
	return slot, true
}

// trim drops the entries published before horizon. It leaves their
// items' refs as they are: a trim drops every entry of the items before
// its horizon, and frees them whole (see recentTx.trim).
func (l *recentList) trim(items recentItems, horizon uint64) {
	drop := 0 // whole chunks before horizon
	for drop < len(l.chunks) {
		c := l.chunks[drop]
		if items.compareTime(c[len(c)-1], horizon) >= 0 {
			break
		}
		drop++
	}
	l.chunks = slices.Delete(l.chunks, 0, drop)
	if len(l.chunks) == 0 {
		return
	}
	c := l.chunks[0]
	n := 0
	for n < len(c) && items.compareTime(c[n], horizon) < 0 {
		n++
	}
	if n > 0 {
		l.chunks[0] = slices.Clone(c[n:])
	}
}

// each calls fn with the slots of the entries published within [lo, hi]
// (time keys as numbers), latest first, at most limit of them (all if
// limit is 0).
func (l *recentList) each(items recentItems, lo, hi uint64, limit int, fn func(slot uint32)) {
	if len(l.chunks) == 0 {
		return
	}
	after := func(e recentEntry, t uint64) int {
		if items.compareTime(e, t) <= 0 {
			return -1
		}
		return 1
	}
	// The first chunk ending after hi holds the first entry after hi;
	// with none, every entry is at or before hi — the common case, as
	// windows reach past the latest item, checked first. The walk goes
	// back from the entry before it.
	ci, end := len(l.chunks)-1, 0
	if last := l.chunks[ci]; items.compareTime(last[len(last)-1], hi) <= 0 {
		end = len(last)
	} else {
		ci, _ = slices.BinarySearchFunc(l.chunks, hi, func(c []recentEntry, t uint64) int { return after(c[len(c)-1], t) })
		end, _ = slices.BinarySearchFunc(l.chunks[ci], hi, after)
	}
	n := 0
	for ; ci >= 0; ci-- {
		c := l.chunks[ci][:end]
		for i := len(c) - 1; i >= 0; i-- {
			if items.compareTime(c[i], lo) < 0 || limit > 0 && n >= limit {
				return
			}
			n++
			fn(c[i].slot)
		}
		if ci > 0 {
			end = len(l.chunks[ci-1])
		}
	}
}

// recentLists holds the lists under one kind of key: title key hashes,
// or bands. Most keys name one item — a band is shared by copies of a
// story, and by little else — so a key of one item holds its entry alone,
// in its slot of the key table, and only a key of more has a list. A key
// costs its slot, 16 bytes, at a load of one half to three quarters (21
// to 32 bytes a key); a list its 24 bytes here as well, and its chunks.
// In the growth benchmark, an index of four days (20,000 items) held
// 197,000 band keys, 55,000 of them with a list.
//
// Its zero value is empty and ready for use.
type recentLists struct {
	keys  keyTable
	lists []recentList // by index; never empty but for the free ones
	free  []uint32     // indexes of free lists
}

// insert adds an entry under k for the item in slot unless there is one
// for its time and key, reporting whether it added it.
func (m *recentLists) insert(k uint64, items recentItems, slot uint32) bool {
	i, found := m.keys.find(k)
	if !found {
		m.keys.insertAt(i, k, loneRef(recentEntry{coarseTime(items[slot].published), slot}))
		return true
	}
	s := &m.keys.slots[i]
	if s.ref.isList() {
		list := &m.lists[s.ref.list()]
		if !list.insert(items, slot) {
			return false
		}
		s.ref.coarse = list.chunks[0][0].coarse
		return true
	}
	e := s.ref.entry()
	if items.compare(e, items[slot].published, items[slot].key) == 0 {
		return false
	}
	var list recentList
	list.insert(items, e.slot)
	list.insert(items, slot)
	s.ref = m.newList(list)
	return true
}

// newList stores list, which is not empty, and returns its reference.
func (m *recentLists) newList(list recentList) keyRef {
	var li uint32
	if n := len(m.free); n > 0 {
		li = m.free[n-1]
		m.free = m.free[:n-1]
		m.lists[li] = list
	} else {
		li = uint32(len(m.lists))
		m.lists = append(m.lists, list)
	}
	return keyRef{coarse: list.chunks[0][0].coarse, ref: listRef | li}
}

// remove drops the entry under k of the item published at pub under key,
// returning its slot, if there is one.
func (m *recentLists) remove(k uint64, items recentItems, pub uint64, key string) (uint32, bool) {
	i, found := m.keys.find(k)
	if !found {
		return 0, false
	}
	ref := m.keys.slots[i].ref
	if !ref.isList() {
		e := ref.entry()
		if items.compare(e, pub, key) != 0 {
			return 0, false
		}
		m.keys.deleteAt(i)
		return e.slot, true
	}
	slot, ok := m.lists[ref.list()].remove(items, pub, key)
	m.settle(i)
	return slot, ok
}

// settle stores what is left of the list in slot i of the key table: its
// entry alone if it holds one, nothing if it holds none. It reports
// whether the slot was emptied.
func (m *recentLists) settle(i int) (emptied bool) {
	s := &m.keys.slots[i]
	li := s.ref.list()
	list := &m.lists[li]
	switch {
	case list.empty():
		m.keys.deleteAt(i)
		emptied = true
	case len(list.chunks) == 1 && len(list.chunks[0]) == 1:
		s.ref = loneRef(list.chunks[0][0])
	default:
		s.ref.coarse = list.chunks[0][0].coarse
		return false
	}
	*list = recentList{}
	m.free = append(m.free, li)
	return emptied
}

// trimAt drops the entries under the key in slot i of the key table
// published before horizon, leaving their items' refs as they are, and
// reports whether that emptied the slot.
func (m *recentLists) trimAt(i int, items recentItems, horizon uint64) (emptied bool) {
	ref := m.keys.slots[i].ref
	if ref.isList() {
		m.lists[ref.list()].trim(items, horizon)
		return m.settle(i)
	}
	if e := ref.entry(); items.compareTime(e, horizon) < 0 {
		m.keys.deleteAt(i)
		return true
	}
	return false
}

// trim drops the entries published before horizon under every key: one
// walk of the key table. It shrinks the table if that leaves it mostly
// empty. It leaves the items' refs as they are, for the caller to free
// the items before horizon whole: counting each entry off its item was
// a read at a random slot, a third of a trim's time.
func (m *recentLists) trim(items recentItems, horizon uint64) {
	c := coarseTime(horizon)
	slots := m.keys.slots
	for i := 0; i < len(slots); {
		// An empty slot, or a key whose first entry is after the
		// horizon (most of them), is passed over without a call.
		//
		// An emptied slot may take the key after it (see deleteAt): it
		// is looked at again. A key that wraps round from the table's
		// start to its end is looked at twice, which trims nothing more.
		if r := slots[i].ref; r.ref == 0 || r.coarse > c || !m.trimAt(i, items, horizon) {
			i++
		}
	}
	m.keys.shrink()
}

// each calls fn with the slots of the entries under k published within
// [lo, hi] (time keys as numbers), latest first, at most limit of them
// (all if limit is 0).
func (m *recentLists) each(k uint64, items recentItems, lo, hi uint64, limit int, fn func(slot uint32)) {
	i, found := m.keys.find(k)
	if !found {
		return
	}
	ref := m.keys.slots[i].ref
	if ref.isList() {
		m.lists[ref.list()].each(items, lo, hi, limit, fn)
		return
	}
	if e := ref.entry(); items.compareTime(e, lo) >= 0 && items.compareTime(e, hi) <= 0 {
		fn(e.slot)
	}
}
