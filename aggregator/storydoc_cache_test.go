package aggregator

import (
	"fmt"
	"slices"
	"testing"
)

// TestStoryDocCache: a candidate's comparison document is built once per
// version of the item, rebuilt when its content changes, and the cache
// stays within its bound.
func TestStoryDocCache(t *testing.T) {
	c := newStoryDocCache()
	it := &Item{ID: "a", Source: "s", Title: "UN rights chief visits Geneva", Summary: "<p>The visit</p>", Hash: "h1"}
	first := c.doc(it, []string{"s"})
	if again := c.doc(it, []string{"s"}); again != first {
		t.Error("the same item version was built twice")
	}
	it.Title, it.Hash = "UN rights chief visits Beijing", "h2"
	changed := c.doc(it, []string{"s"})
	if changed == first || len(changed.titleSet) != len(first.titleSet) || slices.Equal(changed.titleWords, first.titleWords) {
		t.Errorf("a changed item got its old document: %v", changed.titleWords)
	}
	for i := range storyDocCacheSize + 100 {
		c.doc(&Item{ID: fmt.Sprint(i), Title: "t", Hash: "h"}, nil)
	}
	if c.docs.Len() != storyDocCacheSize {
		t.Errorf("cache holds %d documents, want %d", c.docs.Len(), storyDocCacheSize)
	}
	var nilCache *storyDocCache
	if d := nilCache.doc(it, nil); d == nil {
		t.Error("a nil cache built no document")
	}
}
