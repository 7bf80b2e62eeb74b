package fifo

import (
	"slices"
	"testing"
)

// held lists those of keys that the cache holds.
func held(c *Cache[string, int], keys ...string) []string {
	var out []string
	for _, k := range keys {
		if _, ok := c.index[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// TestCache: the cache holds at most its size and forgets the keys it
// learnt first, but a key asked for since the hand last passed it gets a
// second chance, once; a key put again keeps its place with its new value.
func TestCache(t *testing.T) {
	tests := []struct {
		name string
		ops  []string // "+k": put k; "?k": get k; "-k": delete k; "!": clear
		want []string // keys held after, of a to g
	}{
		{"first in, first out", []string{"+a", "+b", "+c", "+d", "+e"}, []string{"c", "d", "e"}},
		{"a put does not refresh", []string{"+a", "+b", "+c", "+a", "+d"}, []string{"b", "c", "d"}},
		{"asked for: second chance", []string{"+a", "+b", "+c", "?a", "+d"}, []string{"a", "c", "d"}},
		{"the chance is used up", []string{"+a", "+b", "+c", "?a", "+d", "+e", "+f"}, []string{"d", "e", "f"}},
		{"asked again: another chance", []string{"+a", "+b", "+c", "?a", "+d", "?a", "+e", "+f"}, []string{"a", "e", "f"}},
		{"all asked: the first goes after all", []string{"+a", "+b", "+c", "?a", "?b", "?c", "+d"}, []string{"b", "c", "d"}},
		{"a miss changes nothing", []string{"+a", "+b", "+c", "?g", "+d"}, []string{"b", "c", "d"}},
		{"deleted: forgotten", []string{"+a", "+b", "+c", "-b"}, []string{"a", "c"}},
		{"a deleted key's room takes a new one", []string{"+a", "+b", "+c", "-b", "+d"}, []string{"a", "c", "d"}},
		{"deleting a key not held changes nothing", []string{"+a", "+b", "-g", "+c"}, []string{"a", "b", "c"}},
		// The last key takes the deleted one's slot, and so its turn.
		{"deleted, then full again: the moved key's turn comes first", []string{"+a", "+b", "+c", "-a", "+d", "+e"}, []string{"b", "d", "e"}},
		{"cleared: nothing held", []string{"+a", "+b", "?a", "!"}, nil},
		{"cleared, then filled anew", []string{"+a", "+b", "+c", "!", "+d", "+e", "+f", "+g"}, []string{"e", "f", "g"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New[string, int](3)
			for i, op := range tt.ops {
				k := op[1:]
				switch op[0] {
				case '+':
					c.Put(k, i)
					// Read the slot, not Get: only the ops ask.
					if j, ok := c.index[k]; !ok || c.slots[j].val != i {
						t.Fatalf("after %s: %s not held with value %d", op, k, i)
					}
				case '?':
					c.Get(k)
				case '-':
					c.Delete(k)
				case '!':
					c.Clear()
				}
				for j, sl := range c.slots {
					if c.index[sl.key] != j {
						t.Fatalf("after %s: slot %d holds %s, which the index places at %d", op, j, sl.key, c.index[sl.key])
					}
				}
			}
			if got := held(c, "a", "b", "c", "d", "e", "f", "g"); !slices.Equal(got, tt.want) {
				t.Errorf("holds %v, want %v", got, tt.want)
			}
			if c.Len() != len(tt.want) {
				t.Errorf("Len %d, want %d", c.Len(), len(tt.want))
			}
		})
	}

	c := New[string, int](3)
	for i := range 100 {
		c.Put(string(rune('a'+i%26))+string(rune('a'+i/26)), i)
		c.Get("aa")
	}
	if c.Len() != 3 {
		t.Errorf("%d keys held, want 3", c.Len())
	}
	if v, ok := c.Get("aa"); !ok || v != 0 {
		t.Errorf("a key asked for after every put was forgotten: %d, %v", v, ok)
	}
}
