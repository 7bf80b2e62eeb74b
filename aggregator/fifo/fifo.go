// Package fifo holds a map of bounded size that forgets the keys it
// learnt first. Merging keeps two such caches, of candidates' documents
// and of their stored heads: copies of a story arrive within hours of
// each other, so the latest items are the likeliest to be asked for
// again, and first in, first out needs no bookkeeping on a hit.
package fifo

// Cache maps keys to values, holding at most its size of them. It is not
// safe for concurrent use.
type Cache[K comparable, V any] struct {
	size int
	m    map[K]V
	ring []K // the keys in the order they came
	next int // where in ring the oldest key is, once ring is full
}

// New returns an empty cache for at most size keys (size ≥ 1).
func New[K comparable, V any](size int) *Cache[K, V] {
	return &Cache[K, V]{size: size, m: make(map[K]V, size)}
}

// Get returns the value under k, if the cache holds it.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	v, ok := c.m[k]
	return v, ok
}

// Put keeps v under k. A key the cache holds keeps its place in line; a
// new one goes last, and when the cache is full the first key goes.
func (c *Cache[K, V]) Put(k K, v V) {
	if _, ok := c.m[k]; !ok {
		if len(c.ring) < c.size {
			c.ring = append(c.ring, k)
		} else {
			delete(c.m, c.ring[c.next])
			c.ring[c.next] = k
			c.next = (c.next + 1) % c.size
		}
	}
	c.m[k] = v
}

// Len is how many keys the cache holds.
func (c *Cache[K, V]) Len() int { return len(c.m) }
