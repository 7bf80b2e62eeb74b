package storage

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// compareRecent is the order a recentList keeps: by time, then key.
func compareRecent(a, b recentItem) int {
	if c := cmp.Compare(a.published, b.published); c != 0 {
		return c
	}
	return cmp.Compare(a.key, b.key)
}

// all calls fn with every entry of the list, in order.
func (l *recentList) all(fn func(recentEntry)) {
	for _, c := range l.chunks {
		for _, e := range c {
			fn(e)
		}
	}
}

// TestRecentList runs random inserts, removes, trims and range reads on a
// chunked list and on a plain sorted slice, and compares them after every
// step: the chunks must split and empty without losing or misplacing an
// entry.
func TestRecentList(t *testing.T) {
	// shift scales every time: unscaled, all of them are in the same
	// 4.3 s (one coarseTime) and every comparison reads the items; shifted
	// by 22, a few hundred of them share one and the entries' own times
	// decide the rest.
	for _, tc := range []struct {
		seed  uint64
		shift uint
	}{{1, 0}, {2, 0}, {3, 0}, {4, 22}, {5, 22}, {6, 22}} {
		seed, shift := tc.seed, tc.shift
		t.Run(fmt.Sprintf("seed %d shift %d", seed, shift), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0))
			var l recentList
			// Every item drawn gets a slot of its own, named by at most
			// one entry; ref holds the slots of the entries in order.
			var items recentItems
			var ref []uint32
			byItem := func(a, b uint32) int { return compareRecent(items[a], items[b]) }
			newItem := func(key string, pub uint64) uint32 {
				items = append(items, recentItem{key: key, published: pub})
				return uint32(len(items) - 1)
			}
			drawItem := func() uint32 {
				// Few distinct times, so that ties are ordered by key.
				return newItem(fmt.Sprintf("k%05d", r.IntN(100000)), uint64(1000+r.IntN(2000))<<shift)
			}
			floor := uint64(0)
			for step := range 6000 {
				switch op := r.IntN(100); {
				case op < 60 || len(ref) == 0: // insert, now and then one already there
					slot := drawItem()
					if items[slot].published < floor {
						items[slot].published = floor + uint64(r.IntN(50))<<shift
					}
					if len(ref) > 0 && r.IntN(10) == 0 {
						items[slot] = recentItem{key: items[ref[r.IntN(len(ref))]].key, published: items[ref[r.IntN(len(ref))]].published}
					}
					i, found := slices.BinarySearchFunc(ref, slot, byItem)
					if got := l.insert(items, slot); got == found {
						t.Fatalf("step %d: insert(%v) = %v with the entry there %v", step, items[slot], got, found)
					}
					if !found {
						ref = slices.Insert(ref, i, slot)
					}
				case op < 90: // remove one there, or one not there
					probe := items[drawItem()]
					if r.IntN(4) > 0 {
						probe = items[ref[r.IntN(len(ref))]]
					}
					i, found := slices.BinarySearchFunc(ref, probe, func(slot uint32, p recentItem) int { return compareRecent(items[slot], p) })
					var want uint32
					if found {
						want = ref[i]
						ref = slices.Delete(ref, i, i+1)
					}
					if got, ok := l.remove(items, probe.published, probe.key); ok != found || got != want {
						t.Fatalf("step %d: remove(%v) = %d, %v, want %d, %v", step, probe, got, ok, want, found)
					}
				case op < 92: // trim
					floor += uint64(r.IntN(40)) << shift
					l.trim(items, floor)
					ref = slices.DeleteFunc(ref, func(slot uint32) bool { return items[slot].published < floor })
				default: // read a range, latest first
					lo := floor + uint64(r.IntN(2000))<<shift
					hi := lo + uint64(r.IntN(400))<<shift
					if (lo>>shift)%4 == 0 { // drawing no number keeps the seeds' histories
						hi = math.MaxUint64 // a window past every entry
					}
					limit := r.IntN(3) * 40
					var want, got []uint32
					for i := len(ref) - 1; i >= 0; i-- {
						if it := items[ref[i]]; it.published >= lo && it.published <= hi && (limit == 0 || len(want) < limit) {
							want = append(want, ref[i])
						}
					}
					l.each(items, lo, hi, limit, func(slot uint32) { got = append(got, slot) })
					if !slices.Equal(got, want) {
						t.Fatalf("step %d: each(%d, %d, %d) gave %d entries, want %d", step, lo, hi, limit, len(got), len(want))
					}
				}
				if l.empty() != (len(ref) == 0) {
					t.Fatalf("step %d: empty() = %v with %d entries", step, l.empty(), len(ref))
				}
				var all []uint32
				for ci, c := range l.chunks {
					if len(c) == 0 || len(c) > recentChunk {
						t.Fatalf("step %d: chunk %d holds %d entries", step, ci, len(c))
					}
					for _, e := range c {
						if e.coarse != coarseTime(items[e.slot].published) {
							t.Fatalf("step %d: an entry says %d of an item published %d", step, e.coarse, items[e.slot].published)
						}
						all = append(all, e.slot)
					}
				}
				if !slices.Equal(all, ref) {
					t.Fatalf("step %d: the chunks hold %d entries, not the %d of the reference in order", step, len(all), len(ref))
				}
			}
			if len(l.chunks) < 4 {
				t.Fatalf("only %d chunks at the end: the test never split one", len(l.chunks))
			}
		})
	}
}

// TestRecentListInTimeOrder: a list filled in time order, as the index is
// loaded and as news arrives, keeps its chunks full.
func TestRecentListInTimeOrder(t *testing.T) {
	var l recentList
	var items recentItems
	var want []uint32
	for i := range 1000 {
		items = append(items, recentItem{key: fmt.Sprintf("k%04d", i), published: uint64(1000 + i/3)})
		slot := uint32(len(items) - 1)
		if !l.insert(items, slot) {
			t.Fatalf("insert %d refused", i)
		}
		want = append(want, slot)
	}
	var got []uint32
	l.all(func(e recentEntry) { got = append(got, e.slot) })
	if !slices.Equal(got, want) {
		t.Fatalf("the list holds %d entries, want the %d inserted in order", len(got), len(want))
	}
	for ci, c := range l.chunks[:len(l.chunks)-1] {
		if len(c) != recentChunk {
			t.Errorf("chunk %d holds %d entries, want %d", ci, len(c), recentChunk)
		}
	}
}

// TestRecentLists runs random inserts, removes, trims and range reads on
// the lists of a few keys, which go back and forth between an entry alone
// and a list, against a sorted slice a key, and compares them after
// every step, with the counts of the items' entries. With many keys, the
// key table grows to hundreds of keys, with keys probed round its end
// (and swept there), and shrinks back after trims.
func TestRecentLists(t *testing.T) {
	cases := []struct {
		name  string
		keys  int // keys drawn from
		steps int
		trims int // in 1,000 steps
	}{
		{"few keys", 6, 8000, 50},
		{"many keys", 1 << 30, 6000, 4},
	}
	for _, tc := range cases {
		wrapped := 0
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("%s/seed %d", tc.name, seed), func(t *testing.T) {
				most, w, shrunk := testRecentLists(t, seed, tc.keys, tc.steps, tc.trims)
				if tc.keys > 1000 && (most < 500 || !shrunk) {
					t.Errorf("the key table held at most %d keys, shrank: %v; want over 500, and true", most, shrunk)
				}
				wrapped += w
			})
		}
		if tc.keys > 1000 && wrapped == 0 {
			t.Errorf("%s: no step saw a key wrapped round the table's end", tc.name)
		}
	}
}

// testRecentLists runs the steps, failing t at the first difference. It
// returns the most keys the table held, in how many steps a key sat
// before its home (wrapped round the end), and whether a trim shrank the
// table.
func testRecentLists(t *testing.T, seed uint64, keys, steps, trims int) (most, wrapped int, shrunk bool) {
	r := rand.New(rand.NewPCG(seed, 1))
	var m recentLists
	m.keys.seed = r.Uint64() // the keys' homes, as the test's seed has them
	var items recentItems
	ref := map[uint64][]uint32{} // key → slots in order
	var used []uint64            // keys inserted under, to draw from again
	byItem := func(a, b uint32) int { return compareRecent(items[a], items[b]) }
	floor := uint64(0)
	lists := 0 // steps that saw a key with a list
	for step := range steps {
		k := uint64(r.IntN(keys))
		if len(used) > 0 && r.IntN(2) == 0 {
			k = used[r.IntN(len(used))]
		}
		switch op := r.IntN(1000); {
		case op < 450: // insert, now and then one already there
			it := recentItem{key: fmt.Sprintf("k%03d", r.IntN(1000)), published: floor + uint64(r.IntN(200))<<20}
			if l := ref[k]; len(l) > 0 && r.IntN(8) == 0 {
				it = recentItem{key: items[l[0]].key, published: items[l[0]].published}
			}
			items = append(items, it)
			slot := uint32(len(items) - 1)
			i, found := slices.BinarySearchFunc(ref[k], slot, byItem)
			if got := m.insert(k, items, slot); got == found {
				t.Fatalf("step %d: insert(%d, %v) = %v with the entry there %v", step, k, it, got, found)
			}
			if !found {
				ref[k] = slices.Insert(ref[k], i, slot)
				items[slot].refs++
				used = append(used, k)
			}
		case op < 850: // remove one there, or one not there
			probe := recentItem{key: fmt.Sprintf("k%03d", r.IntN(1000)), published: floor + uint64(r.IntN(200))<<20}
			if l := ref[k]; len(l) > 0 && r.IntN(4) > 0 {
				probe = items[l[r.IntN(len(l))]]
			}
			i, found := slices.BinarySearchFunc(ref[k], probe, func(slot uint32, p recentItem) int { return compareRecent(items[slot], p) })
			var want uint32
			if found {
				want = ref[k][i]
				ref[k] = slices.Delete(ref[k], i, i+1)
			}
			got, ok := m.remove(k, items, probe.published, probe.key)
			if ok != found || got != want {
				t.Fatalf("step %d: remove(%d, %v) = %d, %v, want %d, %v", step, k, probe, got, ok, want, found)
			}
			if ok {
				items[got].refs--
			}
		case op < 850+trims: // trim
			floor += uint64(r.IntN(10)) << 20
			if r.IntN(8) == 0 {
				floor += 150 << 20 // most entries go
			}
			before := len(m.keys.slots)
			m.trim(items, floor)
			for k := range ref {
				ref[k] = slices.DeleteFunc(ref[k], func(slot uint32) bool { return items[slot].published < floor })
			}
			for slot := range items {
				if items[slot].published < floor {
					items[slot].refs = 0 // freed whole, as recentTx.trim does
				}
			}
			shrunk = shrunk || len(m.keys.slots) < before
		default: // read a range, latest first
			lo := floor + uint64(r.IntN(200))<<20
			hi := lo + uint64(r.IntN(100))<<20
			limit := r.IntN(3)
			var want, got []uint32
			for i := len(ref[k]) - 1; i >= 0; i-- {
				if it := items[ref[k][i]]; it.published >= lo && it.published <= hi && (limit == 0 || len(want) < limit) {
					want = append(want, ref[k][i])
				}
			}
			m.each(k, items, lo, hi, limit, func(slot uint32) { got = append(got, slot) })
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: each(%d, %d, %d, %d) = %v, want %v", step, k, lo, hi, limit, got, want)
			}
		}
		if err := m.check(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		most = max(most, m.keys.n)
		for i, s := range m.keys.slots {
			if !s.empty() && i < m.keys.home(s.key) {
				wrapped++
				break
			}
		}
		got := map[uint64][]uint32{}
		m.all(func(k uint64, e recentEntry) {
			if e.coarse != coarseTime(items[e.slot].published) {
				t.Fatalf("step %d: an entry says %d of an item published %d", step, e.coarse, items[e.slot].published)
			}
			got[k] = append(got[k], e.slot)
		})
		refs := make([]int32, len(items))
		for k, l := range ref {
			if !slices.Equal(got[k], l) {
				t.Fatalf("step %d: key %d holds %v, want %v", step, k, got[k], l)
			}
			for _, slot := range l {
				refs[slot]++
			}
			if len(l) > 1 {
				lists++
			}
		}
		for slot, it := range items {
			if it.refs != refs[slot] {
				t.Fatalf("step %d: slot %d counts %d entries, is named by %d", step, slot, it.refs, refs[slot])
			}
		}
	}
	if lists == 0 {
		t.Fatal("no key ever held a list")
	}
	return most, wrapped, shrunk
}
