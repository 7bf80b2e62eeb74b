package aggregator

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"time"
)

// normIdentityHashPrefix marks an identity made from the item's content
// because it had neither guid nor link.
const normIdentityHashPrefix = "hash:"

// normIDNamespace returns the RFC 4122 URL namespace
// (6ba7b811-9dad-11d1-80b4-00c04fd430c8) that item ids are derived in.
// Changing it would change every item's public id.
func normIDNamespace() [16]byte {
	return [16]byte{
		0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
		0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
	}
}

// ItemIdentity returns what identifies an item within its source: its
// guid/id, else its link, else "hash:" and the hex SHA-256 of its title
// and published time (of its summary and content when it has neither).
func ItemIdentity(p ParsedItem) string {
	if guid := strings.TrimSpace(p.GUID); guid != "" {
		return guid
	}
	if link := strings.TrimSpace(p.Link); link != "" {
		return link
	}
	title := strings.TrimSpace(p.Title)
	published := normTime(p.Published)
	h := sha256.New()
	if title == "" && published == "" {
		// Nothing else to tell items apart by; without this every such
		// item of the feed would collapse into one.
		normWriteFields(h, "body", strings.TrimSpace(p.Summary), strings.TrimSpace(p.Content))
	} else {
		normWriteFields(h, title, published)
	}
	return normIdentityHashPrefix + hex.EncodeToString(h.Sum(nil))
}

// ItemID returns an item's permanent public id: a "urn:uuid:" name-based
// UUID (version 5, SHA-1) of the source name, a newline and the identity.
func ItemID(source, identity string) string {
	return "urn:uuid:" + normUUIDv5(normIDNamespace(), source+"\n"+identity)
}

// NormaliseItems converts a parsed feed's items into Items of the source.
// Published and Updated stay zero when the feed gives no date; the poller
// fills them. Items with an identity seen earlier in the same feed are
// dropped: the first one wins.
func NormaliseItems(source string, feed *ParsedFeed) []Item {
	if feed == nil {
		return nil
	}
	items := make([]Item, 0, len(feed.Items))
	seen := make(map[string]bool, len(feed.Items))
	for _, p := range feed.Items {
		identity := ItemIdentity(p)
		if seen[identity] {
			continue
		}
		seen[identity] = true
		it := Item{
			ID:         ItemID(source, identity),
			Source:     source,
			Identity:   identity,
			Link:       strings.TrimSpace(p.Link),
			Title:      strings.TrimSpace(p.Title),
			Summary:    strings.TrimSpace(p.Summary),
			Content:    strings.TrimSpace(p.Content),
			Authors:    normStrings(p.Authors),
			Categories: normStrings(p.Categories),
			Published:  normUTC(p.Published),
			Updated:    normUTC(p.Updated),
		}
		it.Hash = normItemHash(&it)
		items = append(items, it)
	}
	return items
}

// normItemHash fingerprints every feed-provided field of an item. Each
// field is length-prefixed, and each list is count-prefixed, so that no two
// different items can produce the same byte stream.
func normItemHash(it *Item) string {
	h := sha256.New()
	normWriteFields(h, "v1", it.Identity, it.Link, it.Title, it.Summary, it.Content)
	normWriteFields(h, it.Authors...)
	normWriteFields(h, it.Categories...)
	normWriteFields(h, normTime(it.Published), normTime(it.Updated))
	return hex.EncodeToString(h.Sum(nil))
}

// normWriteFields writes a count, then each field as length and bytes.
func normWriteFields(h hash.Hash, fields ...string) {
	var buf [binary.MaxVarintLen64]byte
	h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(fields)))])
	for _, f := range fields {
		h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(f)))])
		h.Write([]byte(f))
	}
}

// normTime formats t for hashing: RFC 3339 in UTC, or "" when zero.
func normTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// normUTC returns t in UTC, keeping the zero time zero.
func normUTC(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// normStrings copies a list with its values trimmed and empty ones dropped;
// nil when nothing is left.
func normStrings(values []string) []string {
	var out []string
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// normUUIDv5 returns the RFC 4122 version 5 UUID of name in namespace, in
// its canonical lower-case form.
func normUUIDv5(namespace [16]byte, name string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
