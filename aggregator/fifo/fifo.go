// Package fifo holds a map of bounded size that forgets the keys it
// learnt first, unless they were asked for since: first in, first out
// with a second chance (the CLOCK algorithm). Merging keeps two such
// caches, of candidates' documents and of their stored heads: copies of
// a story arrive within hours of each other, so the latest items are the
// likeliest to be asked for again, and the items of a story that keeps
// being copied are asked for again and again. A hit only sets a flag.
package fifo

// Cache maps keys to values, holding at most its size of them. It is not
// safe for concurrent use; Get changes it too.
type Cache[K comparable, V any] struct {
	size  int
	index map[K]int // key → its slot
	slots []slot[K, V]
	hand  int // the slot looked at next for one to forget, once slots is full
}

type slot[K comparable, V any] struct {
	key K
	val V
	// asked is set by Get; the hand clears it instead of forgetting the
	// key, so a key asked for since the hand last passed stays one more
	// round.
	asked bool
}

// New returns an empty cache for at most size keys (size ≥ 1).
func New[K comparable, V any](size int) *Cache[K, V] {
	return &Cache[K, V]{size: size, index: make(map[K]int, size)}
}

// Get returns the value under k, if the cache holds it.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	i, ok := c.index[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.slots[i].asked = true
	return c.slots[i].val, true
}

// Put keeps v under k. A key the cache holds keeps its place in line; a
// new one goes last, and when the cache is full the first key in line
// that was not asked for since the hand last passed it goes.
func (c *Cache[K, V]) Put(k K, v V) {
	if i, ok := c.index[k]; ok {
		c.slots[i].val = v
		return
	}
	if len(c.slots) < c.size {
		c.index[k] = len(c.slots)
		c.slots = append(c.slots, slot[K, V]{key: k, val: v})
		return
	}
	// At most one round: the hand clears each flag it passes.
	for c.slots[c.hand].asked {
		c.slots[c.hand].asked = false
		c.hand = (c.hand + 1) % c.size
	}
	delete(c.index, c.slots[c.hand].key)
	c.slots[c.hand] = slot[K, V]{key: k, val: v}
	c.index[k] = c.hand
	c.hand = (c.hand + 1) % c.size
}

// Delete forgets k. The last slot takes its place, so the order in which
// the hand comes to the other keys may change.
func (c *Cache[K, V]) Delete(k K) {
	i, ok := c.index[k]
	if !ok {
		return
	}
	delete(c.index, k)
	last := len(c.slots) - 1
	if i != last {
		c.slots[i] = c.slots[last]
		c.index[c.slots[i].key] = i
	}
	c.slots[last] = slot[K, V]{}
	c.slots = c.slots[:last]
	if c.hand >= len(c.slots) {
		c.hand = 0
	}
}

// Clear forgets every key.
func (c *Cache[K, V]) Clear() {
	clear(c.index)
	clear(c.slots)
	c.slots = c.slots[:0]
	c.hand = 0
}

// Len is how many keys the cache holds.
func (c *Cache[K, V]) Len() int { return len(c.index) }
