package storage

import (
	"math/bits"
	"math/rand/v2"
)

// keyTable maps the recent index's keys (title key hashes, bands) to a
// keyRef: open addressing with linear probing, and deletion by shifting
// the entries after a hole back into it, so that it never holds a
// tombstone.
//
// It replaced two Go maps per kind of key (a key's lone entry, and its
// list). Their cost was the hourly trim's: the growth benchmark's daemon,
// at 1,000,000 stored items, spent a quarter of its write transactions'
// CPU in it. A trim has to find the entries of the items that go; with
// the maps, walking every key cost 0.42 µs an indexed item, so a trim
// read each going item's record instead and looked its 17 keys up, 22
// µs an item. A sweep of this table is a walk of one array, and a
// look-up is one probe where the maps took two (lone entries, then
// lists). The table also shrinks when a trim leaves it mostly empty,
// which Go's maps never do.
//
// Its length need not be a power of two: a key's home slot is its mixed
// hash scaled to the length, so the table grows by half at a time and
// its memory follows the index's size rather than doubling at once.
type keyTable struct {
	slots []keySlot
	n     int    // keys held
	seed  uint64 // mixed into every key, so that a publisher cannot aim keys at one home
}

// keySlot is one slot of a keyTable. A zero ref marks an empty slot, so
// that a new table needs no filling.
type keySlot struct {
	key uint64
	ref keyRef
}

// keyRef is what a key holds: its only entry, or the index of its list.
type keyRef struct {
	// coarse is the coarseTime of the lone entry, or of the list's
	// first entry: a trim passes over a list that starts after its
	// horizon without reading the list.
	coarse uint32
	// ref is 0 for an empty slot, slot+1 for a lone entry naming item
	// slot, or listRef|i for the list at index i.
	ref uint32
}

// listRef marks a keyRef naming a list. Item slots stay below it: the
// items' table would need a hundred gigabytes to reach it.
const listRef = 1 << 31

func loneRef(e recentEntry) keyRef  { return keyRef{coarse: e.coarse, ref: e.slot + 1} }
func (r keyRef) isList() bool       { return r.ref&listRef != 0 }
func (r keyRef) list() uint32       { return r.ref &^ listRef }
func (r keyRef) entry() recentEntry { return recentEntry{coarse: r.coarse, slot: r.ref - 1} }
func (s *keySlot) empty() bool      { return s.ref.ref == 0 }

// next is the slot after i, wrapping round.
func (t *keyTable) next(i int) int {
	if i++; i == len(t.slots) {
		return 0
	}
	return i
}

// Load bounds: the table grows past keyTableMaxLoad (a look-up of a
// missing key then probes about eight slots, two cache lines), and is
// rebuilt to keyTableRebuiltLoad when it grows, or when a sweep leaves it
// under keyTableMinLoad.
const (
	keyTableMaxLoad     = 0.75
	keyTableRebuiltLoad = 0.5
	keyTableMinLoad     = 0.2
	keyTableMinSlots    = 64
)

// home is the slot a key's probe starts from.
func (t *keyTable) home(k uint64) int {
	// splitmix64's finaliser: every bit of the key moves the top bits,
	// which scale the hash to the length.
	h := k ^ t.seed
	h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
	h = (h ^ h>>27) * 0x94d049bb133111eb
	h ^= h >> 31
	hi, _ := bits.Mul64(h, uint64(len(t.slots)))
	return int(hi)
}

// find returns the slot holding k, or the empty slot where k would go.
func (t *keyTable) find(k uint64) (i int, found bool) {
	if len(t.slots) == 0 {
		return -1, false
	}
	for i = t.home(k); ; i = t.next(i) {
		s := &t.slots[i]
		if s.empty() {
			return i, false
		}
		if s.key == k {
			return i, true
		}
	}
}

// insertAt puts k with ref in slot i, the empty slot find returned for
// it. It may grow the table, which moves every key.
func (t *keyTable) insertAt(i int, k uint64, ref keyRef) {
	if i < 0 || float64(t.n+1) > keyTableMaxLoad*float64(len(t.slots)) {
		t.rebuild(t.n + 1)
		i, _ = t.find(k)
	}
	t.slots[i] = keySlot{key: k, ref: ref}
	t.n++
}

// deleteAt empties slot i, shifting back into it the keys after it whose
// probe passed it.
func (t *keyTable) deleteAt(i int) {
	n := len(t.slots)
	for j := t.next(i); ; j = t.next(j) {
		s := t.slots[j]
		if s.empty() {
			break
		}
		// s may fill the hole if the hole is on its probe from its home
		// to j: no farther back from j than its home is.
		if h := t.home(s.key); (j-h+n)%n >= (j-i+n)%n {
			t.slots[i] = s
			i = j
		}
	}
	t.slots[i] = keySlot{}
	t.n--
}

// shrink rebuilds the table smaller if it is mostly empty.
func (t *keyTable) shrink() {
	if len(t.slots) > keyTableMinSlots && float64(t.n) < keyTableMinLoad*float64(len(t.slots)) {
		t.rebuild(t.n)
	}
}

// rebuild moves the keys into a new table sized for n keys.
func (t *keyTable) rebuild(n int) {
	old := t.slots
	if t.seed == 0 {
		t.seed = rand.Uint64()
	}
	t.slots = make([]keySlot, max(keyTableMinSlots, int(float64(n)/keyTableRebuiltLoad)))
	for i := range old {
		if s := &old[i]; !s.empty() {
			j, _ := t.find(s.key)
			t.slots[j] = *s
		}
	}
}
