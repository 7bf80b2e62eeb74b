package fifo

import "testing"

// TestCache: the cache holds at most its size, forgets the keys it learnt
// first, and a key put again keeps its place in line with its new value.
func TestCache(t *testing.T) {
	c := New[string, int](3)
	for i, k := range []string{"a", "b", "c"} {
		c.Put(k, i)
	}
	c.Put("a", 10) // known: keeps its place, first in line
	if v, ok := c.Get("a"); !ok || v != 10 {
		t.Fatalf("a = %d, %v; want 10, true", v, ok)
	}
	c.Put("d", 3) // full: a, the first key learnt, goes
	if _, ok := c.Get("a"); ok {
		t.Error("a was kept; the first key learnt should go first")
	}
	c.Put("e", 4) // then b
	for k, want := range map[string]bool{"a": false, "b": false, "c": true, "d": true, "e": true} {
		if _, ok := c.Get(k); ok != want {
			t.Errorf("holds %s: %v, want %v", k, ok, want)
		}
	}
	for i := range 100 {
		c.Put(string(rune('f'+i)), i)
	}
	if c.Len() != 3 {
		t.Errorf("%d keys held, want 3", c.Len())
	}
}
