package storage

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// timeKeyLen is the width of the sortable time prefix of index keys.
const timeKeyLen = 8

// Bounds of what UnixNano can represent; times outside are clamped so keys
// stay ordered instead of wrapping.
var (
	minKeyTime = time.Unix(0, math.MinInt64)
	maxKeyTime = time.Unix(0, math.MaxInt64)
)

// timeKey encodes t as 8 bytes that sort like t: big-endian UnixNano with the
// sign bit flipped, so pre-1970 times sort before later ones. (RFC 3339
// strings do not sort.)
func timeKey(t time.Time) [timeKeyLen]byte {
	var n int64
	switch {
	case t.Before(minKeyTime):
		n = math.MinInt64
	case t.After(maxKeyTime):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	var b [timeKeyLen]byte
	binary.BigEndian.PutUint64(b[:], uint64(n)^(1<<63))
	return b
}

// timeKeyBytes is timeKey in a slice of its own.
func timeKeyBytes(t time.Time) []byte {
	k := timeKey(t)
	return k[:]
}

// parseTimeKey is the inverse of timeKey.
func parseTimeKey(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)^(1<<63))).UTC()
}

// itemKey is the key of an item: source names cannot contain NUL, so the
// first NUL separates source from ID.
func itemKey(source, id string) []byte {
	k := make([]byte, 0, len(source)+1+len(id))
	k = append(k, source...)
	k = append(k, 0)
	return append(k, id...)
}

// publishedKeyPrefixLen is the length of a retention index key before
// the item key: the day of the item's Published, then its FirstSeen.
const publishedKeyPrefixLen = 2 * timeKeyLen

// publishedKey is the key of an item in the retention index: the UTC day
// of its Published, its FirstSeen, then its item key; the value is the
// time key of its Published. Retention and the recent index walk it a day
// at a time and read the exact time from the value.
//
// Up to schema 4 the index was keyed by the exact time, so the entries of
// a poll went in wherever their times fell: in the end-to-end benchmark's
// cold poll of 2,000 feeds, whose items spread over two days, it took
// 31,800 of the 290,000 page writes. Within a day, items are now ordered
// by when they were first stored, so a poll's new items go at the end of
// the few days they fall on, as news arriving now goes at the end of
// today.
func publishedKey(published, firstSeen time.Time, ikey []byte) []byte {
	day, seen := timeKey(published.Truncate(publishedDay)), timeKey(firstSeen)
	k := make([]byte, 0, publishedKeyPrefixLen+len(ikey))
	k = append(k, day[:]...)
	k = append(k, seen[:]...)
	return append(k, ikey...)
}

// publishedIndexFill is how full a split leaves the pages of the
// retention index: new entries come last in their day (see publishedKey),
// so a page split at bbolt's default of half would stay half empty.
const publishedIndexFill = 0.9

// publishedDay is the span of Published that the retention index groups
// items by.
const publishedDay = 24 * time.Hour

// publishedDayKey is the first key of the day of t in the retention
// index: every key of an item published at or after t is not before it.
func publishedDayKey(t time.Time) []byte {
	return timeKeyBytes(t.Truncate(publishedDay))
}

// publishedEntry splits a retention index entry into the item key and
// the time key (as a number) of its Published.
func publishedEntry(k, v []byte) (ikey []byte, pub uint64, err error) {
	if len(k) <= publishedKeyPrefixLen || len(v) != timeKeyLen {
		return nil, 0, fmt.Errorf("malformed published entry %x → %x", k, v)
	}
	return k[publishedKeyPrefixLen:], binary.BigEndian.Uint64(v), nil
}

// topicDay is the span of Published that a topic index groups stories by.
const topicDay = 24 * time.Hour

// topicKeyPrefixLen is the length of a topic index key before the story
// ID: the day, then the story's sequence number.
const topicKeyPrefixLen = timeKeyLen + 8

// topicKey is the key of a story in a topic index: the UTC day of its
// Published, its sequence number, then its ID; the value is the time key
// of its Published. Stories are numbered as they are first stored, so a
// new story's key comes after every key of its day: the index is written
// by appending at the end of the few days that new stories fall on, not by
// inserting at random (which, in a cold poll, dirtied a page of each
// topic's index per story and made the index most of the writer's work).
// Readers order the stories of a day by the values.
func topicKey(published time.Time, seq uint64, id string) []byte {
	day := timeKey(published.Truncate(topicDay))
	k := make([]byte, 0, topicKeyPrefixLen+len(id))
	k = append(k, day[:]...)
	k = binary.BigEndian.AppendUint64(k, seq)
	return append(k, id...)
}

// sourceOfKey returns the source part of an item key.
func sourceOfKey(ikey []byte) string {
	for i, c := range ikey {
		if c == 0 {
			return string(ikey[:i])
		}
	}
	return string(ikey)
}

func encodeUint64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}
