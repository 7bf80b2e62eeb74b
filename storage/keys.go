package storage

import (
	"encoding/binary"
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

// indexKey is a key of the topic and retention indexes: time first so a
// cursor walks in time order, the item key after it to make keys unique and
// break ties deterministically.
func indexKey(published time.Time, ikey []byte) []byte {
	tk := timeKey(published)
	k := make([]byte, 0, timeKeyLen+len(ikey))
	k = append(k, tk[:]...)
	return append(k, ikey...)
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
