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

// topicKeyLen is the length of a topic index key: the day, then the
// story's sequence number.
const topicKeyLen = timeKeyLen + 8

// topicKey is the key of a story in a topic index: its key day (see
// storyRecord.keyDay), then its sequence number; the value is empty.
// Stories are numbered as they are first stored, so a new story's key
// comes after every key of its day: the index is written by appending at
// the end of the few days that new stories fall on, not by inserting at
// random (which, in a cold poll, dirtied a page of each topic's index per
// story).
//
// What orders the stories, their exact Published, is in the story order
// index (storyOrderKey), once for every topic a story is in. Up to schema
// 5 each topic index held it as its value and the story's ID after the
// number: a story whose Published moved within its day, as copies with
// earlier times joined it, rewrote an entry of every topic it was in, at a
// random place. In the end-to-end benchmark's cold poll that was 57,000
// rewrites, most of the topic pages the writer wrote.
func topicKey(day time.Time, seq uint64) []byte {
	d := timeKey(day.Truncate(topicDay))
	k := make([]byte, 0, topicKeyLen)
	k = append(k, d[:]...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// topicKeySeq returns the sequence number of a topic index key.
func topicKeySeq(k []byte) (uint64, error) {
	if len(k) != topicKeyLen {
		return 0, fmt.Errorf("malformed topic index key %x", k)
	}
	return binary.BigEndian.Uint64(k[timeKeyLen:]), nil
}

// storyOrderKey is the key of a story in the story order index: its
// sequence number. The value (storyOrderValue) is the time key of the
// story's Published, then its ID.
func storyOrderKey(seq uint64) []byte {
	return encodeUint64(seq)
}

// storyOrderValue is the value of a story in the story order index.
func storyOrderValue(published time.Time, id string) []byte {
	tk := timeKey(published)
	v := make([]byte, 0, timeKeyLen+len(id))
	v = append(v, tk[:]...)
	return append(v, id...)
}

// storyOrderEntry splits a story order index value into the time key of
// the story's Published and its ID.
func storyOrderEntry(v []byte) (at, id []byte, err error) {
	if len(v) <= timeKeyLen {
		return nil, nil, fmt.Errorf("malformed story order entry %x", v)
	}
	return v[:timeKeyLen], v[timeKeyLen:], nil
}

// topicKeyV4PrefixLen is the length of a schema 4 or 5 topic index key
// before the story ID: the day, then the story's sequence number.
const topicKeyV4PrefixLen = timeKeyLen + 8

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
