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
// time, so that searching a list reads the list, not the items.
type recentList struct {
	chunks [][]recentEntry // non-empty, each sorted, in order
}

// empty reports whether the list holds no entry.
func (l *recentList) empty() bool { return len(l.chunks) == 0 }

type recentEntry struct {
	published uint64 // item.published
	item      *recentItem
}

func compareEntry(e recentEntry, item *recentItem) int {
	if e.published != item.published {
		return cmp.Compare(e.published, item.published)
	}
	return cmp.Compare(e.item.key, item.key)
}

// find returns the chunk that item belongs in — the first whose last entry
// is not before it, else the last — and item's position in that chunk.
func (l *recentList) find(item *recentItem) (chunk, i int, found bool) {
	chunk, _ = slices.BinarySearchFunc(l.chunks, item, func(c []recentEntry, item *recentItem) int {
		return compareEntry(c[len(c)-1], item)
	})
	if chunk == len(l.chunks) {
		chunk--
	}
	i, found = slices.BinarySearchFunc(l.chunks[chunk], item, compareEntry)
	return chunk, i, found
}

// insert adds item unless it is there, reporting whether it added it.
func (l *recentList) insert(item *recentItem) bool {
	entry := recentEntry{item.published, item}
	if len(l.chunks) == 0 {
		l.chunks = [][]recentEntry{{entry}}
		return true
	}
	if last := l.chunks[len(l.chunks)-1]; compareEntry(last[len(last)-1], item) < 0 {
		// After every entry, as when the index is loaded in time order
		// or news arrives: appended, in a new chunk when the last is
		// full, so that chunks filled this way stay full.
		if len(last) == recentChunk {
			l.chunks = append(l.chunks, make([]recentEntry, 0, recentChunk))
		}
		l.chunks[len(l.chunks)-1] = append(l.chunks[len(l.chunks)-1], entry)
		return true
	}
	ci, i, found := l.find(item)
	if found {
		return false
	}
	if c := l.chunks[ci]; len(c) == recentChunk {
		// A full chunk is split in two halves before the entry goes
		// into one of them; the new half has room for a full chunk.
		half := len(c) / 2
		second := make([]recentEntry, len(c)-half, recentChunk)
		copy(second, c[half:])
		clear(c[half:])
		l.chunks[ci] = c[:half]
		l.chunks = slices.Insert(l.chunks, ci+1, second)
		if i > half {
			ci, i = ci+1, i-half
		}
	}
	l.chunks[ci] = slices.Insert(l.chunks[ci], i, entry)
	return true
}

// remove drops the entry matching item (by key and time), returning it,
// or nil.
func (l *recentList) remove(item *recentItem) *recentItem {
	if len(l.chunks) == 0 {
		return nil
	}
	ci, i, found := l.find(item)
	if !found {
		return nil
	}
	c := l.chunks[ci]
	dropped := c[i].item
	if c = slices.Delete(c, i, i+1); len(c) == 0 {
		l.chunks = slices.Delete(l.chunks, ci, ci+1)
	} else {
		l.chunks[ci] = c
	}
	return dropped
}

// trim drops the entries published before horizon.
func (l *recentList) trim(horizon uint64) {
	drop := 0 // whole chunks before horizon
	for drop < len(l.chunks) {
		c := l.chunks[drop]
		if c[len(c)-1].published >= horizon {
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
	for n < len(c) && c[n].published < horizon {
		n++
	}
	if n > 0 {
		l.chunks[0] = slices.Clone(c[n:])
	}
}

// each calls fn with the entries published within [lo, hi] (time keys as
// numbers), latest first, at most limit of them (all if limit is 0).
func (l *recentList) each(lo, hi uint64, limit int, fn func(*recentItem)) {
	if len(l.chunks) == 0 {
		return
	}
	after := func(e recentEntry, t uint64) int {
		if e.published <= t {
			return -1
		}
		return 1
	}
	// The first chunk ending after hi holds the first entry after hi;
	// with none, every entry is at or before hi — the common case, as
	// windows reach past the latest item, checked first. The walk goes
	// back from the entry before it.
	ci, end := len(l.chunks)-1, 0
	if last := l.chunks[ci]; last[len(last)-1].published <= hi {
		end = len(last)
	} else {
		ci, _ = slices.BinarySearchFunc(l.chunks, hi, func(c []recentEntry, t uint64) int { return after(c[len(c)-1], t) })
		end, _ = slices.BinarySearchFunc(l.chunks[ci], hi, after)
	}
	n := 0
	for ; ci >= 0; ci-- {
		c := l.chunks[ci][:end]
		for i := len(c) - 1; i >= 0; i-- {
			if c[i].published < lo || limit > 0 && n >= limit {
				return
			}
			n++
			fn(c[i].item)
		}
		if ci > 0 {
			end = len(l.chunks[ci-1])
		}
	}
}
